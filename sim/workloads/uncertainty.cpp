#include "workloads/uncertainty.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include "workloads/simulate.hpp"

namespace moesim::sim {
namespace {

using Values = std::vector<std::optional<double>>;  // one per key

std::expected<Timeline, std::string> no_flow(const StepGraph&) {
  return std::unexpected(std::string("uncertainty samples run in closed form"));
}

Values values_of(const Report& r, const std::vector<std::string>& keys) {
  const nlohmann::json j = r.to_json();
  Values out;
  for (const auto& k : keys) out.push_back(report_value(j, k));
  return out;
}

// One closed-form run with the figures scaled by `factors`; nullopt when it failed or came out
// infeasible with no timing.
std::optional<Values> run_scaled(const Scenario& base, const std::vector<UncertainFigure>& figures,
                                 const std::vector<double>& factors, std::uint64_t routing_seed,
                                 const std::vector<std::string>& keys) {
  ScaledScenario scaled = scale_figures(base, figures, factors);
  scaled.scenario.routing.seed = routing_seed;
  auto r = simulate(scaled.scenario, no_flow);
  if (!r || !r->simulated) return std::nullopt;
  return values_of(*r, keys);
}

// The key the tornado ranks figures for: the run's main figure of merit.
std::string tornado_key_for(const Scenario& s, const std::vector<std::string>& keys) {
  const char* k = s.workload.kind == WorkloadKind::serving    ? "throughput.output_tokens_per_s"
                  : s.workload.kind == WorkloadKind::training ? "training.tokens_per_s_per_device"
                                                              : "step_time_s";
  return std::find(keys.begin(), keys.end(), k) != keys.end() ? k : keys.front();
}

}  // namespace

std::optional<double> report_value(const nlohmann::json& report, const std::string& dotted) {
  const nlohmann::json* j = report_leaf(report, dotted);
  if (j == nullptr || !j->is_number()) return std::nullopt;
  const double v = j->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

double percentile_of_sorted(const std::vector<double>& v, double p) {
  const double pos = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return percentile_of_sorted(v, p);
}

Report::Interval p10_p50_p90(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {percentile_of_sorted(v, 0.1), percentile_of_sorted(v, 0.5), percentile_of_sorted(v, 0.9)};
}

std::string uncertainty_samples_problem(int samples) {
  if (samples >= 2 && samples <= kMaxUncertaintySamples) return {};
  return "--uncertainty " + std::to_string(samples) + ": give 2 to " + std::to_string(kMaxUncertaintySamples) +
         " samples (each is one closed-form simulation; 32 to 64 is usual)";
}

void parallel_for(int count, int jobs, const std::function<void(int)>& job) {
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i = next++; i < count; i = next++) job(i);
  };
  std::vector<std::jthread> pool;
  for (int t = 1; t < std::min(jobs, count); ++t) pool.emplace_back(worker);
  worker();
}

std::vector<std::vector<double>> latin_hypercube(std::size_t dims, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::vector<double>> u(static_cast<std::size_t>(n), std::vector<double>(dims));
  for (std::size_t d = 0; d < dims; ++d) {
    std::vector<int> strata(static_cast<std::size_t>(n));
    std::iota(strata.begin(), strata.end(), 0);
    std::shuffle(strata.begin(), strata.end(), rng);
    for (int i = 0; i < n; ++i) u[static_cast<std::size_t>(i)][d] = (strata[static_cast<std::size_t>(i)] + unit(rng)) / n;
  }
  return u;
}

double spread_factor(const hw::Uncertainty& u, double unit) { return std::pow(1.0 + u.spread, 2.0 * unit - 1.0); }

const std::vector<std::string>& headline_keys() {
  static const std::vector<std::string> keys = {
      "step_time_s",
      "throughput.output_tokens_per_s",
      "throughput.output_tokens_per_s_per_device",
      "throughput.input_tokens_per_s",
      "latency.ttft_s.p50",
      "latency.ttft_s.p90",
      "latency.ttft_s.p99",
      "latency.tpot_s.p50",
      "latency.tpot_s.p90",
      "latency.tpot_s.p99",
      "energy.joules_per_token",
      "power.avg_w_per_device",
      "cost.usd_per_million_output_tokens",
      "training.tokens_per_s_per_device",
      "cost.usd_per_million_training_tokens",
  };
  return keys;
}

std::expected<Report::UncertaintyStats, std::string> propagate_uncertainty(const Scenario& scenario,
                                                                           const Report& nominal,
                                                                           const UncertaintyOptions& opt) {
  if (const std::string problem = uncertainty_samples_problem(opt.samples); !problem.empty()) {
    return std::unexpected(problem);
  }
  if (!nominal.simulated) return std::unexpected(std::string("the nominal run has no timing to put intervals on"));
  const auto t0 = std::chrono::steady_clock::now();
  Scenario base = scenario;
  base.fidelity = Fidelity::analytic;
  const std::vector<UncertainFigure> figures = uncertain_figures(base);
  const std::size_t dims = figures.size();

  // The keys the nominal report has, and each one's flow / closed-form ratio.
  const nlohmann::json nominal_json = nominal.to_json();
  std::vector<std::string> keys;
  for (const auto& k : headline_keys()) {
    if (auto v = report_value(nominal_json, k); v && *v != 0) keys.push_back(k);
  }
  // And every phase of the step (the error bars of the phases).
  if (const auto phases = nominal_json.find("phases_s"); phases != nominal_json.end() && phases->is_object()) {
    for (const auto& [phase, seconds] : phases->items()) {
      if (seconds.is_number() && seconds.get<double>() > 0) keys.push_back("phases_s." + phase);
    }
  }
  if (keys.empty()) return std::unexpected(std::string("the nominal report has no headline figure"));
  std::vector<double> ratio(keys.size(), 1.0);
  const std::vector<double> ones(dims, 1.0);
  if (scenario.fidelity == Fidelity::flow) {
    const auto closed = run_scaled(base, figures, ones, scenario.routing.seed, keys);
    if (!closed) return std::unexpected(std::string("the closed-form nominal run failed"));
    for (std::size_t k = 0; k < keys.size(); ++k) {
      if ((*closed)[k] && *(*closed)[k] != 0) ratio[k] = *report_value(nominal_json, keys[k]) / *(*closed)[k];
    }
  }

  const int n = opt.samples;
  const auto u = latin_hypercube(dims, n, opt.seed);
  auto factor = [&](std::size_t d, double unit_value) { return spread_factor(figures[d].uncertainty, unit_value); };
  std::vector<std::optional<Values>> results(static_cast<std::size_t>(n));
  parallel_for(n, std::max(1, opt.jobs), [&](int i) {
    std::vector<double> f(dims);
    for (std::size_t d = 0; d < dims; ++d) f[d] = factor(d, u[static_cast<std::size_t>(i)][d]);
    results[static_cast<std::size_t>(i)] =
        run_scaled(base, figures, f, scenario.routing.seed + 1 + static_cast<std::uint64_t>(i), keys);
  });

  Report::UncertaintyStats out;
  out.samples = n;
  out.figures = static_cast<int>(dims);
  out.method = "Latin hypercube over the figures' spreads (log-uniform) and the routing seed, closed form" +
               std::string(scenario.fidelity == Fidelity::flow ? ", scaled by the nominal flow / closed-form ratio" : "");
  for (const auto& r : results) out.failed += r ? 0 : 1;
  if (out.failed == n) return std::unexpected(std::string("every uncertainty sample failed"));
  for (std::size_t k = 0; k < keys.size(); ++k) {
    std::vector<double> v;
    for (const auto& r : results) {
      if (r && (*r)[k]) v.push_back(*(*r)[k] * ratio[k]);
    }
    if (v.size() >= 2) out.intervals[keys[k]] = p10_p50_p90(std::move(v));
  }

  // The tornado: each figure alone at the low and the high end of its range, the others nominal;
  // its share of the key's spread is its squared swing over the sum of them all (the variance
  // each explains, for independent figures and a response close to linear).
  out.tornado_key = tornado_key_for(scenario, keys);
  const auto key_index = static_cast<std::size_t>(std::find(keys.begin(), keys.end(), out.tornado_key) - keys.begin());
  std::vector<double> ends(2 * dims, std::nan(""));
  parallel_for(static_cast<int>(2 * dims), std::max(1, opt.jobs), [&](int j) {
    const std::size_t d = static_cast<std::size_t>(j) / 2;
    std::vector<double> f = ones;
    f[d] = factor(d, j % 2 == 0 ? 0.0 : 1.0);
    const auto v = run_scaled(base, figures, f, scenario.routing.seed, keys);
    if (v && (*v)[key_index]) ends[static_cast<std::size_t>(j)] = *(*v)[key_index] * ratio[key_index];
  });
  std::vector<std::pair<double, std::size_t>> swing2;
  double total = 0;
  for (std::size_t d = 0; d < dims; ++d) {
    const double w = ends[2 * d + 1] - ends[2 * d];
    if (!std::isfinite(w) || w == 0) continue;
    swing2.push_back({w * w, d});
    total += w * w;
  }
  std::sort(swing2.begin(), swing2.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t b = 0; b < std::min<std::size_t>(swing2.size(), 5); ++b) {
    const std::size_t d = swing2[b].second;
    const UncertainFigure& fig = figures[d];
    out.tornado.push_back({fig.id(), hw::uncertainty_class_name(fig.uncertainty.cls), fig.uncertainty.spread,
                           swing2[b].first / total, ends[2 * d], ends[2 * d + 1]});
  }
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace moesim::sim
