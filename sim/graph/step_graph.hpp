#pragma once
// One simulated step as a dependency graph of tasks: compute kernels on one device, and
// collectives (a device-to-device traffic matrix moved as one parallel transfer). The same graph
// is evaluated in closed form (analytic fidelity) or on SimGrid (flow fidelity).

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fabric.hpp"

namespace moesim::sim {

/// Report phases; every task belongs to one.
/// What a task of the step does. The compute phases are kernel classes named as `moesim fit
/// --trace` names them (docs/cost-model.md): attention is the attention kernel itself (flash /
/// MLA over the KV cache), attention_proj its QKV / MLA and output projections; loss is
/// training's softmax cross-entropy over the logits, engine a
/// serving engine's fixed time (scheduler, launch gaps), other the idle time between tasks.
enum class Phase {
  attention, attention_proj, gate, router, dispatch, experts, combine, shared_expert, dense_mlp,
  activation, rmsnorm, rotary, kv_write, residual, permute_unpermute, cast_transpose, lm_head,
  sampling, loss, engine, pipeline, kv_transfer, other
};
inline constexpr int kNumPhases = 23;
const char* phase_name(Phase p);
/// Whether a phase can lie on a step's critical path: background traffic (kv_transfer: a
/// disaggregated run's KV caches arriving during decode) never holds a step, so reports list it
/// under contention and links, not among the step's phases.
inline bool is_step_phase(Phase p) { return p != Phase::kv_transfer; }

/// Bytes moved between ports in one collective. Ports are the fabric's endpoints (see Fabric):
/// each device's scale-up port, then each NIC. Bytes between two scale-up ports cross the node's
/// switch; bytes between two NIC ports cross the scale-out network. Sparse: only the pairs that
/// move bytes are stored (a dense port x port matrix per layer was most of the memory and time of
/// large flow runs).
struct TrafficMatrix {
  struct Entry {
    int src = 0;
    int dst = 0;
    double bytes = 0;
  };
  int n = 0;
  /// Moved as one message per (token, expert) copy (DeepEP low-latency kernels): ports run at
  /// their links' per-token-message rate and pay their message overhead (hw::Link).
  bool token_messages = false;

  explicit TrafficMatrix(int ports) : n(ports) {}
  /// A matrix that keeps only what the closed-form evaluator needs: bytes sent and received per
  /// port (no pairs; the flow engine refuses it). Already final.
  static TrafficMatrix port_sums(std::vector<double> sent, std::vector<double> received);
  bool has_pairs() const { return !sums_only_; }
  /// Adds bytes from src to dst (repeated pairs accumulate in the order they are added).
  void add(int src, int dst, double bytes) { entries_.push_back({src, dst, bytes}); }
  /// Bytes from src to dst.
  double at(int src, int dst) const;
  /// The pairs with bytes; after finalize(): one entry per pair, sorted by (src, dst).
  const std::vector<Entry>& entries() const { return entries_; }
  /// Bytes port d sends / receives (O(1) once final).
  double sent_by(int d) const { return final_ ? sent_[static_cast<std::size_t>(d)] : sum_sent_by(d); }
  double received_by(int d) const { return final_ ? received_[static_cast<std::size_t>(d)] : sum_received_by(d); }
  double total() const;
  /// Calls f(port, sent, received) for each port below `most` (and n), from the cached sums once
  /// final: the hot loops over a step's collectives.
  template <class F>
  void for_each_port(std::size_t most, F&& f) const {
    const std::size_t count = std::min(static_cast<std::size_t>(n), most);
    for (std::size_t p = 0; p < count; ++p) {
      if (final_) {
        f(p, sent_[p], received_[p]);
      } else {
        f(p, sum_sent_by(static_cast<int>(p)), sum_received_by(static_cast<int>(p)));
      }
    }
  }
  /// Merges repeated pairs and caches the per-port sums so the queries above are O(1) (at() is
  /// a binary search); call once the matrix is final. Sums are taken in row-major order, as over
  /// the dense matrix.
  void finalize();
  /// max over ports of max(sent, received): what the busiest port must carry.
  double busiest_port_bytes() const;

 private:
  double sum_sent_by(int d) const;
  double sum_received_by(int d) const;

  std::vector<Entry> entries_;
  bool sums_only_ = false;
  bool final_ = false;
  std::vector<double> sent_, received_;  // per-port sums, filled by finalize()
  double total_ = 0;
  double busiest_ = 0;
};

/// `src` moved onto `ports` ports, `copies` times over: port p of copy c becomes `to(p, c)`,
/// the copies summed into one matrix (pairs kept, or per-port sums, as `src` has them). Zero
/// entries are dropped. Used to place a part's traffic on a whole fabric.
std::shared_ptr<TrafficMatrix> remap_ports(const TrafficMatrix& src, int ports, int copies,
                                           const std::function<int(int port, int copy)>& to);

/// A node of the step graph.
struct Task {
  Phase phase = Phase::other;
  int layer = -1;              ///< -1 for per-step work (embedding, lm head)
  // Compute task (traffic == nullptr): runs for `seconds` on each of the `device_count` devices
  // from `device` on, all at once (identical devices doing identical work share one task).
  int device = -1;
  int device_count = 1;
  double seconds = 0;
  double slowdown = 1;         ///< a straggler among its devices: seconds includes this factor
  double flops = 0;
  double bytes = 0;            ///< memory traffic of the kernel
  double watts = 0;            ///< power of each of its devices while it runs (cost model)
  // Collective task: all `traffic.n` devices take part.
  std::shared_ptr<const TrafficMatrix> traffic;
  std::vector<int> deps;       ///< indices of tasks that must finish first
  /// Starts no earlier than this (seconds from the graph's start), as well as after its deps.
  double release_s = 0;
  /// Traffic beside the step (a collective): it shares links with the step's own collectives but
  /// holds nothing; no foreground task depends on it, and the makespan and the critical path are
  /// the foreground tasks'.
  bool background = false;

  bool is_collective() const { return traffic != nullptr; }
};

/// The ports collectives use. Port p < num_devices() is device p's scale-up port into its node's
/// switch; port num_devices() + node * nics_per_node + i is NIC i of that node, a port into the
/// scale-out network. Both networks are non-blocking: contention happens at ports.
struct Fabric {
  hw::FabricSpec spec;

  int num_devices() const { return spec.num_devices(); }
  int num_nics() const { return spec.has_scale_out ? spec.nodes * spec.nics_per_node : 0; }
  int num_ports() const { return num_devices() + num_nics(); }
  bool is_nic(int port) const { return port >= num_devices(); }
  /// The NIC port a device's scale-out traffic uses.
  int nic_port(int device) const {
    return num_devices() + spec.node_of(device) * spec.nics_per_node + spec.nic_of(device);
  }
  const hw::Link& port_link(int port) const { return is_nic(port) ? spec.scale_out : spec.scale_up; }
  /// Achievable bytes per second through `port` in each direction, for bulk transfers or for
  /// per-token messages.
  double port_bandwidth(int port, bool token_messages = false) const {
    return (token_messages ? port_link(port).message_bandwidth() : port_link(port).effective_bandwidth()) *
           port_speed(port);
  }
  /// The fraction of its link's bandwidth a port runs at (cluster.degraded; 0 when failed).
  double port_speed(int port) const {
    return is_nic(port) ? spec.nic_speed_of(port - num_devices()) : spec.device_speed_of(port);
  }
  /// End-to-end latency of one message between two ports of this port's network; a per-token
  /// message collective adds its link's message overhead.
  double port_latency(int port, bool token_messages = false) const {
    return port_link(port).latency_s + (token_messages ? port_link(port).message_overhead_s : 0.0);
  }
  /// Phones on one Wi-Fi cell: the devices' ports are stations that share the air (one medium),
  /// and every byte between two stations is relayed by the access point, so it crosses the air
  /// twice: up at the sender's rate, down at the receiver's (docs/phones.md).
  bool wireless() const { return spec.scale_up.link_class == "wireless"; }
  /// Seconds of air a station needs to send `sent` and receive `received` bytes at its rate.
  double airtime(int port, double sent, double received) const {
    return (sent + received) / port_bandwidth(port);
  }
};

struct StepGraph {
  int num_devices = 0;
  /// The devices whose step this is, [first_step_device, first_step_device + step_devices): all
  /// of them (step_devices < 0) unless the graph was placed in a larger cluster (place_in), whose
  /// other devices run nothing and count for no energy.
  int first_step_device = 0;
  int step_devices = -1;
  int step_device_count() const { return step_devices < 0 ? num_devices : step_devices; }
  /// Whether a fabric port is one of the step's: a step device's scale-up port, or a NIC of a node
  /// whose devices are the step's.
  bool is_step_port(int port) const {
    const int dev = fabric.is_nic(port) ? (port - fabric.num_devices()) / fabric.spec.nics_per_node * fabric.spec.devices_per_node
                                        : port;
    return dev >= first_step_device && dev < first_step_device + step_device_count();
  }
  double idle_w = 0;           ///< power of a device that runs no kernel during the step (each device)
  Fabric fabric;
  std::vector<Task> tasks;     ///< topologically ordered: deps always point backwards

  int add(Task t);
};

/// Start and finish of every task of a graph, from either evaluator.
struct Timeline {
  std::vector<double> start;
  std::vector<double> finish;
  double makespan = 0;         ///< the last foreground task's finish (background tasks may end later)
  long long events = 0;        ///< simulation events (activities completed)
  /// Device energy over [0, makespan] as the evaluator measured it (the flow engine: SimGrid's
  /// host energy plugin); negative when the evaluator does not measure energy.
  double energy_j = -1;
  /// What computed it: "closed form", "SimGrid", or the closed form standing in for SimGrid
  /// where it is exact (see shared_resource).
  std::string evaluator;
};

/// The first resource two tasks of `graph` use at once in `closed_form` (its closed-form
/// timeline): a port direction carrying two collectives, a device running two kernels, or a link
/// beyond the ports that collectives can share (a spine that can bind, a Wi-Fi cell's air).
/// Empty when there is none: every task then has its resources to itself, so the flow engine,
/// which differs from the closed form only by sharing them, gives this same timeline
/// (docs/models.md, "When flow equals the closed form").
std::string shared_resource(const StepGraph& graph, const Timeline& closed_form);

/// The evaluator a flow timeline names when the closed form stood in for SimGrid.
inline constexpr const char* kClosedFormStandIn =
    "closed form: no link or device is used by two tasks at once, so flow fidelity gives the same timeline";

/// Closed-form duration of a collective on `fabric`: the longest time any port needs for its
/// bytes (the larger of sent and received, over its bandwidth) plus its network's latency, both
/// for per-token messages when the traffic is (TrafficMatrix::token_messages). On a Wi-Fi cell
/// (Fabric::wireless) the stations share one medium: the sum of every station's airtime plus the
/// latency.
double collective_seconds(const TrafficMatrix& traffic, const Fabric& fabric);

/// Every port's bandwidth and latency on a fabric, for bulk transfers and for per-token messages
/// (Fabric::port_bandwidth, Fabric::port_latency), computed once for the many collectives of a
/// step.
struct PortRates {
  explicit PortRates(const Fabric& fabric);
  std::vector<double> bandwidth[2], latency[2];  ///< [token_messages][port]
};

/// collective_seconds with the fabric's port rates already computed (the same value).
double collective_seconds(const TrafficMatrix& traffic, const Fabric& fabric, const PortRates& rates);

/// One direction of one link and the time its bytes need at its capacity, summed over
/// collectives (see link_busy).
struct LinkBusy {
  std::string link;   ///< "dev3 port up", "node1 NIC 2 port down", "leaf0 uplink up", "rail3 uplink 1 down"
  std::string link_class;  ///< "scale_up", "scale_out", "spine"
  double bytes = 0;
  double busy_s = 0;  ///< bytes / capacity
};

/// Each port's bytes over the collectives from task `first` on, summed once for the reports that
/// need them (link_busy; the link classes' utilisation): sent and received per rate class
/// ([token_messages]; none on Wi-Fi, whose stations share the air instead), and over every
/// collective the bytes each port sends and those of its larger direction.
struct PortTotals {
  std::vector<double> sent[2], received[2];
  std::vector<double> sent_any, larger;
};
PortTotals port_totals(const StepGraph& graph, std::size_t first);

/// Every link direction the collectives from task `first` on load, busiest first: each device's
/// and NIC's port (sent bytes up, received bytes down) and, on a fabric whose leaves or rails meet
/// at a spine, each one's uplink bundle (ECMP: each uplink) for the bytes between groups, at the
/// flow engine's capacities. Links that carry nothing are left out. A link busy longer than the
/// step is one the closed form (the busiest port alone) under-prices; the flow engine shares it.
/// The `most` busiest only (ties in the order above).
std::vector<LinkBusy> link_busy(const StepGraph& graph, std::size_t first,
                                std::size_t most = std::numeric_limits<std::size_t>::max());
/// The same with the ports' totals already summed (port_totals(graph, first)).
std::vector<LinkBusy> link_busy(const StepGraph& graph, const PortTotals& totals, std::size_t first,
                                std::size_t most);

/// Energy of the graph's devices over [t0, t1] of `timeline`: every device at idle power, plus,
/// for each compute task, its power above idle on its devices for the part of it inside the
/// window. Collectives add nothing here (devices wait at idle; link energy is separate).
double device_energy(const StepGraph& graph, const Timeline& timeline, double t0, double t1);

/// The highest power any device draws in the graph (idle when no kernel runs).
double peak_device_watts(const StepGraph& graph);

/// Moves a graph built for a part of a cluster (nodes [first_node, first_node + its nodes) of
/// `whole`, with the same devices and NICs per node) onto the whole cluster's fabric: its tasks'
/// devices and its collectives' ports are renumbered, the rest of the cluster's devices run nothing.
void place_in(StepGraph& graph, const Fabric& whole, int first_node);

/// Evaluates the graph in closed form: each task starts when its last dependency finishes (and
/// not before its release time).
Timeline evaluate_analytic(const StepGraph& graph);

/// Per-phase time along the critical path (the chain of tasks, each started by the latest-finishing
/// dependency, that ends at the makespan). Sums to the makespan.
std::vector<double> critical_path_phases(const StepGraph& graph, const Timeline& timeline);

}  // namespace moesim::sim
