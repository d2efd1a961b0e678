#pragma once
// Scenario v1: the public input contract (see docs/scenario.md). Parsed, then validated into
// typed structs; every problem is collected with its file and JSON pointer.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "diagnostics.hpp"
#include "engines.hpp"
#include "hw_profile.hpp"
#include "fabric.hpp"
#include "input/moe_spec.hpp"
#include "model/model.hpp"

namespace moesim::sim {

struct ModelChoice {
  std::string preset;          ///< built-in preset name, or empty
  std::string hf_config;       ///< config.json path, resolved against the scenario's folder
  hw::DType weights_dtype = hw::DType::bf16;  ///< dtype of the linear layers' weights
  hw::DType kv_dtype = hw::DType::bf16;
  ModelConfig config;
};

struct ScaleOut {
  const hw::Link* link = nullptr;
  int nics_per_node = 0;
  hw::ScaleOutTopology topology = hw::ScaleOutTopology::fat_tree;
  int nodes_per_leaf = 0;      ///< fat-tree: nodes under one leaf switch (0: one switch for all)
  double oversubscription = 1; ///< fat-tree: leaf down- over uplink capacity (1: full bisection)
  bool ecmp = false;           ///< path_choice "ecmp" (else "adaptive")
  bool pxn = false;            ///< rail-optimized: cross-rail traffic over NVLink to the right rail
  bool multi_plane = false;    ///< topology "multi-plane": rails without a spine
  std::uint64_t ecmp_seed = 1;
};

/// Devices that compute slower than the rest (docs/topology.md, "Stragglers and failures"):
/// the listed devices, or a seeded draw of `share` of them, run every kernel `slowdown` times
/// longer; a synchronous step waits for them.
struct Stragglers {
  std::vector<int> devices;  ///< as listed, or drawn by resolve_deployment from share and seed
  std::optional<double> share;
  double slowdown = 1;
  std::uint64_t seed = 1;
};

/// A NIC (node, nic) or a device's scale-up port (device): degraded to `speed` of its bandwidth,
/// or failed (speed 0).
struct PortFault {
  int node = -1, nic = -1;  ///< a NIC, or -1
  int device = -1;          ///< a device's scale-up port, or -1
  double speed = 0;
};

struct ClusterSpec {
  int nodes = 1;
  const hw::Device* device = nullptr;
  int devices_per_node = 1;
  const hw::Link* scale_up = nullptr;
  std::optional<ScaleOut> scale_out;
  std::optional<Stragglers> stragglers;
  std::vector<PortFault> degraded;  ///< speed in (0, 1)
  std::vector<PortFault> failed;    ///< speed 0

  int num_devices() const { return nodes * devices_per_node; }
};

struct ParallelismSpec {
  int attention_tp = 1;
  int attention_dp = 1;
  /// Context parallelism (prefill): each prompt split over cp ranks, attention by a ring that
  /// passes KV blocks (docs/models.md). Deployments hold dp x cp token-holding ranks.
  int attention_cp = 1;
  int expert_ep = 1;
  int expert_tp = 1;
  int pp = 1;
  int redundant_experts = 0;
  PlacementStrategy placement = PlacementStrategy::contiguous;  ///< eplb when redundant experts
};

enum class WorkloadKind { decode, prefill, serving, training };

/// A token count of a request: fixed (lo == hi) or uniform integers in [lo, hi].
struct TokenCountSpec {
  int lo = 0, hi = 0;
};

/// One request of an arrival trace.
struct RequestSpec {
  double arrival_s = 0;
  int input_tokens = 0;
  int output_tokens = 0;
};

/// workload.kind = "training" (docs/training.md).
struct TrainingSpec {
  int global_batch = 0;         ///< sequences per optimizer step
  int seq_len = 0;
  int micro_batch = 1;          ///< sequences per micro-batch per data-parallel rank
  bool interleaved = false;     ///< interleaved 1F1B (two model chunks per stage) instead of 1F1B
  int virtual_stages = 1;       ///< model chunks per stage (default 2 when interleaved)
  bool virtual_stages_given = false;  ///< the scenario set virtual_stages (errors point at it)
  bool full_recompute = false;  ///< "recompute": "full" re-runs each forward pass before its backward
  double framework_efficiency = 1.0;  ///< achieved fraction of the modelled forward/backward speed
};

/// workload.sessions: multi-turn conversations (agents, chat). Each turn's prompt is the
/// session's whole context so far (the system prompt, every earlier turn's input and output)
/// plus the turn's new input; the next turn arrives a think time after the previous one ends.
struct SessionSpec {
  int count = 0;
  TokenCountSpec turns;          ///< turns per session
  double think_s = 0;            ///< between a turn's last token and the next turn's arrival
  int system_prompt_tokens = 0;  ///< shared by every session (the first turn's prompt starts with it)
};

/// workload.prefix_cache: KV blocks of finished turns stay cached (LRU, evicted under KV
/// pressure), and a prompt that starts with cached blocks prefills only the rest.
struct PrefixCacheSpec {
  bool enabled = false;
  int block_tokens = 16;
};

/// A disaggregated pool with a cluster and layout of its own (heterogeneous pools).
struct PoolSpec {
  ClusterSpec cluster;
  ParallelismSpec parallelism;
};

/// workload.kv_offload: cached prefixes evicted from device memory move to host memory over a
/// link, and come back (a turn waits for them) instead of being prefilled again.
struct KvOffloadSpec {
  double host_bytes = 0;             ///< host memory for KV per node
  const hw::Link* link = nullptr;    ///< device <-> host (catalog link, e.g. pcie-gen5)
  /// Optional SSD tier per node: what host memory evicts goes there, and comes back through
  /// host memory. 0: none.
  double ssd_bytes = 0;
  double ssd_bandwidth = 0;          ///< bytes per second, the node's SSDs together
};

/// workload.kind = "serving" (docs/serving.md). Limits are per attention data-parallel rank,
/// as in engines that run one scheduler per DP rank.
struct ServingSpec {
  enum class Arrival { offline, poisson, trace };
  Arrival arrival = Arrival::offline;
  double poisson_rps = 0;
  std::string trace_file;
  std::vector<RequestSpec> trace;
  int requests = 0;
  TokenCountSpec input_tokens, output_tokens;
  int max_concurrency = 0;      ///< closed-loop clients (0: open loop)
  int max_batched_tokens = 8192;
  int max_sequences = 256;
  bool chunked_prefill = true;
  /// Share of each device's memory the engine may use for weights, activations and KV cache
  /// (vLLM's gpu_memory_utilization); the KV cache gets what is left of it. 1: all of it.
  double memory_utilization = 1.0;
  int replicas = 1;             ///< identical deployments behind a round-robin router
  bool disaggregated = false;   ///< prefill and decode on separate pools of nodes
  int prefill_nodes = 0;        ///< disaggregated: the first this many nodes prefill
  /// Disaggregated with pools of their own ({"prefill": {cluster, parallelism}, "decode": {...}}):
  /// the prefill pool; the decode pool is the scenario's cluster and parallelism.
  std::optional<PoolSpec> prefill_pool;
  std::optional<double> slo_ttft_s, slo_tpot_s;
  double slo_percentile = 99;
  std::optional<SessionSpec> sessions;  ///< requests are the sessions' turns
  PrefixCacheSpec prefix_cache;
  std::optional<KvOffloadSpec> kv_offload;
};

/// workload.speculative (docs/serving.md, "Speculative decoding"): each decode step verifies the
/// drafted tokens of every sequence and keeps the accepted prefix plus one token of its own.
struct SpeculativeSpec {
  enum class Method { mtp, draft_model, ngram };
  Method method = Method::mtp;
  int draft_tokens = 1;
  /// Per draft position i: the probability that draft token i is accepted when the ones before
  /// it were. One value: the same for every position.
  std::vector<double> acceptance;
  std::string draft_model;  ///< the draft model's preset (method draft_model)
  std::shared_ptr<const ModelConfig> draft;  ///< its config, loaded when the scenario is read

  double acceptance_at(int i) const {
    return acceptance.empty() ? 0.0 : acceptance[std::min<std::size_t>(static_cast<std::size_t>(i), acceptance.size() - 1)];
  }
  /// Expected draft tokens accepted per step: sum over i of the chance that the first i are.
  double accepted_per_step() const {
    double all = 1, sum = 0;
    for (int i = 0; i < draft_tokens; ++i) {
      all *= acceptance_at(i);
      sum += all;
    }
    return sum;
  }
  /// Tokens a sequence gains per step (the accepted drafts and the target's own).
  double tokens_per_step() const { return 1.0 + accepted_per_step(); }
  /// Tokens per sequence the target model runs in a step (the drafts and the last token).
  int verify_tokens() const { return draft_tokens + 1; }
};
const char* speculative_method_name(SpeculativeSpec::Method m);

struct WorkloadSpec {
  WorkloadKind kind = WorkloadKind::decode;
  int batch_per_device = 1;    ///< sequences per attention data-parallel rank
  int context_tokens = 0;      ///< decode: tokens already in each sequence's KV cache
  int input_tokens = 0;        ///< prefill: prompt tokens per sequence
  /// Prefill: of input_tokens, those already in the KV cache (a prefix cache hit): attention
  /// reads them, nothing computes them.
  int cached_tokens = 0;
  ServingSpec serving;
  TrainingSpec training;
  std::optional<SpeculativeSpec> speculative;  ///< decode and serving only
  /// Decode: how sequence contexts vary around context_tokens (their coefficient of variation,
  /// gamma-distributed; 0: every sequence at context_tokens). With attention DP each rank holds
  /// its own sequences, and the step waits for the rank with the most KV to attend over.
  double context_cv = 0;
  bool attention_imbalance = true;  ///< false: every rank at the mean (for comparison)
};

/// How expert-parallel tokens travel (scenario key "communication").
struct CommunicationSpec {
  AllToAllAlgorithm all_to_all = AllToAllAlgorithm::deepep_normal;
  std::optional<hw::DType> dispatch_dtype;  ///< default: fp8 with fp8 weights, else bf16
  std::optional<hw::DType> combine_dtype;   ///< default: bf16
  /// "one": every collective waits for the one before (one communication stream for the
  /// cluster); "per-class": the TP all-reduce, the expert all-to-all and the pipeline sends each
  /// have a stream of their own, so collectives of different classes may run at once and share
  /// links (docs/models.md).
  bool stream_per_class = false;
};

enum class Fidelity { analytic, flow };

struct Scenario;
/// A scenario with heterogeneous disaggregated pools, as its prefill pool alone (the scenario's
/// own cluster and parallelism are the decode pool's); the scenario itself without pools.
Scenario prefill_pool_scenario(const Scenario& s);

/// What one run may ask of the machine: the scenario's "limits" (docs/scenario.md). A scenario
/// beyond a bound is refused with the bound and the key that raises it; a SimGrid simulation past
/// its time or memory is stopped with an error.
struct Limits {
  /// Serving: the requests one run simulates (the count, sessions x their most turns, or a
  /// trace's rows). Memory grows by about 200 bytes per request: 2^22 requests of Qwen3-30B-A3B
  /// on one H100 took 11 s and 0.89 GB peak (measured, stop 28, docs/performance.md).
  static constexpr int kDefaultRequests = 1 << 22;
  static constexpr int kMaxRequests = 1 << 30;
  int requests = kDefaultRequests;
  double flow_time_s = 600;      ///< one SimGrid simulation's wall-clock time
  double flow_memory_bytes = 0;  ///< its resident memory; 0: half the machine's physical memory
  /// Not a scenario key: `moesim run --always-simulate` (SimGrid even where the closed form is
  /// the same timeline; engine::FlowLimits::always_simulate).
  bool always_simulate = false;
};

struct Scenario {
  std::string name;
  std::string file;            ///< where it was read from ("<embedded default>" for the default)
  ModelChoice model;
  ClusterSpec cluster;
  ParallelismSpec parallelism;
  RoutingSpec routing;
  WorkloadSpec workload;
  CommunicationSpec communication;
  std::string overlap = "none";
  Fidelity fidelity = Fidelity::flow;
  Limits limits;
  std::optional<double> power_cap_w;
  std::optional<double> price_per_device_hour;  ///< overrides the catalog price
  std::optional<double> price_electricity_per_j;  ///< $/J (written per kWh)
  std::string hw_profile_file;  ///< calibration profile: resolved path or built-in name; empty for the catalog
  bool hw_profile_default = false;  ///< the device's built-in default (no "hw_profile" key)
  bool hw_profile_inherited = false;  ///< that default was measured on another device of its architecture
  std::shared_ptr<const hw::HwProfile> hw_profile;  ///< its contents; null: catalog figures
  /// Serving-engine profile (hwmodels/data/engines.json); null: kernels only ("engine":
  /// "ideal", training, or a device without a default engine).
  const hw::EngineProfile* engine = nullptr;
  bool engine_default = false;    ///< the device's default engine (no "engine" key)
  bool engine_inherited = false;  ///< that engine was measured on another device of its architecture
};

/// Validates a parsed scenario document. `base_dir` resolves relative paths; `diag` carries the
/// file label. Returns nullopt when any error was found (all of them are in `diag`).
std::optional<Scenario> scenario_from_json(const nlohmann::json& doc, const std::string& base_dir,
                                           Diagnostics& diag);

/// Loads the calibration profile at `path` into `scenario` (replacing any it had) and checks it
/// against the cluster's device; problems are reported at `pointer` (and in the profile's own
/// file), missing fields as one warning. The cluster device must be set. False on error.
bool attach_hw_profile(Scenario& scenario, const std::string& path, const std::string& pointer,
                       Diagnostics& diag);

/// Uses the built-in profile `name` (hwmodels/profiles/) for the cluster's device; an unknown
/// name or one of another device is an error at `pointer`. False on error.
bool attach_builtin_profile(Scenario& scenario, const std::string& name, const std::string& pointer,
                            Diagnostics& diag);

/// Sets the power cap of every device after checking it against the cluster's device (which must
/// be set): below idle power, below the slowest performance state's busy power, or above the
/// device maximum is an error at `pointer`. False on error (the scenario is unchanged).
bool set_power_cap(Scenario& scenario, double cap_w, const std::string& pointer, Diagnostics& diag);

/// Reads and validates a scenario file.
std::optional<Scenario> load_scenario_file(const std::string& path, Diagnostics& diag);

/// The scenario `moesim run` uses without a file: Mixtral-8x7B on one 8xH100 node.
std::optional<Scenario> default_scenario(Diagnostics& diag);
/// Its JSON text (also shipped as scenarios/default.json).
std::string default_scenario_text();

/// The physical fabric of the scenario's cluster.
hw::FabricSpec fabric_of(const Scenario& scenario);

std::string workload_kind_name(WorkloadKind kind);
std::string fidelity_name(Fidelity f);

}  // namespace moesim::sim
