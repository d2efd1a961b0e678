#pragma once
// Propagating the hardware figures' uncertainty to a run's headline figures (docs/uncertainty.md):
// the uncertain figures a scenario reads are sampled (Latin hypercube, log-uniform within each
// figure's spread) together with the routing seed, each sample simulated in closed form, and the
// headline keys' p10 / p50 / p90 reported with the figures that move them most.

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string>
#include <vector>

#include "input/input.hpp"
#include "report/report.hpp"

namespace moesim::sim {

struct UncertaintyOptions {
  int samples = 32;
  int jobs = 1;             ///< worker threads
  std::uint64_t seed = 1;   ///< of the Latin hypercube
};

/// The most samples one run may ask for (each is a closed-form simulation).
inline constexpr int kMaxUncertaintySamples = 4096;

/// The report keys an uncertainty run gives intervals for, where the report has them (and every
/// phase of the step, `phases_s.NAME`).
const std::vector<std::string>& headline_keys();

/// A Latin hypercube of `samples` points in [0, 1]^dims: each dimension's N strata in a random order
/// (seeded), one uniform draw in each stratum. [sample][dimension].
std::vector<std::vector<double>> latin_hypercube(std::size_t dims, int samples, std::uint64_t seed);

/// The multiplier of a figure with spread s at `unit` in [0, 1]: (1 + s)^(2 unit - 1).
double spread_factor(const hw::Uncertainty& u, double unit);

/// The number at a dotted report key ("latency.ttft_s.p99"); nullopt when absent or not finite.
std::optional<double> report_value(const nlohmann::json& report, const std::string& dotted_key);

/// p in [0, 1] of ascending `sorted` (not empty), interpolated linearly between order statistics.
double percentile_of_sorted(const std::vector<double>& sorted, double p);
/// p in [0, 1] of `values` (not empty).
double percentile(std::vector<double> values, double p);
/// p10 / p50 / p90 of `values` (not empty), sorted once.
Report::Interval p10_p50_p90(std::vector<double> values);

/// Why `samples` cannot be an uncertainty run's sample count ("" when it can): below 2 or above
/// kMaxUncertaintySamples, with the bound.
std::string uncertainty_samples_problem(int samples);

/// Runs job(0) .. job(count - 1) on up to `jobs` threads (this one included).
void parallel_for(int count, int jobs, const std::function<void(int)>& job);

/// Samples `scenario`'s figures `options.samples` times around its nominal report `nominal` (run at
/// the scenario's own fidelity). At flow fidelity each sample's closed-form value is scaled by the
/// nominal's flow / closed-form ratio for that key (contention held as in the nominal run). The
/// error side: options out of range, or every sample failed.
std::expected<Report::UncertaintyStats, std::string> propagate_uncertainty(const Scenario& scenario,
                                                                           const Report& nominal,
                                                                           const UncertaintyOptions& options);

}  // namespace moesim::sim
