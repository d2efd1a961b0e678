#pragma once
// One simulated step as a dependency graph of tasks: compute kernels on one device, and
// collectives (a device-to-device traffic matrix moved as one parallel transfer). The same graph
// is evaluated in closed form (analytic fidelity) or on SimGrid (flow fidelity).

#include <memory>
#include <string>
#include <vector>

namespace moesim::sim {

/// Report phases; every task belongs to one.
enum class Phase { attention, gate, dispatch, experts, combine, shared_expert, dense_mlp, other };
inline constexpr int kNumPhases = 8;
const char* phase_name(Phase p);

/// Bytes each device sends to each other device in one collective; row = source.
struct TrafficMatrix {
  int n = 0;
  std::vector<double> bytes;  ///< n * n, bytes[src * n + dst]

  explicit TrafficMatrix(int devices) : n(devices), bytes(static_cast<std::size_t>(devices) * devices, 0.0) {}
  double& at(int src, int dst) { return bytes[static_cast<std::size_t>(src) * n + dst]; }
  double at(int src, int dst) const { return bytes[static_cast<std::size_t>(src) * n + dst]; }
  double sent_by(int d) const;
  double received_by(int d) const;
  double total() const;
  /// max over devices of max(sent, received): what the busiest port must carry.
  double busiest_port_bytes() const;
};

/// A node of the step graph.
struct Task {
  Phase phase = Phase::other;
  int layer = -1;              ///< -1 for per-step work (embedding, lm head)
  // Compute task (traffic == nullptr): runs on `device` for `seconds` at nominal speed.
  int device = -1;
  double seconds = 0;
  double flops = 0;
  double bytes = 0;            ///< memory traffic of the kernel
  // Collective task: all `traffic.n` devices take part.
  std::shared_ptr<const TrafficMatrix> traffic;
  std::vector<int> deps;       ///< indices of tasks that must finish first

  bool is_collective() const { return traffic != nullptr; }
};

/// The fabric a collective crosses. In this version: one node, every device with its own
/// full-duplex port into a non-blocking switch (NVSwitch star or PCIe switch).
struct Fabric {
  int num_devices = 0;
  double port_bandwidth = 0;   ///< achievable B/s per direction per device
  double latency_s = 0;        ///< one message, end to end
};

struct StepGraph {
  int num_devices = 0;
  Fabric fabric;
  std::vector<Task> tasks;     ///< topologically ordered: deps always point backwards

  int add(Task t);
};

/// Start and finish of every task of a graph, from either evaluator.
struct Timeline {
  std::vector<double> start;
  std::vector<double> finish;
  double makespan = 0;
  long long events = 0;        ///< simulation events (activities completed)
};

/// Closed-form duration of a collective on `fabric`: the busiest port's bytes over its bandwidth,
/// plus one latency.
double collective_seconds(const TrafficMatrix& traffic, const Fabric& fabric);

/// Evaluates the graph in closed form: each task starts when its last dependency finishes.
Timeline evaluate_analytic(const StepGraph& graph);

/// Per-phase time along the critical path (the chain of tasks, each started by the latest-finishing
/// dependency, that ends at the makespan). Sums to the makespan.
std::vector<double> critical_path_phases(const StepGraph& graph, const Timeline& timeline);

}  // namespace moesim::sim
