#pragma once
// Chrome trace-event JSON of one simulated step (opens in Perfetto and chrome://tracing): a
// track per device with its kernels and the collectives it takes part in, and a track per link
// class (scale-up, scale-out) with the collectives that load it.

#include <nlohmann/json.hpp>

#include <string>

#include "graph/graph.hpp"

namespace moesim::sim {

/// Builds the trace; timestamps and durations are in microseconds as the format requires.
nlohmann::json chrome_trace(const StepGraph& graph, const Timeline& timeline, const std::string& title);

}  // namespace moesim::sim
