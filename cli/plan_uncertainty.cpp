// `moesim plan --uncertainty N`: the hardware figures' uncertainty over the candidates that can
// decide the winner (docs/plan.md, "Intervals").
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "plan.hpp"
#include "workloads/workloads.hpp"

namespace moesim::tools {
namespace {

// The Latin hypercube's seed: every candidate sees the same draws of the figures it shares with
// the others (common random numbers), so candidates are compared under the same hardware.
constexpr std::uint64_t kHypercubeSeed = 1;

}  // namespace

double candidate_tpot(const sim::Report& r) {
  return r.latency_s.count("tpot") ? r.latency_s.at("tpot").p50 : r.step_time_s;
}

double usd_per_million_at(const PlanSpec& spec, const Candidate& c, double instance_tokens_per_s, int* replicas,
                          double* usd_per_hour) {
  const int n = static_cast<int>(std::ceil(spec.output_tokens_per_s / instance_tokens_per_s - 1e-9));
  const double hour = n * c.devices(spec) * spec.hardware[c.hardware].price_per_device_hour + c.pool.usd_per_hour;
  if (replicas != nullptr) *replicas = n;
  if (usd_per_hour != nullptr) *usd_per_hour = hour;
  return hour / 3600.0 / spec.output_tokens_per_s * 1e6;
}

std::expected<CandidateIntervals, std::string> sample_candidate(const PlanSpec& spec, const Candidate& c, int samples,
                                                               int jobs) {
  Diagnostics diag;
  const auto s = sim::scenario_from_json(candidate_scenario(spec, c, false, "analytic"),
                                         std::filesystem::path(spec.file).parent_path().string(), diag);
  if (!s) return std::unexpected(std::string("the candidate's scenario is invalid"));
  // The candidate's output rate over its decode run's is the share its prefill side leaves
  // (colocated prefills, evaluate_prefill), held at the nominal in every sample.
  if (c.decode_tokens_per_s <= 0) return std::unexpected(std::string("the candidate has no decode rate to sample"));
  const double share = c.instance_tokens_per_s / c.decode_tokens_per_s;
  const std::vector<sim::UncertainFigure> figures = sim::uncertain_figures(*s);
  const auto unit = sim::latin_hypercube(figures.size(), samples, kHypercubeSeed);
  struct Sample {
    bool ok = false;
    double tpot = 0, usd = 0;
  };
  std::vector<Sample> out(static_cast<std::size_t>(samples));
  sim::parallel_for(samples, std::max(1, jobs), [&](int i) {
    std::vector<double> factors(figures.size());
    for (std::size_t d = 0; d < figures.size(); ++d) {
      factors[d] = sim::spread_factor(figures[d].uncertainty, unit[static_cast<std::size_t>(i)][d]);
    }
    const sim::ScaledScenario scaled = sim::scale_figures(*s, figures, factors);
    const auto r = sim::simulate(scaled.scenario, no_flow);
    if (!r || !r->simulated || r->output_tokens_per_s <= 0) return;
    Sample& x = out[static_cast<std::size_t>(i)];
    x.tpot = candidate_tpot(*r);
    x.usd = usd_per_million_at(spec, c, r->output_tokens_per_s * share, nullptr, nullptr);
    x.ok = std::isfinite(x.tpot) && std::isfinite(x.usd);
  });
  CandidateIntervals iv;
  iv.samples = samples;
  iv.figures = static_cast<int>(figures.size());
  std::vector<double> tpot, usd;
  for (const Sample& x : out) {
    if (!x.ok) {
      ++iv.failed;
      continue;
    }
    tpot.push_back(x.tpot);
    usd.push_back(x.usd);
    if (!spec.slo_tpot_s || x.tpot <= *spec.slo_tpot_s) ++iv.meets_tpot_slo;
  }
  if (tpot.size() < 2) return std::unexpected("only " + std::to_string(tpot.size()) + " of its samples ran");
  iv.tpot_s = sim::p10_p50_p90(std::move(tpot));
  iv.usd_per_million_tokens = sim::p10_p50_p90(std::move(usd));
  return iv;
}

bool robust(const PlanSpec& spec, const Candidate& c) {
  if (c.status != "ok" || !c.intervals) return false;
  if (!spec.slo_tpot_s) return true;
  // A flow check that missed the SLO rules a candidate out, as it does for the winner.
  if (c.flow_tpot_s && *c.flow_tpot_s > *spec.slo_tpot_s) return false;
  return c.intervals->tpot_s.p90 <= *spec.slo_tpot_s;
}

PlanUncertainty sample_plan(const PlanSpec& spec, std::vector<Candidate>& all, const std::vector<std::size_t>& front,
                            int samples, int jobs) {
  const auto t0 = std::chrono::steady_clock::now();
  PlanUncertainty out;
  out.samples = samples;
  auto sample = [&](std::size_t i) {
    Candidate& c = all[i];
    if (c.intervals || !c.interval_error.empty()) return;
    auto iv = sample_candidate(spec, c, samples, jobs);
    if (iv) {
      c.intervals = *iv;
    } else {
      c.interval_error = iv.error();
      ++out.failed;
    }
    ++out.sampled;
  };
  for (std::size_t i : front) sample(i);
  // The robust winner: the cheapest candidate (nominal cost) that meets the SLOs at the nominal
  // figures and whose p90 TPOT meets the TPOT SLO. Candidates are sampled cheapest first, so every
  // candidate cheaper than it has been sampled and found to miss; dearer ones cannot win.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].status == "ok") order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(all[a].usd_per_million_tokens, all[a].tpot_s) < std::tie(all[b].usd_per_million_tokens, all[b].tpot_s);
  });
  for (std::size_t i : order) {
    sample(i);
    if (robust(spec, all[i])) {
      out.robust = i;
      break;
    }
  }
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

nlohmann::json intervals_json(const CandidateIntervals& iv) {
  auto interval = [](const sim::Report::Interval& x) { return nlohmann::json{{"p10", x.p10}, {"p50", x.p50}, {"p90", x.p90}}; };
  return {{"samples", iv.samples}, {"failed", iv.failed}, {"figures", iv.figures}, {"tpot_s", interval(iv.tpot_s)},
          {"usd_per_million_output_tokens", interval(iv.usd_per_million_tokens)},
          {"samples_meeting_tpot_slo", iv.meets_tpot_slo}};
}

nlohmann::json report_plan_uncertainty(const PlanSpec& spec, const std::vector<Candidate>& all, std::size_t winner,
                                       const PlanUncertainty& u) {
  const Candidate& w = all[winner];
  std::printf("intervals: %d samples of each candidate's hardware figures (Latin hypercube over their spreads, routing "
              "held at seed 1, closed form); %zu candidates sampled in %.1f s\n",
              u.samples, u.sampled, u.wall_s);
  nlohmann::json j = {{"samples", u.samples},
                      {"method", "Latin hypercube over each candidate's uncertain hardware figures (log-uniform within "
                                 "their spreads), the same draws for every candidate, routing held at seed 1, closed form; "
                                 "TTFT and the prefill side held at their nominal values"},
                      {"candidates_sampled", u.sampled}, {"failed", u.failed}, {"wall_s", u.wall_s}};
  if (!w.intervals) {
    std::printf("  the winner's samples failed: %s\n", w.interval_error.c_str());
    j["winner_changed"] = nullptr;
    j["explanation"] = "the winner's samples failed: " + w.interval_error;
    return j;
  }
  const CandidateIntervals& iv = *w.intervals;
  std::printf("  winner: TPOT p10 %s, p50 %s, p90 %s; $%.4f-$%.4f per million output tokens (p10-p90)",
              ms_text(iv.tpot_s.p10).c_str(), ms_text(iv.tpot_s.p50).c_str(), ms_text(iv.tpot_s.p90).c_str(),
              iv.usd_per_million_tokens.p10, iv.usd_per_million_tokens.p90);
  if (spec.slo_tpot_s) {
    std::printf("; meets the TPOT SLO in %d of %d samples", iv.meets_tpot_slo, iv.samples - iv.failed);
  }
  std::printf("\n");
  j["winner_intervals"] = intervals_json(iv);
  std::string why;
  const bool winner_robust = robust(spec, w);
  if (!spec.slo_tpot_s) {
    why = "no TPOT SLO: the intervals cannot move a candidate out of the SLOs";
    std::printf("  the intervals keep the winner: %s\n", why.c_str());
    j["winner_changed"] = false;
  } else if (winner_robust && u.robust && *u.robust != winner) {
    // A cheaper candidate is robust in closed form, but the flow check moved the winner past it.
    const Candidate& r = all[*u.robust];
    why = "its p90 TPOT " + ms_text(iv.tpot_s.p90) + " meets the " + ms_text(*spec.slo_tpot_s) + " SLO; the cheaper " +
          r.describe(spec) + " meets it at p90 in closed form too, but its flow check did not confirm it";
    std::printf("  the intervals keep the winner: %s\n", why.c_str());
    j["winner_changed"] = false;
  } else if (u.robust && *u.robust == winner) {
    why = "its p90 TPOT " + ms_text(iv.tpot_s.p90) + " meets the " + ms_text(*spec.slo_tpot_s) + " SLO";
    std::printf("  the intervals keep the winner: %s\n", why.c_str());
    j["winner_changed"] = false;
  } else if (u.robust) {
    const Candidate& r = all[*u.robust];
    why = "the winner's p90 TPOT " + ms_text(iv.tpot_s.p90) + " misses the " + ms_text(*spec.slo_tpot_s) +
          " SLO; the cheapest candidate whose p90 TPOT meets it is " + r.describe(spec);
    std::printf("  the intervals CHANGE the winner: its p90 TPOT %s misses the %s SLO (met in %d of %d samples)\n",
                ms_text(iv.tpot_s.p90).c_str(), ms_text(*spec.slo_tpot_s).c_str(), iv.meets_tpot_slo, iv.samples - iv.failed);
    std::printf("  robust winner: %s\n    $%.4f per million output tokens (%+.1f%% over the winner), TPOT p90 %s\n",
                r.describe(spec).c_str(), r.usd_per_million_tokens,
                100 * (r.usd_per_million_tokens / w.usd_per_million_tokens - 1), ms_text(r.intervals->tpot_s.p90).c_str());
    j["winner_changed"] = true;
    j["robust_winner"] = candidate_json(spec, r);
  } else {
    why = "no candidate that meets the SLOs at the nominal figures meets the TPOT SLO at its p90";
    std::printf("  the intervals CHANGE the winner: %s\n", why.c_str());
    j["winner_changed"] = true;
    j["robust_winner"] = nullptr;
  }
  j["explanation"] = why;
  return j;
}

}  // namespace moesim::tools
