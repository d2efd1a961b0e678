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

AllToAllTraffic expert_all_to_all(const Fabric& f, const AllToAllSpec& a, bool pairs) {
  const int n = f.num_devices();
  const int per_node = f.spec.devices_per_node;
  const int local = a.experts / n;
  const int ports = f.num_ports();
  auto disp = std::make_shared<TrafficMatrix>(pairs ? ports : 0);
  auto comb = std::make_shared<TrafficMatrix>(pairs ? ports : 0);
  std::vector<double> disp_sent, disp_recv, comb_sent, comb_recv;
  if (!pairs) {
    for (auto* v : {&disp_sent, &disp_recv, &comb_sent, &comb_recv}) v->assign(static_cast<std::size_t>(ports), 0.0);
  }
  const double bd = token_wire_bytes(a.hidden, a.dispatch_dtype);
  const double bc = token_wire_bytes(a.hidden, a.combine_dtype);
  // Expected messages from one token to one other device / one other node.
  // With node-limited routing a token first picks M of the nodes (its own among them or not),
  // then its k experts among those nodes' experts.
  const int nodes = f.spec.nodes;
  const bool limited = a.max_nodes_per_token > 0 && a.max_nodes_per_token < nodes;
  const double node_chosen = limited ? static_cast<double>(a.max_nodes_per_token) / nodes : 1.0;
  const int pool = limited ? a.max_nodes_per_token * (a.experts / nodes) : a.experts;
  const double uniform_device =
      node_chosen * (a.algorithm == AllToAllAlgorithm::deepep_low_latency
                         ? static_cast<double>(a.top_k) * local / pool
                         : prob_hits_subset(pool, local, a.top_k));
  const double uniform_node = node_chosen * prob_hits_subset(pool, local * per_node, a.top_k);
  const bool sampled = !a.device_hit.empty();
  auto per_device = [&](int d) { return sampled ? a.device_hit[static_cast<std::size_t>(d)] : uniform_device; };
  auto per_node_hit = [&](int node) { return sampled ? a.node_hit[static_cast<std::size_t>(node)] : uniform_node; };

  // Adds `tokens` x wire bytes from port src to port dst (dispatch) and back (combine).
  auto send = [&](int src, int dst, double tokens) {
    if (src == dst || tokens <= 0) return;
    if (!pairs) {
      const auto s_ = static_cast<std::size_t>(src), d_ = static_cast<std::size_t>(dst);
      disp_sent[s_] += tokens * bd;
      disp_recv[d_] += tokens * bd;
      comb_sent[d_] += tokens * bc;
      comb_recv[s_] += tokens * bc;
      return;
    }
    disp->add(src, dst, tokens * bd);
    comb->add(dst, src, tokens * bc);
  };
  if (!pairs) {
    // The same sums without visiting every pair: O(devices x devices per node).
    auto add_sent = [&](int port, double tokens) {
      disp_sent[static_cast<std::size_t>(port)] += tokens * bd;
      comb_recv[static_cast<std::size_t>(port)] += tokens * bc;
    };
    auto add_recv = [&](int port, double tokens) {
      disp_recv[static_cast<std::size_t>(port)] += tokens * bd;
      comb_sent[static_cast<std::size_t>(port)] += tokens * bc;
    };
    auto tok = [&](int d) { return a.tokens[static_cast<std::size_t>(d)]; };
    std::vector<double> t_node(static_cast<std::size_t>(nodes), 0.0), h_node(t_node),
        t_local(static_cast<std::size_t>(per_node), 0.0);
    double t_all = 0, h_all = 0;
    for (int d = 0; d < n; ++d) {
      t_node[static_cast<std::size_t>(f.spec.node_of(d))] += tok(d);
      h_node[static_cast<std::size_t>(f.spec.node_of(d))] += per_device(d);
      t_local[static_cast<std::size_t>(f.spec.local_index(d))] += tok(d);
      t_all += tok(d);
      h_all += per_device(d);
    }
    for (int node = 0; node < nodes; ++node) {
      for (int i = 0; i < per_node; ++i) {
        for (int j = 0; j < per_node; ++j) {
          if (i != j) send(node * per_node + i, node * per_node + j, tok(node * per_node + i) * per_device(node * per_node + j));
        }
      }
    }
    for (int d = 0; d < n; ++d) {
      const auto m = static_cast<std::size_t>(f.spec.node_of(d));
      if (a.algorithm != AllToAllAlgorithm::deepep_normal) {
        add_sent(f.nic_port(d), tok(d) * (h_all - h_node[m]));
        add_recv(f.nic_port(d), per_device(d) * (t_all - t_node[m]));
        continue;
      }
      // d as a relay: tokens of other nodes' GPUs with its local index, for the rest of its node;
      // d as a destination: tokens relayed by the other GPUs of its node.
      const auto li = static_cast<std::size_t>(f.spec.local_index(d));
      const double same_index_elsewhere = t_local[li] - tok(d);
      add_sent(d, same_index_elsewhere * (h_node[m] - per_device(d)));
      add_recv(d, per_device(d) * ((t_all - t_node[m]) - same_index_elsewhere));
      for (int node = 0; node < nodes; ++node) {
        if (node == static_cast<int>(m)) continue;
        send(f.nic_port(d), f.nic_port(node * per_node + static_cast<int>(li)), tok(d) * per_node_hit(node));
      }
    }
    *disp = TrafficMatrix::port_sums(std::move(disp_sent), std::move(disp_recv));
    *comb = TrafficMatrix::port_sums(std::move(comb_sent), std::move(comb_recv));
    disp->token_messages = comb->token_messages = a.algorithm == AllToAllAlgorithm::deepep_low_latency;
    return {disp, comb};
  }
  for (int s = 0; s < n; ++s) {
    const double t = a.tokens[static_cast<std::size_t>(s)];
    const int node_s = f.spec.node_of(s);
    for (int d = 0; d < n; ++d) {
      if (d == s) continue;
      const int node_d = f.spec.node_of(d);
      if (node_d == node_s) {
        send(s, d, t * per_device(d));  // over the node's switch
        continue;
      }
      if (a.algorithm != AllToAllAlgorithm::deepep_normal) {
        send(f.nic_port(s), f.nic_port(d), t * per_device(d));
        continue;
      }
      // Forwarded: the relay is the GPU of node_d with s's local index; it receives each token
      // once per node over RDMA (counted once, below) and hands it to d over NVLink.
      const int relay = node_d * per_node + f.spec.local_index(s);
      if (d != relay) send(relay, d, t * per_device(d));
    }
    if (a.algorithm == AllToAllAlgorithm::deepep_normal) {
      for (int node = 0; node < nodes; ++node) {
        if (node == node_s) continue;
        const int relay = node * per_node + f.spec.local_index(s);
        send(f.nic_port(s), f.nic_port(relay), t * per_node_hit(node));
      }
    }
  }
  disp->finalize();
  comb->finalize();
  disp->token_messages = comb->token_messages = a.algorithm == AllToAllAlgorithm::deepep_low_latency;
  return {disp, comb};
}

}  // namespace moesim::sim
