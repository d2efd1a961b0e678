#pragma once
// Report v1: what a run predicts, under stable key names (docs/report.md). Rendered as JSON,
// CSV (flattened keys) or a table for terminals.

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

#include "step/step.hpp"
// The rest of the door of sim/report/: the Chrome trace of one step.
#include "report/trace.hpp"

namespace moesim::sim {

struct CommStats {
  double bytes = 0;                    ///< per step, all devices
  double seconds = 0;                  ///< per step, summed over layers
  double bottleneck_bandwidth_Bps = 0; ///< busiest port's bytes over the collective's time
};

/// One link class over a step.
struct LinkClassStats {
  double bytes = 0;        ///< bytes sent through this class's ports per step
  double utilization = 0;  ///< average fraction of the step its ports are busy, [0, 1]
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0;
};

/// What a serving run adds (workload "serving").
struct ServingStats {
  int requests = 0;            ///< simulated (per replica when replicas > 1)
  int replicas = 1;
  double makespan_s = 0;       ///< first arrival to last completion
  long long iterations = 0;    ///< scheduler steps
  long long preemptions = 0;   ///< sequences evicted for KV space (recomputed later)
  double mean_decode_batch = 0;   ///< decode sequences per attention rank per step, mean
  double kv_capacity_tokens = 0;  ///< KV cache tokens one attention rank holds
  double peak_kv_fraction = 0;    ///< most KV capacity in use on any rank
  std::optional<double> slo_ttft_s, slo_tpot_s;
  double slo_percentile = 99;
  bool slo_met = false;
  double goodput_rps = 0;      ///< requests per second meeting every SLO, all replicas
  int prefill_nodes = 0;       ///< disaggregated: nodes of the prefill pool (0: colocated)
  double kv_transfer_s = 0;    ///< disaggregated: mean time to move a prompt's KV cache
  /// disaggregated: KV cache bytes arriving in the decode pool per decode step, the mean over the
  /// run; the representative step carries them as background traffic on the same NICs
  double kv_bytes_per_decode_step = 0;
  /// Attention DP: the rank with the most KV tokens to attend over against the mean rank, over
  /// the steps (the scheduler's real queues; 1 with one rank).
  double attention_imbalance = 1;
  // Sessions: how many (per replica), and TTFT of first turns against later ones.
  int sessions = 0;
  Percentiles ttft_first_turn_s, ttft_later_turns_s;
  // Prefix cache: prompt tokens found cached over prompt tokens admitted, the prompt tokens not
  // prefilled because of it, and cached tokens evicted under KV pressure.
  bool prefix_cache = false;
  double prefix_hit_rate = 0, prefill_tokens_saved = 0, evicted_tokens = 0;
  // KV offload to host memory: bytes per device each way, the turns whose prefix came back, and
  // their mean wait for it (added to their TTFT).
  // Disaggregated pools of their own: each pool's device, size and price per hour (all replicas).
  std::string prefill_device, decode_device;
  int prefill_devices = 0, decode_devices = 0;
  std::optional<double> prefill_usd_per_hour, decode_usd_per_hour;
  bool kv_offload = false;
  double offload_bytes_to_host = 0, offload_bytes_from_host = 0, offload_mean_wait_s = 0;
  double offload_bytes_to_ssd = 0, offload_bytes_from_ssd = 0;  ///< of those, through the SSD tier
  long long offload_restored_turns = 0;
  /// Over time (the decode or colocated pool of one replica): at the end of every step, thinned
  /// to at most 256 points. The decode rate is over the interval since the previous point.
  struct SeriesPoint {
    double t_s = 0, running = 0, waiting = 0, kv_fraction = 0, decode_tokens_per_s = 0, preemptions = 0;
  };
  std::vector<SeriesPoint> series;
  /// The finished requests' TTFT and TPOT at the quantiles 0, 5, ..., 100 % (21 values each;
  /// empty when none finished).
  std::vector<double> ttft_cdf_s, tpot_cdf_s;
};

/// What a training run adds (workload "training").
struct TrainingStats {
  int micro_batches = 0;          ///< per data-parallel rank and step
  double forward_s = 0, backward_s = 0;  ///< one micro-batch on one stage
  double recompute_s = 0;         ///< of backward_s: the forward pass re-run under full recomputation
  double bubble_fraction = 0;     ///< pipeline fill and drain over the step
  double dp_sync_s = 0, dp_exposed_s = 0;  ///< gradient reduce-scatter + parameter all-gather
  double optimizer_s = 0;
  double tokens_per_s_per_device = 0;
  double model_flops_per_token = 0;  ///< forward + backward (3x forward)
  double mfu = 0;                 ///< model FLOPs over the devices' peak in the compute dtype
  double device_hours_per_trillion_tokens = 0;
};

/// Energy and power over the window a report covers (docs/power.md).
struct EnergyStats {
  double joules = 0;              ///< all devices of the deployment, over the window
  double seconds = 0;             ///< the window: one step (decode, prefill) or the run (serving)
  double tokens = 0;              ///< tokens the window produced (see token_kind)
  std::string per = "step";       ///< "step" | "run"
  std::string token_kind = "output";  ///< "output" (decode, serving) | "input" (prefill)
  std::string source;             ///< how the joules were obtained
  double avg_w_per_device = 0;
  double peak_w_per_device = 0;   ///< the most any device draws during a kernel
  double idle_w_per_device = 0;
  double cap_w = 0;               ///< the cap in force (the TDP without one)
  bool capped = false;            ///< the scenario set a cap
  double radio_joules = 0;        ///< of joules: Wi-Fi radio (phones)
};

/// Flow fidelity: what link sharing added to the step over the closed form, which takes each
/// collective at its uncongested busiest port (docs/topology.md, "Flow against the closed form").
struct ContentionStats {
  double added_s = 0;  ///< step time at flow minus the closed form's on the same step graph
  /// Per traffic class (the collectives' phase: dispatch, combine, pipeline, ...): flow duration
  /// minus closed-form duration, summed over the reported step's collectives (all devices' work,
  /// not only the critical path; classes with nothing added are left out).
  std::map<std::string, double> by_traffic_class_s;
};

/// Attention data-parallel imbalance of a decode step (workload.context_spread).
struct AttentionStats {
  double context_cv = 0;   ///< the contexts' coefficient of variation
  double imbalance = 1;    ///< the rank with the most KV tokens over the mean rank
  bool applied = true;     ///< false: drawn but not applied (workload.attention_imbalance false)
};

/// Speculative decoding (workload.speculative) on a decode step.
struct SpeculativeStats {
  std::string method;
  int draft_tokens = 0;
  std::vector<double> acceptance;
  double accepted_tokens_per_step = 0;  ///< expected accepted drafts per sequence and step
  double tokens_per_step = 1;           ///< what a sequence gains per step (accepted + 1)
  /// The same batch's step without speculation, in closed form, and the verification's cost:
  /// the closed-form step with speculation over it, minus 1.
  double step_time_without_s = 0;
  double verify_overhead = 0;
};

/// Stragglers of a fixed step (cluster.stragglers).
struct StragglerStats {
  std::vector<int> devices;  ///< the slow devices
  double slowdown = 1;       ///< how many times longer their kernels take
  /// Step time with them minus without, both in closed form on the same step graph (at flow
  /// fidelity too: the flow step is reported, this isolates the stragglers' share).
  double added_s = 0;
};

struct Report {
  std::string scenario;
  std::string workload;                ///< "decode" | "prefill"
  std::string fidelity;                ///< "analytic" | "flow"
  std::string model;
  std::string device;
  std::string engine;                  ///< serving-engine profile applied ("" = none)
  bool engine_default = false;         ///< the device's default engine (the scenario named none)
  std::string engine_inherited_from;   ///< the device it was measured on, when inherited
  std::string hw_profile;              ///< hardware profile applied: file or built-in name ("" = catalog)
  std::string hw_profile_measured_on;  ///< the board it was measured on
  bool hw_profile_default = false;     ///< the device's built-in default
  std::string hw_profile_inherited_from;  ///< the device it was measured on, when inherited
  int devices = 0;
  int nodes = 0;
  bool feasible = true;
  std::string reason;                  ///< why not feasible
  bool simulated = false;              ///< timing figures below are valid

  double step_time_s = 0;
  double input_tokens_per_s = 0;
  double output_tokens_per_s = 0;
  std::map<std::string, Percentiles> latency_s;  ///< "ttft"/"tpot"/"e2e" -> seconds
  std::optional<ServingStats> serving;
  std::optional<TrainingStats> training;
  std::map<std::string, double> phases_s;    ///< critical-path time per phase, per step
  CommStats dispatch, combine;
  std::map<std::string, LinkClassStats> links;  ///< "scale_up", "scale_out"
  /// Fixed steps: the most loaded link directions of the step (link_busy), at most five.
  std::vector<LinkBusy> busiest_links;
  double memory_weights = 0, memory_kv_cache = 0, memory_activations = 0, memory_buffers = 0,
         memory_total = 0, memory_capacity = 0;
  ExpertLoadSummary expert_load;
  std::string routing;                 ///< routing distribution name
  std::string placement;               ///< expert placement strategy
  std::optional<double> usd_per_million_output_tokens;
  std::optional<double> usd_per_million_training_tokens;  ///< training: device-hours at the price
  std::optional<double> price_per_device_hour;
  std::optional<double> price_electricity_per_j;
  std::optional<EnergyStats> energy;
  std::optional<OffloadStats> offload;  ///< phones with experts offloaded to flash
  std::optional<ContentionStats> contention;  ///< flow fidelity, fixed steps
  std::optional<AttentionStats> attention;      ///< decode steps with a context spread
  std::optional<SpeculativeStats> speculative;  ///< decode steps (and serving's representative one) with speculation
  std::optional<StragglerStats> stragglers;   ///< fixed steps with cluster.stragglers
  /// How far runs like this one have been validated (docs/validation.md): the label, and the
  /// similar end-to-end cases (same device class, model family and workload) with moesim's error.
  struct Validation {
    std::string label;
    std::vector<std::pair<std::string, double>> cases;  ///< case id, predicted / measured - 1
  };
  std::optional<Validation> validation;
  /// `moesim run --uncertainty N` (docs/uncertainty.md): p10 / p50 / p90 of the headline keys over
  /// N samples of the uncertain figures, and the figures that move the spread most.
  struct Interval {
    double p10 = 0, p50 = 0, p90 = 0;
  };
  struct TornadoBar {
    std::string figure;        ///< UncertainFigure::id()
    std::string cls;           ///< its uncertainty class
    double spread = 0;
    double share = 0;          ///< of the key's spread: its squared swing high - low over the sum of all
    double low = 0, high = 0;  ///< the key with this figure alone at the low / high end
  };
  struct UncertaintyStats {
    int samples = 0;
    int failed = 0;            ///< samples whose simulation failed (left out of the intervals)
    int figures = 0;           ///< uncertain figures sampled
    std::string method;
    std::map<std::string, Interval> intervals;  ///< by dotted report key
    std::string tornado_key;   ///< the key the tornado ranks figures for
    std::vector<TornadoBar> tornado;            ///< at most five, largest share first
    double wall_s = 0;
  };
  std::optional<UncertaintyStats> uncertainty;
  /// Each degraded or failed port and what became of its traffic (cluster.degraded, .failed).
  std::vector<std::string> faults;
  long long events = 0;
  double wall_s = 0;
  /// What timed the step (Timeline::evaluator); empty where the workload does not say.
  std::string evaluator;

  /// Nested JSON with the v1 keys.
  nlohmann::json to_json() const;
};

/// Fills the cost: device-hours at `price_per_device_hour` plus, with an electricity price and an
/// energy figure, the energy at that price; both per million output tokens. A training report is
/// priced per million trained tokens (device-hours only: training has no energy figure). No price,
/// no cost.
void price_report(Report& report);

/// Names the deployment's hardware profile in the report (nothing without one).
void name_hw_profile(const Deployment& deployment, Report& report);

/// Flattens a JSON report into "a.b.c" -> value rows (header line + one data line).
std::string report_to_csv(const nlohmann::json& report);

/// The value at a dotted report key ("latency.tpot_s.p50"; the columns of the CSV), or null when
/// the report has none.
const nlohmann::json* report_leaf(const nlohmann::json& report, const std::string& dotted_key);

/// Text for XML attributes and elements (JUnit outputs): the five entities escaped, the control
/// characters XML 1.0 forbids replaced by '?'.
std::string xml_escape(const std::string& text);

/// A readable multi-line summary for terminals.
std::string report_to_table(const Report& report);

}  // namespace moesim::sim
