#pragma once
// Flow-level evaluation of a step graph on SimGrid: the only module that touches SimGrid.
// SimGrid keeps one engine per process (its clock and configuration are global), so every
// simulation runs in a forked child and returns its timeline through a pipe.

#include <expected>
#include <string>

#include "graph/graph.hpp"

namespace moesim::sim::engine {

/// What one simulation may use (a scenario's "limits", docs/scenario.md): past either, the child
/// is killed and run_flow says which limit it passed and the key that raises it.
struct FlowLimits {
  double time_s = 600;      ///< wall-clock seconds; 0: none
  double memory_bytes = 0;  ///< resident memory; 0: half of this machine's physical memory
  /// Run SimGrid even where no resource is shared (shared_resource): by default the closed form,
  /// which is then the same timeline, stands in for it.
  bool always_simulate = false;
};

/// Simulates `graph` in a child process and returns every task's start and finish; where no link
/// or device is shared (shared_resource), and `limits.always_simulate` is off, the closed form
/// gives them instead, without a child. Errors (the
/// child crashed, could not be forked, passed a limit) come back as text; nothing here exits
/// the caller or waits on a child forever.
std::expected<Timeline, std::string> run_flow_within(const StepGraph& graph, const FlowLimits& limits);
/// run_flow_within the default limits.
inline std::expected<Timeline, std::string> run_flow(const StepGraph& graph) { return run_flow_within(graph, FlowLimits{}); }

/// Simulates in THIS process. Only for a process that runs exactly one simulation (the child of
/// run_flow, or a benchmark); a second call continues the first one's clock.
Timeline run_flow_in_this_process(const StepGraph& graph);

}  // namespace moesim::sim::engine
