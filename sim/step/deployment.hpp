#pragma once
// A scenario resolved once into the deployment the workloads run on: the model and its dtypes,
// the device and its cost model, the fabric, the parallel layout, the routing and the expert
// placement policy, the all-to-all and the overlap. Built once per deployment by
// resolve_deployment(); the step builder and the workloads read it and never go back to the raw
// scenario. What changes from step to step (batch, context, prompt chunk) is a StepShape.

#include <memory>
#include <optional>

#include "catalog.hpp"
#include "engines.hpp"
#include "graph/graph.hpp"
#include "input/input.hpp"
#include "model/model.hpp"
#include "moe/moe.hpp"
#include "step/cost_model.hpp"

namespace moesim::sim {

/// How the devices are split: the scenario's degrees (attention TP and DP, expert EP and TP,
/// pipeline stages, redundant experts, placement) and what follows from them.
struct ParallelLayout : ParallelismSpec {
  int nodes = 1;
  int devices_per_node = 1;
  int devices = 1;              ///< nodes x devices_per_node
  int stage_devices = 1;        ///< devices of one pipeline stage (devices / pp)
  int layers_per_stage = 1;     ///< ceil(layers / pp): the first stage is the fullest
};

/// The batch of one step on each attention data-parallel rank: what a workload varies.
struct StepShape {
  WorkloadKind kind = WorkloadKind::decode;  ///< decode or prefill
  int batch_per_device = 1;    ///< sequences per attention data-parallel rank
  int context_tokens = 0;      ///< decode: tokens already in each sequence's KV cache
  int input_tokens = 0;        ///< prefill: prompt tokens per sequence
  int cached_tokens = 0;       ///< prefill: of input_tokens, those cached (read, not computed)
  /// Prefill: context parallelism, each prompt split over this many ranks (set from the
  /// deployment by build_step and memory_per_device).
  int context_parallel = 1;
  /// Decode steps of a serving run may carry a chunk of prompt tokens (chunked prefill): prompt
  /// tokens per attention rank in this step, and the context they attend to on average.
  double chunk_tokens = 0;
  double chunk_context = 0;
  /// Training's forward pass: the lm head and the loss cover every token, not only each
  /// sequence's last one, and nothing is sampled.
  bool logits_every_token = false;
  /// Decode: tokens per sequence the step runs (speculative decoding: the drafts to verify and
  /// the last token; set by build_step from the deployment).
  int verify_tokens = 1;
  /// Decode with attention DP: the KV tokens of the rank with the most over the mean rank's
  /// (attention_imbalance); the attention kernel and the KV cache are the slowest rank's.
  double attention_imbalance = 1;
};

/// The attention-DP imbalance of a decode step: each of `ranks` ranks holds `batch` sequences
/// whose contexts are drawn (gamma, mean `context`, coefficient of variation `cv`, seeded); the
/// largest rank's KV tokens over the mean rank's. 1 when cv is 0.
double draw_attention_imbalance(int ranks, int batch, double context, double cv, std::uint64_t seed);

/// The shape of a fixed-batch workload (decode or prefill).
StepShape step_shape_of(const WorkloadSpec& workload);

struct Deployment {
  ModelConfig model;
  hw::DType weights_dtype = hw::DType::bf16;
  hw::DType kv_dtype = hw::DType::bf16;
  const hw::Device* device = nullptr;
  std::optional<double> power_cap_w;
  std::shared_ptr<const hw::HwProfile> hw_profile;  ///< null: the catalog's figures
  std::string hw_profile_name;  ///< its file or built-in name ("" without one)
  bool hw_profile_default = false;  ///< the device's built-in default
  bool hw_profile_inherited = false;  ///< ... measured on another device of the same architecture
  const hw::EngineProfile* engine = nullptr;        ///< null: kernels only
  bool engine_default = false;    ///< the device's default engine
  bool engine_inherited = false;  ///< measured on another device of the same architecture
  CostModel cost;
  Fabric fabric;                ///< the whole cluster's ports and links
  ParallelLayout par;
  RoutingSpec routing;
  RouterShape router;           ///< the model's router, for routing statistics
  AllToAllAlgorithm all_to_all = AllToAllAlgorithm::deepep_normal;
  hw::DType dispatch_dtype = hw::DType::bf16;
  hw::DType combine_dtype = hw::DType::bf16;
  bool two_microbatch = false;  ///< overlap "two-microbatch": two sub-batches interleave per pass
  bool overlap_shared = false;  ///< shared experts run while the dispatch is in flight
  bool stream_per_class = false;  ///< collectives of different classes on their own streams
  /// Flow fidelity runs SimGrid even where the closed form gives the same timeline
  /// (`moesim run --always-simulate`; Limits::always_simulate).
  bool always_simulate = false;
  std::optional<double> price_per_device_hour;    ///< the scenario's, else the catalog's
  std::optional<double> price_electricity_per_j;  ///< $/J
  /// Stragglers (cluster.stragglers): the slow devices, ascending, and how many times longer
  /// their kernels take. Empty: none.
  std::vector<int> straggler_devices;
  double straggler_slowdown = 1;
  /// Speculative decoding (workload.speculative): decode steps verify its drafts.
  std::optional<SpeculativeSpec> speculative;
  /// The expert placements its steps have made (a placement is a pure function of the
  /// arguments it is remembered by): the process's, shared by every deployment.
  std::shared_ptr<PlacementMemo> placements = PlacementMemo::process();

  const hw::Device& dev() const { return *device; }
};

/// Resolves a validated scenario (see scenario_from_json) into its deployment.
Deployment resolve_deployment(const Scenario& scenario);

/// A part of a deployment's cluster run as a deployment of its own (a disaggregated serving
/// pool; the expert-parallel group of one training pipeline stage): the same model, device,
/// costs, links, routing and all-to-all on `nodes` nodes of `devices_per_node` devices with these
/// degrees (attention TP and expert TP stay the whole's).
struct ClusterPart {
  int nodes = 1;
  int devices_per_node = 1;
  int attention_dp = 1;
  int expert_ep = 1;
  int pp = 1;
  bool scale_out = true;  ///< keep the scale-out network (false: one node on its own)
};
Deployment deployment_part(const Deployment& whole, const ClusterPart& part);

/// Speculative decoding with a draft model: the draft (a dense model) deployed like the target's
/// attention on the same devices (its TP and DP, no experts, no speculation of its own).
Deployment draft_deployment(const Deployment& target);

}  // namespace moesim::sim
