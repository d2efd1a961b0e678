#pragma once
// One sweep, regress or plan point in a worker process: what `moesim run SCENARIO --json --out
// OUT [--fidelity F] [--uncertainty N]` does, as a function that `moesim` and `moesim-mpi` register with
// set_point_runner (it links the flow engine, which the moesim_tools library does not).

#include <string>

#include "input/scenario.hpp"
#include "workloads/simulate.hpp"

namespace moesim::tools {

/// The SimGrid flow engine under the scenario's limits (its "limits": flow_time, flow_memory).
sim::FlowEvaluator flow_engine(const sim::Limits& limits);

/// Simulates the scenario file and writes its report JSON to `out`; problems and failures go
/// to standard error. Exit codes as `moesim run`: 0 ok, 1 invalid input, 3 infeasible (the
/// report is written), 4 the simulator failed.
/// With `uncertainty` > 0 the report carries intervals from that many samples (one thread: the
/// points themselves run in parallel).
int run_point(const std::string& scenario, const std::string& fidelity, int uncertainty, const std::string& out);

}  // namespace moesim::tools
