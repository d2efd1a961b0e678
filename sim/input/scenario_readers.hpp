#pragma once
// Inside sim/input/: the scenario readers scenario.cpp and workload_reader.cpp share. Each reads
// one key or section through an ObjectReader (problems at their JSON pointers), fills the
// scenario and reports what it could not use.

#include <optional>
#include <string>

#include "input/scenario.hpp"
#include "json_reader.hpp"

namespace moesim::sim {

/// A fraction in (0, 1] at `key` (nullopt when absent or bad); out of range is an error whose
/// hint says what the fraction means.
std::optional<double> read_fraction(ObjectReader& r, const std::string& key, const std::string& meaning);

/// A catalog link named at `key` (an unknown name is an error with the valid names).
const hw::Link* read_link(ObjectReader& r, const std::string& key);

/// The "workload" section: its kind and that kind's keys (serving: arrivals, sessions, prefix
/// cache, KV offload, disaggregation, SLOs; decode: context spread), and speculative decoding.
/// The pools of a disaggregated run with pools of their own are read by the caller.
void read_workload(ObjectReader w, const std::string& base_dir, Scenario& s, Diagnostics& diag);

}  // namespace moesim::sim
