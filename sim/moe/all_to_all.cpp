#include "moe/all_to_all.hpp"

namespace moesim::sim {

double token_wire_bytes(int hidden, hw::DType dtype) {
  const double payload = hidden * hw::dtype_bytes(dtype);
  if (dtype == hw::DType::fp8) return payload + 4.0 * ((hidden + 127) / 128);
  return payload;
}

double prob_hits_subset(int experts, int subset, int k) {
  if (subset >= experts) return 1.0;
  if (subset <= 0) return 0.0;
  double miss = 1.0;
  for (int i = 0; i < k; ++i) {
    miss *= static_cast<double>(experts - subset - i) / static_cast<double>(experts - i);
    if (miss <= 0) return 1.0;
  }
  return 1.0 - miss;
}

namespace {

// The traffic of one dispatch and one combine, built either pair by pair (the flow engine) or as
// per-port sums without visiting every pair (the closed form).
class AllToAllBuilder {
 public:
  AllToAllBuilder(const Fabric& f, const AllToAllSpec& a, bool pairs)
      : f_(f), a_(a), pairs_(pairs), n_(f.num_devices()), per_node_(f.spec.devices_per_node), nodes_(f.spec.nodes),
        ports_(f.num_ports()), bd_(token_wire_bytes(a.hidden, a.dispatch_dtype)),
        bc_(token_wire_bytes(a.hidden, a.combine_dtype)),
        disp_(std::make_shared<TrafficMatrix>(pairs ? ports_ : 0)),
        comb_(std::make_shared<TrafficMatrix>(pairs ? ports_ : 0)), sampled_(!a.device_hit.empty()),
        pxn_((f.spec.pxn && a.algorithm == AllToAllAlgorithm::direct) ||
             (f.spec.multi_plane && a.algorithm != AllToAllAlgorithm::deepep_normal)) {
    uniform_hits();
  }

  AllToAllTraffic build() {
    if (pairs_) {
      pair_by_pair();
      disp_->finalize();
      comb_->finalize();
    } else {
      port_sums();
    }
    disp_->token_messages = comb_->token_messages = a_.algorithm == AllToAllAlgorithm::deepep_low_latency;
    return {disp_, comb_};
  }

 private:
  // Expected messages from one token to one other device / one other node under uniform routing
  // over contiguously placed experts. With node-limited routing a token first picks M of the
  // nodes (its own among them or not), then its k experts among those nodes' experts.
  void uniform_hits() {
    const int local = a_.experts / n_;
    const bool limited = a_.max_nodes_per_token > 0 && a_.max_nodes_per_token < nodes_;
    const double node_chosen = limited ? static_cast<double>(a_.max_nodes_per_token) / nodes_ : 1.0;
    const int pool = limited ? a_.max_nodes_per_token * (a_.experts / nodes_) : a_.experts;
    uniform_device_ = node_chosen * (a_.algorithm == AllToAllAlgorithm::deepep_low_latency
                                         ? static_cast<double>(a_.top_k) * local / pool
                                         : prob_hits_subset(pool, local, a_.top_k));
    uniform_node_ = node_chosen * prob_hits_subset(pool, local * per_node_, a_.top_k);
  }

  double per_device(int d) const { return sampled_ ? a_.device_hit[static_cast<std::size_t>(d)] : uniform_device_; }
  double per_node_hit(int node) const { return sampled_ ? a_.node_hit[static_cast<std::size_t>(node)] : uniform_node_; }
  double tok(int d) const { return a_.tokens[static_cast<std::size_t>(d)]; }

  // Adds `tokens` x wire bytes from port src to port dst (dispatch) and back (combine): as a
  // pair, or into the per-port sums.
  void send(int src, int dst, double tokens) {
    if (src == dst || tokens <= 0) return;
    disp_->add(src, dst, tokens * bd_);
    comb_->add(dst, src, tokens * bc_);
  }
  void send_sums(int src, int dst, double tokens) {
    if (src == dst || tokens <= 0) return;
    const auto s = static_cast<std::size_t>(src), d = static_cast<std::size_t>(dst);
    disp_sent_[s] += tokens * bd_;
    disp_recv_[d] += tokens * bd_;
    comb_sent_[d] += tokens * bc_;
    comb_recv_[s] += tokens * bc_;
  }
  void add_sent(int port, double tokens) {
    disp_sent_[static_cast<std::size_t>(port)] += tokens * bd_;
    comb_recv_[static_cast<std::size_t>(port)] += tokens * bc_;
  }
  void add_recv(int port, double tokens) {
    disp_recv_[static_cast<std::size_t>(port)] += tokens * bd_;
    comb_sent_[static_cast<std::size_t>(port)] += tokens * bc_;
  }

  // Every (source, destination) pair: over the node's switch inside a node; across nodes NIC to
  // NIC, or (DeepEP normal) once per destination node to the GPU with the sender's local index,
  // which forwards over NVLink.
  void pair_by_pair() {
    for (int s = 0; s < n_; ++s) {
      const double t = tok(s);
      const int node_s = f_.spec.node_of(s);
      for (int d = 0; d < n_; ++d) {
        if (d == s) continue;
        const int node_d = f_.spec.node_of(d);
        if (node_d == node_s) {
          send(s, d, t * per_device(d));
          continue;
        }
        if (pxn_ && f_.spec.local_index(d) != f_.spec.local_index(s)) {
          // PXN: over NVLink to the node-mate on d's rail, then over that rail.
          const int mate = node_s * per_node_ + f_.spec.local_index(d);
          send(s, mate, t * per_device(d));
          send(f_.nic_port(mate), f_.nic_port(d), t * per_device(d));
          continue;
        }
        if (a_.algorithm != AllToAllAlgorithm::deepep_normal) {
          send(f_.nic_port(s), f_.nic_port(d), t * per_device(d));
          continue;
        }
        // The relay receives each token once per node over RDMA (counted once, below).
        const int relay = node_d * per_node_ + f_.spec.local_index(s);
        if (d != relay) send(relay, d, t * per_device(d));
      }
      if (a_.algorithm == AllToAllAlgorithm::deepep_normal) {
        for (int node = 0; node < nodes_; ++node) {
          if (node == node_s) continue;
          const int relay = node * per_node_ + f_.spec.local_index(s);
          send(f_.nic_port(s), f_.nic_port(relay), t * per_node_hit(node));
        }
      }
    }
  }

  // The same sums without visiting every pair: O(devices x devices per node).
  void port_sums() {
    for (auto* v : {&disp_sent_, &disp_recv_, &comb_sent_, &comb_recv_}) v->assign(static_cast<std::size_t>(ports_), 0.0);
    std::vector<double> t_node(static_cast<std::size_t>(nodes_), 0.0), h_node(t_node),
        t_local(static_cast<std::size_t>(per_node_), 0.0);
    double t_all = 0, h_all = 0;
    // Each device's node, index in it and NIC port, once (integer divisions were a good part of
    // this function's time).
    std::vector<int> node_of(static_cast<std::size_t>(n_)), index_of(node_of), nic_of(node_of);
    for (int d = 0; d < n_; ++d) {
      const auto k = static_cast<std::size_t>(d);
      node_of[k] = f_.spec.node_of(d);
      index_of[k] = f_.spec.local_index(d);
      nic_of[k] = f_.num_nics() > 0 ? f_.nic_port(d) : -1;
    }
    for (int d = 0; d < n_; ++d) {
      t_node[static_cast<std::size_t>(node_of[static_cast<std::size_t>(d)])] += tok(d);
      h_node[static_cast<std::size_t>(node_of[static_cast<std::size_t>(d)])] += per_device(d);
      t_local[static_cast<std::size_t>(index_of[static_cast<std::size_t>(d)])] += tok(d);
      t_all += tok(d);
      h_all += per_device(d);
    }
    // Inside each node, device pairs over the switch: device i sends its tokens' hits on each
    // node-mate (and receives them back in the combine), and receives each node-mate's tokens'
    // hits on itself. Sums over the node-mates are the node's sums without i, taken as the sum
    // before i plus the sum after it (no cancellation): O(devices), not O(devices x per node).
    std::vector<double> tok_after(static_cast<std::size_t>(per_node_) + 1), hit_after(tok_after);
    for (int node = 0; node < nodes_; ++node) {
      const int base = node * per_node_;
      tok_after[static_cast<std::size_t>(per_node_)] = hit_after[static_cast<std::size_t>(per_node_)] = 0;
      for (int i = per_node_ - 1; i >= 0; --i) {
        tok_after[static_cast<std::size_t>(i)] = tok_after[static_cast<std::size_t>(i) + 1] + tok(base + i);
        hit_after[static_cast<std::size_t>(i)] = hit_after[static_cast<std::size_t>(i) + 1] + per_device(base + i);
      }
      double tok_before = 0, hit_before = 0;
      for (int i = 0; i < per_node_; ++i) {
        const auto s = static_cast<std::size_t>(base + i);
        const double out = tok(base + i) * (hit_before + hit_after[static_cast<std::size_t>(i) + 1]);
        const double in = per_device(base + i) * (tok_before + tok_after[static_cast<std::size_t>(i) + 1]);
        disp_sent_[s] += out * bd_;
        comb_recv_[s] += out * bc_;
        disp_recv_[s] += in * bd_;
        comb_sent_[s] += in * bc_;
        tok_before += tok(base + i);
        hit_before += per_device(base + i);
      }
    }
    std::vector<double> h_local(static_cast<std::size_t>(per_node_), 0.0);
    for (int d = 0; d < n_; ++d) h_local[static_cast<std::size_t>(index_of[static_cast<std::size_t>(d)])] += per_device(d);
    for (int d = 0; d < n_; ++d) {
      const auto m = static_cast<std::size_t>(node_of[static_cast<std::size_t>(d)]);
      const int nic = nic_of[static_cast<std::size_t>(d)];
      if (f_.num_nics() == 0) continue;  // one node without a scale-out network: nothing leaves it
      if (pxn_) {
        // d's NIC carries, to d's rail in other nodes, the tokens of every device of its node (its
        // own directly, its node-mates' after an NVLink hop to d); it receives as without PXN.
        // The NVLink hop: d sends its tokens for other rails' remote devices to the node-mates
        // on those rails, and receives its node-mates' tokens for its own rail's remote devices.
        const auto li = static_cast<std::size_t>(index_of[static_cast<std::size_t>(d)]);
        const double rail_elsewhere = h_local[li] - per_device(d);
        add_sent(nic, t_node[m] * rail_elsewhere);
        add_recv(nic, per_device(d) * (t_all - t_node[m]));
        add_sent(d, tok(d) * ((h_all - h_node[m]) - rail_elsewhere));
        add_recv(d, (t_node[m] - tok(d)) * rail_elsewhere);
        continue;
      }
      if (a_.algorithm != AllToAllAlgorithm::deepep_normal) {
        add_sent(nic, tok(d) * (h_all - h_node[m]));
        add_recv(nic, per_device(d) * (t_all - t_node[m]));
        continue;
      }
      // d as a relay: tokens of other nodes' GPUs with its local index, for the rest of its node;
      // d as a destination: tokens relayed by the other GPUs of its node.
      const auto li = static_cast<std::size_t>(index_of[static_cast<std::size_t>(d)]);
      const double same_index_elsewhere = t_local[li] - tok(d);
      add_sent(d, same_index_elsewhere * (h_node[m] - per_device(d)));
      add_recv(d, per_device(d) * ((t_all - t_node[m]) - same_index_elsewhere));
      for (int node = 0; node < nodes_; ++node) {
        if (node == static_cast<int>(m)) continue;
        send_sums(nic, nic_of[static_cast<std::size_t>(node * per_node_) + li], tok(d) * per_node_hit(node));
      }
    }
    *disp_ = TrafficMatrix::port_sums(std::move(disp_sent_), std::move(disp_recv_));
    *comb_ = TrafficMatrix::port_sums(std::move(comb_sent_), std::move(comb_recv_));
  }

  const Fabric& f_;
  const AllToAllSpec& a_;
  bool pairs_;
  int n_, per_node_, nodes_, ports_;
  double bd_, bc_;  // wire bytes of one token, dispatch and combine
  double uniform_device_ = 0, uniform_node_ = 0;
  std::shared_ptr<TrafficMatrix> disp_, comb_;
  bool sampled_ = false;  // hit figures from the routing draw (else uniform)
  bool pxn_ = false;      // cross-rail tokens forwarded over NVLink (PXN, or a multi-plane fabric)
  std::vector<double> disp_sent_, disp_recv_, comb_sent_, comb_recv_;  // port sums
};

}  // namespace

AllToAllTraffic expert_all_to_all(const Fabric& f, const AllToAllSpec& a, bool pairs) {
  return AllToAllBuilder(f, a, pairs).build();
}

}  // namespace moesim::sim
