#pragma once
// How far a run is covered by the project's validation cases (data/validation/cases.json,
// compiled in): the end-to-end cases on the same device class, model family and workload, with
// moesim's current error on each (the validation tests keep those errors current).

#include "input/input.hpp"
#include "report/report.hpp"

namespace moesim::sim {

/// "validated: within X% on N similar cases (...)" when such cases exist, else "extrapolated: no
/// validated case for this <what is missing>" with the nearest cases that share two of the three.
Report::Validation validation_of(const Scenario& s);

}  // namespace moesim::sim
