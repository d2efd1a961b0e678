#pragma once
// `moesim plan SPEC.json`: the cheapest deployments of a model that meet a workload's rate and
// latency SLOs, searched over a menu of hardware and parallel splits (docs/plan.md). Candidates
// are evaluated in this process at analytic fidelity (no SimGrid); the best few are confirmed
// at flow fidelity in child processes.

#include <nlohmann/json.hpp>

#include <array>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "report/report.hpp"

namespace moesim::tools {

struct HardwareOption {
  std::string device;
  int devices_per_node = 8;
  std::string scale_up;
  nlohmann::json scale_out;      ///< the scenario's "scale_out" for more than one node (null: one node only)
  double price_per_device_hour = 0;
  nlohmann::json price_text;     ///< the spec's price string, or null (catalog price)
  double tdp_w = 0;
  int max_nodes = 0;             ///< 0: no limit beyond the search's node counts
};

struct PlanSpec {
  std::string file;
  nlohmann::json model;          ///< the scenario's "model" object
  std::string model_name;
  double output_tokens_per_s = 0;   ///< the workload's required output rate
  int context_tokens = 0;        ///< decode: tokens in each sequence's KV cache
  int input_tokens = 0;          ///< prompt length (for the TTFT estimate)
  std::optional<double> slo_tpot_s, slo_ttft_s;
  std::vector<HardwareOption> hardware;
  std::vector<int> nodes, attention_tp, pp, batch_per_device, redundant_experts;
  std::vector<std::string> overlap, all_to_all;
  /// Experts split by EP alone ("off") or also by TP equal to attention TP ("attention").
  std::vector<std::string> expert_tp;
  /// Speculative decoding: draft tokens per step (0: none), with the workload's method and
  /// acceptance.
  std::vector<int> draft_tokens;
  nlohmann::json speculative;  ///< {"method", "acceptance"}; null without
  /// Output tokens per request (0: not given). With it, prefills are charged: a colocated
  /// deployment spends part of its time on them, a prefill pool is sized to the request rate.
  int output_tokens = 0;
  /// The prefix cache: "off", "on" (each prompt's prefix_hit share is cached: read, not computed).
  std::vector<std::string> prefix_cache;
  double prefix_hit = 0;
  /// Where prompts are prefilled: -1 on the decode deployment (colocated), else a pool of that
  /// hardware option (disaggregated; search.prefill names it by device).
  std::vector<int> prefill;
  std::vector<int> prefill_nodes;   ///< node counts searched for a prefill pool

  int confirm_top = 3;           ///< flow-confirm this many of the cheapest on the front
};

std::optional<PlanSpec> plan_spec_from_json(const nlohmann::json& doc, const std::string& path, Diagnostics& diag);
std::optional<PlanSpec> load_plan_spec(const std::string& path, Diagnostics& diag);

/// A prefill pool: one layout of a hardware option, evaluated once and offered to every decode
/// candidate (docs/plan.md, "Prefill").
struct PrefillOption {
  int hardware = 0, nodes = 1, attention_tp = 1;
  std::string overlap;
  bool prefix_cache = false;
  bool fits = false;
  std::string reason;            ///< why it does not fit
  double step_s = 0;             ///< the prefill of one prompt per attention rank
  double prompts_per_s = 0;      ///< at that step
  double kv_bytes_per_device = 0;  ///< one prompt's KV cache on each device of its rank
  int devices(const PlanSpec& spec) const { return nodes * spec.hardware[static_cast<std::size_t>(hardware)].devices_per_node; }
};

/// Every prefill pool of the search, evaluated (none without a pool in search.prefill).
std::vector<PrefillOption> evaluate_prefill_pools(const PlanSpec& spec);

/// A candidate's figures over the hardware figures' uncertainty (`plan --uncertainty`).
struct CandidateIntervals {
  int samples = 0, failed = 0;
  int figures = 0;                 ///< uncertain figures its deployment reads
  sim::Report::Interval tpot_s, usd_per_million_tokens;
  int meets_tpot_slo = 0;          ///< samples whose TPOT meets the SLO (every one without a TPOT SLO)
};

struct Candidate {
  int hardware = 0;              ///< index into PlanSpec::hardware
  int nodes = 1, attention_tp = 1, pp = 1, batch_per_device = 1, redundant_experts = 0;
  std::string overlap, all_to_all;
  bool expert_tp = false;        ///< experts sharded over the attention TP group
  int draft_tokens = 0;
  bool prefix_cache = false;
  int prefill = -1;              ///< -1: colocated; else the hardware option of a prefill pool
  /// Disaggregated: the cheapest pool of that hardware (meeting the TTFT SLO where one does).
  struct Pool {
    int nodes = 0, attention_tp = 1, devices = 0;
    std::string overlap;
    double step_s = 0;           ///< its prefill of one prompt per attention rank
    int replicas = 0;
    double kv_transfer_s = 0;    ///< a prompt's KV cache to the decode deployment
    double usd_per_hour = 0;     ///< all its replicas
  } pool;
  double prefill_share = 0;      ///< colocated, with output_tokens: the time spent prefilling
  /// Expert-parallel degree: the stage's devices, over the TP group when experts are sharded.
  int ep(const PlanSpec& spec) const { return devices(spec) / pp / (expert_tp ? attention_tp : 1); }

  /// "ok" (meets every SLO), "slo" (fits, misses an SLO), "memory" (does not fit), "invalid"
  /// (the split is not a valid deployment).
  std::string status;
  std::string reason;            ///< why not ok
  double tpot_s = 0, ttft_s = -1;   ///< ttft -1: not estimated
  double instance_tokens_per_s = 0;
  double decode_tokens_per_s = 0;   ///< the decode run's own rate, before the prefill side's share
  int replicas = 0;              ///< deployments needed for the workload's rate
  double usd_per_hour = 0;       ///< all replicas
  double usd_per_million_tokens = 0;  ///< at the required rate
  double joules_per_token = 0;   ///< devices at TDP over the instance's rate (an upper bound)
  double memory_fraction = 0;    ///< worst device's total over capacity
  std::map<std::string, double> phases_s;
  std::optional<double> flow_tpot_s;  ///< flow-fidelity confirmation
  /// Where flow and the closed form differ and why (the flow report's contention), e.g. "link
  /// sharing adds 3.1 ms: combine +2.0 ms, dispatch +1.1 ms"; empty without a confirmation.
  std::string flow_difference;
  std::optional<CandidateIntervals> intervals;  ///< sampled (plan --uncertainty)
  std::string interval_error;      ///< why its samples failed

  int devices(const PlanSpec& spec) const { return nodes * spec.hardware[hardware].devices_per_node; }
  /// "18x8 h200-sxm, attn TP1xDP144, EP144, PP1, +32 experts, batch 128, two-microbatch, deepep-low-latency"
  std::string describe(const PlanSpec& spec) const;
};

/// Every combination of the search space (splits that cannot divide are kept, as "invalid").
std::vector<Candidate> enumerate_candidates(const PlanSpec& spec);

/// The candidate's deployment as a scenario document (decode at its batch, or prefill of one
/// prompt per attention rank for the TTFT estimate).
nlohmann::json candidate_scenario(const PlanSpec& spec, const Candidate& c, bool prefill, const std::string& fidelity);

/// Evaluates one candidate at analytic fidelity, in this process (`pools`: the evaluated prefill
/// pools, for a disaggregated candidate).
void evaluate_candidate(const PlanSpec& spec, Candidate& c, const std::vector<PrefillOption>& pools = {});

/// The prompt's cached tokens for a candidate's prefill (0 with the prefix cache off).
int cached_prompt_tokens(const PlanSpec& spec, bool prefix_cache);

/// The flow evaluator of the plan's closed-form runs: they never reach it (an error if one did).
std::expected<sim::Timeline, std::string> no_flow(const sim::StepGraph&);

/// A scenario run at analytic fidelity, or the first error of its validation or simulation.
std::expected<sim::Report, std::string> run_analytic(const PlanSpec& spec, const nlohmann::json& scenario);

/// The prefill side of a candidate whose decode has been evaluated: its TTFT, and the prefill
/// load (colocated) or the prefill pool (disaggregated) in its rate and cost.
void evaluate_prefill(const PlanSpec& spec, Candidate& c, const std::vector<PrefillOption>& pools);

/// The candidate as plan.json and the CSVs give it.
nlohmann::json candidate_json(const PlanSpec& spec, const Candidate& c);

/// A decode report's TPOT: the latency's p50 where it has one, else the step time.
double candidate_tpot(const sim::Report& r);

/// Cost per million output tokens of `c` at `instance_tokens_per_s` per deployment, with the
/// replicas the workload's rate needs (and their hourly price with its prefill pool) when asked.
double usd_per_million_at(const PlanSpec& spec, const Candidate& c, double instance_tokens_per_s, int* replicas,
                          double* usd_per_hour);

/// `samples` closed-form runs of candidate `c` (evaluated) with its hardware figures drawn from
/// their spreads: its TPOT and cost intervals, or why they could not be taken.
std::expected<CandidateIntervals, std::string> sample_candidate(const PlanSpec& spec, const Candidate& c, int samples,
                                                               int jobs);

/// Whether a candidate with intervals stays within the SLOs under them: it meets them at the
/// nominal figures, its flow check (if it had one) did not miss the TPOT SLO, and its p90 TPOT
/// meets the TPOT SLO.
bool robust(const PlanSpec& spec, const Candidate& c);

struct PlanUncertainty {
  int samples = 0;
  std::size_t sampled = 0, failed = 0;   ///< candidates sampled, and those whose samples failed
  std::optional<std::size_t> robust;   ///< the cheapest robust candidate (none: no candidate is)
  double wall_s = 0;
};

/// Samples the front's members, then the candidates that meet the SLOs cheapest first until one
/// is robust (docs/plan.md, "Intervals").
PlanUncertainty sample_plan(const PlanSpec& spec, std::vector<Candidate>& all, const std::vector<std::size_t>& front,
                            int samples, int jobs);

/// Prints what the intervals say about `winner` and returns plan.json's "uncertainty".
nlohmann::json report_plan_uncertainty(const PlanSpec& spec, const std::vector<Candidate>& all, std::size_t winner,
                                       const PlanUncertainty& u);

/// A candidate's intervals as plan.json gives them.
nlohmann::json intervals_json(const CandidateIntervals& iv);

/// A duration as the plan writes it: "12.3 ms".
std::string ms_text(double seconds);

/// Indices of the points no other point beats in every objective (all minimised).
std::vector<std::size_t> pareto_front(const std::vector<std::array<double, 3>>& points);

struct PlanOptions {
  std::string spec_path;
  std::string out_dir;           ///< default: SPEC-stem.plan
  int jobs = 0;                  ///< flow confirmations at once
  bool confirm = true;
  /// `--progress jsonl`: JSON lines on standard error for front ends (the GUI's Plan tab):
  /// {"event":"phase","name":"evaluating"|"confirming"|"writing","fraction":F}.
  bool progress = false;
  /// `--uncertainty N`: N samples of the hardware figures for the candidates that decide the
  /// winner (0: none).
  int uncertainty = 0;
};

/// Exit codes: 0 a plan, 1 bad input, 3 no candidate meets the SLOs (closest ones listed).
int cmd_plan(const PlanOptions& options);

}  // namespace moesim::tools
