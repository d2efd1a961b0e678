#include "input/moe_spec.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "input/csv_table.hpp"

namespace moesim::sim {

std::string routing_kind_name(RoutingKind kind) {
  switch (kind) {
    case RoutingKind::uniform: return "uniform";
    case RoutingKind::zipf: return "zipf";
    case RoutingKind::dirichlet: return "dirichlet";
    case RoutingKind::hot_experts: return "hot_experts";
    case RoutingKind::trace: return "trace";
  }
  return "uniform";
}

std::shared_ptr<const ExpertCountTrace> read_expert_count_trace(const std::string& path, int experts,
                                                               Diagnostics& diag) {
  const std::size_t errors_before = diag.error_count();
  const auto rows = read_csv_columns(path, {"layer", "expert", "tokens"}, diag);
  if (!rows) return nullptr;
  auto trace = std::make_shared<ExpertCountTrace>();
  trace->experts = experts;
  auto num = [](double x) {
    std::ostringstream o;
    o << x;
    return o.str();
  };
  for (std::size_t i = 0; i < rows->values.size(); ++i) {
    const auto& v = rows->values[i];
    const int line = rows->lines[i];
    const double layer = v[0], expert = v[1], tokens = v[2];
    if (layer < 0 || layer != std::floor(layer) || layer > 100000) {
      diag.error_at_line(line, "layer must be a non-negative integer (MoE layers count from 0)");
    } else if (expert < 0 || expert != std::floor(expert) || expert >= experts) {
      diag.error_at_line(line, "expert " + num(expert) + " is out of range",
                         "the model has experts 0.." + std::to_string(experts - 1));
    } else if (tokens < 0 || !std::isfinite(tokens)) {
      diag.error_at_line(line, "negative token count " + num(tokens), "counts are tokens routed to the expert, >= 0");
    } else {
      const auto l = static_cast<std::size_t>(layer);
      if (trace->counts.size() <= l) trace->counts.resize(l + 1, std::vector<double>(static_cast<std::size_t>(experts), 0.0));
      trace->counts[l][static_cast<std::size_t>(expert)] += tokens;
    }
  }
  if (trace->counts.empty() && diag.error_count() == errors_before) {
    diag.error_at_line(1, "the routing trace has no rows", "one row per layer and expert: layer,expert,tokens");
  }
  for (std::size_t l = 0; l < trace->counts.size(); ++l) {
    const double sum = std::accumulate(trace->counts[l].begin(), trace->counts[l].end(), 0.0);
    if (sum <= 0) diag.error_at_line(1, "layer " + std::to_string(l) + " has no tokens", "every layer from 0 to the last needs counts");
  }
  if (diag.error_count() > errors_before) return nullptr;
  return trace;
}

std::vector<std::string> placement_strategy_names() { return {"contiguous", "round-robin", "eplb"}; }

std::string placement_strategy_name(PlacementStrategy s) {
  switch (s) {
    case PlacementStrategy::contiguous: return "contiguous";
    case PlacementStrategy::round_robin: return "round-robin";
    case PlacementStrategy::eplb: return "eplb";
  }
  return "contiguous";
}

std::vector<std::string> all_to_all_algorithm_names() {
  return {"direct", "deepep-normal", "deepep-low-latency"};
}

std::string all_to_all_algorithm_name(AllToAllAlgorithm a) {
  switch (a) {
    case AllToAllAlgorithm::direct: return "direct";
    case AllToAllAlgorithm::deepep_normal: return "deepep-normal";
    case AllToAllAlgorithm::deepep_low_latency: return "deepep-low-latency";
  }
  return "direct";
}

}  // namespace moesim::sim
