#pragma once
// Flow-level evaluation of a step graph on SimGrid: the only module that touches SimGrid.
// SimGrid keeps one engine per process (its clock and configuration are global), so every
// simulation runs in a forked child and returns its timeline through a pipe.

#include <expected>
#include <string>

#include "graph/graph.hpp"

namespace moesim::sim::engine {

/// Simulates `graph` in a child process and returns every task's start and finish. Errors (the
/// child crashed, could not be forked) come back as text; nothing here exits the caller.
std::expected<Timeline, std::string> run_flow(const StepGraph& graph);

/// Simulates in THIS process. Only for a process that runs exactly one simulation (the child of
/// run_flow, or a benchmark); a second call continues the first one's clock.
Timeline run_flow_in_this_process(const StepGraph& graph);

}  // namespace moesim::sim::engine
