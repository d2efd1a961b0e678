#pragma once
// Inside sim/input/: the checks across the sections of a scenario whose sections each read
// cleanly (degrees against the cluster and the model, the workload against the model), each
// error at the JSON pointer to fix.

#include "diagnostics.hpp"
#include "input/scenario.hpp"

namespace moesim::sim {

/// What this version simulates; the rest of scenario v1 is recognised and refused clearly.
inline constexpr const char* kNotYet = "is part of scenario v1 but not simulated by this version of moesim";

void check_consistency(const Scenario& scenario, Diagnostics& diag);

}  // namespace moesim::sim
