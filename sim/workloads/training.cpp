#include "workloads/training.hpp"

#include <algorithm>
#include <chrono>

#include "step/step.hpp"

namespace moesim::sim {
namespace {

constexpr double kGradBytes = 2;         // bf16 gradients
constexpr double kOptimizerBytes = 12;   // fp32 master weights, Adam's two moments
// Adam on one parameter: read master, m, v and the gradient (4 x 4 B), write master, m, v and the
// bf16 weight (3 x 4 + 2 B).
constexpr double kAdamTrafficBytes = 30;
// Activations kept per token per layer for the backward pass, in units of the hidden size
// (Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models",
// arXiv 2205.05198: 34 s b h bytes per layer in 16-bit without recomputation, attention scores
// excluded as flash attention does not keep them).
constexpr double kActivationBytesPerHidden = 34;
// With full recomputation only the layer input survives the forward pass: 2 s b h bytes per layer
// (the same paper, sec. 4.1).
constexpr double kRecomputeBytesPerHidden = 2;

// FLOPs of one token's forward pass (a multiply-add = 2), attention at the average causal context.
double forward_flops_per_token(const ModelConfig& m, double seq_len) {
  double f = 0;
  for (int l = 0; l < m.num_layers; ++l) {
    const LayerParams lp = layer_parameters(m, l);
    f += attention_flops_per_token(m, l, (seq_len + 1) / 2);
    f += 2.0 * (lp.dense_mlp + lp.shared_experts + lp.gate + m.moe.top_k * lp.routed_expert);
  }
  const ParamCounts pc = count_parameters(m);
  f += 2.0 * (m.tie_embeddings ? pc.embedding : pc.lm_head);
  return f;
}

// One stage's expert-parallel group: its replicas over expert data parallelism run the same
// work at the same time, so one group's forward pass stands for all.
Deployment forward_group(const Deployment& d) {
  const ParallelLayout& par = d.par;
  const int stage_devices = std::min(par.devices / par.pp, par.expert_ep * par.expert_tp);
  ClusterPart part;
  part.pp = 1;
  part.attention_dp = stage_devices / par.attention_tp;
  part.expert_ep = par.expert_ep;
  if (stage_devices >= par.devices_per_node) {
    part.nodes = stage_devices / par.devices_per_node;
    part.devices_per_node = par.devices_per_node;
  } else {
    part.nodes = 1;
    part.devices_per_node = stage_devices;
  }
  return deployment_part(d, part);
}

// One micro-batch on one stage: the forward pass of the stage's expert-parallel group (the whole
// model's, of which a stage does 1/pp: the head and embedding are spread too, a small
// approximation), slowed by the framework's achieved fraction of the modelled speed
// (docs/training.md: calibrated on a dense row, never on the case being predicted); the backward
// pass scales each phase of it by backward_factor(), and full recomputation first re-runs the forward
// pass from the stored layer inputs (Korthikanti et al., arXiv 2205.05198, sec. 4).
struct MicroBatch {
  DeploymentStep step;
  Timeline timeline;
  double forward_s = 0, recompute_s = 0, backward_s = 0;
};

// Backward time of each kind of forward work, as a multiple of its forward time
// (docs/training.md "Backward pass"). A profile's kernel class backward_ratio (measured on a
// training trace) replaces the derived defaults:
// - GEMMs: 2 (the data gradient and the weight gradient each do the forward's FLOPs);
// - attention: 2.5 (FlashAttention-2's backward runs five matmuls to the forward's two; Dao,
//   arXiv 2307.08691, sec. 3.2);
// - collectives: 1 (the gradients cross the same links once, in reverse);
// - everything else (norms, casts, permutes, the loss): 2.
}  // namespace

double backward_factor(Phase p, const hw::HwProfile* profile) {
  const char* cls = nullptr;
  double derived = 2.0;
  switch (p) {
    case Phase::attention_proj:
    case Phase::gate:
    case Phase::shared_expert:
    case Phase::dense_mlp:
    case Phase::experts:
    case Phase::lm_head: cls = "gemm"; break;
    case Phase::attention: cls = "attention"; derived = 2.5; break;
    case Phase::dispatch:
    case Phase::combine:
    case Phase::pipeline:
    case Phase::kv_transfer: return 1.0;
    case Phase::engine:
    case Phase::other: return 2.0;
    default: cls = phase_name(p); break;
  }
  if (profile != nullptr) {
    auto it = profile->kernel_classes.find(cls);
    if (it != profile->kernel_classes.end() && it->second.backward_ratio) return *it->second.backward_ratio;
  }
  return derived;
}

namespace {

MicroBatch micro_batch(const Deployment& d, const TrainingSpec& tr) {
  MicroBatch mb;
  mb.step = training_forward_step(d, tr);
  mb.timeline = evaluate_analytic(mb.step.graph);
  mb.forward_s = mb.timeline.makespan / d.par.pp / tr.framework_efficiency;
  mb.recompute_s = tr.full_recompute ? mb.forward_s : 0.0;
  // The backward pass: each phase of the forward's critical path scaled by its factor (a TP
  // all-reduce on the critical path counts with the phase it closes, as the forward pass does).
  const std::vector<double> phases = critical_path_phases(mb.step.graph, mb.timeline);
  double weighted = 0, total = 0;
  for (int p = 0; p < kNumPhases; ++p) {
    weighted += backward_factor(static_cast<Phase>(p), d.hw_profile.get()) * phases[static_cast<std::size_t>(p)];
    total += phases[static_cast<std::size_t>(p)];
  }
  mb.backward_s = (total > 0 ? weighted / total : 2.0) * mb.forward_s + mb.recompute_s;
  return mb;
}

// 1F1B: m micro-batches through pp stages; the bubble is (pp - 1) forward+backward slots,
// divided by the number of model chunks per stage when interleaved.
struct Pipeline {
  double bubble_s = 0, total_s = 0;
};

Pipeline one_f_one_b(const MicroBatch& mb, int micro_batches, int pp, int virtual_stages) {
  const double per_mb = mb.forward_s + mb.backward_s;
  Pipeline p;
  p.bubble_s = (pp - 1) * per_mb / virtual_stages;
  p.total_s = micro_batches * per_mb + p.bubble_s;
  return p;
}

// Parameters on the fullest device (first/last stage): its stage's dense part (split by
// attention TP) with the embedding and head, and its experts.
struct DeviceParams {
  double dense = 0, expert = 0;
};

DeviceParams params_per_device(const Deployment& d) {
  const ModelConfig& m = d.model;
  const ParallelLayout& par = d.par;
  DeviceParams p;
  for (int l = 0; l < par.layers_per_stage; ++l) {
    const LayerParams lp = layer_parameters(m, l);
    p.dense += (lp.attention + lp.dense_mlp + lp.shared_experts + lp.gate + lp.norms) / par.attention_tp;
    if (m.layers[static_cast<std::size_t>(l)].moe) {
      p.expert += static_cast<double>(m.moe.num_experts + par.redundant_experts) / par.expert_ep * lp.routed_expert / par.expert_tp;
    }
  }
  const ParamCounts pc = count_parameters(m);
  p.dense += (pc.embedding + pc.lm_head) / par.attention_tp;
  return p;
}

// Data parallelism: dense weights are replicated over attention DP, experts over what expert
// parallelism leaves. ZeRO-1 reduce-scatters the gradients and all-gathers the parameters, each
// (n-1)/n of the bytes per device, over the device's share of the scale-out NICs (or NVLink
// inside one node); the reduction overlaps the last backward pass (bucketed as Megatron does)
// and the rest is exposed.
struct DataParallel {
  int dp_dense = 1, dp_expert = 1;
  double sync_s = 0, exposed_s = 0;
  double shard = 0;  // parameters of this device's optimizer shard
};

DataParallel data_parallel(const Deployment& d, const DeviceParams& params, double backward_s) {
  const ParallelLayout& par = d.par;
  DataParallel dp;
  dp.dp_dense = par.attention_dp;
  dp.dp_expert = std::max(1, par.devices / (par.expert_ep * par.expert_tp * par.pp));
  const hw::FabricSpec& fabric = d.fabric.spec;
  const double nic_bw = fabric.has_scale_out ? fabric.scale_out.effective_bandwidth() * fabric.nics_per_node /
                                                   fabric.devices_per_node
                                             : fabric.scale_up.effective_bandwidth();
  auto ring = [&](double p, int n) {
    const double bw = n <= par.devices_per_node && n > 1 ? fabric.scale_up.effective_bandwidth() : nic_bw;
    return n > 1 ? 2.0 * (n - 1) / n * p * kGradBytes / bw : 0.0;
  };
  dp.sync_s = ring(params.dense, dp.dp_dense) + ring(params.expert, dp.dp_expert);
  dp.exposed_s = std::max(0.0, dp.sync_s - backward_s);
  dp.shard = params.dense / dp.dp_dense + params.expert / dp.dp_expert;
  return dp;
}

// Memory of the fullest device: weights, gradients, its optimizer shard, and the activations of
// the micro-batches in flight on the first stage (pp of them under 1F1B). Full recomputation
// keeps only each layer's 16-bit input (2 s b h bytes per layer, same paper) plus one layer's
// full set while it is being recomputed.
void training_memory(const Deployment& d, const TrainingSpec& tr, const DeviceParams& params, const DataParallel& dp,
                     int micro_batches, Report& r) {
  const ModelConfig& m = d.model;
  const ParallelLayout& par = d.par;
  const double wbytes = hw::dtype_bytes(d.weights_dtype);
  r.memory_weights = (params.dense + params.expert) * wbytes;
  r.memory_buffers = (params.dense + params.expert) * kGradBytes + dp.shard * kOptimizerBytes + kRuntimeReserveBytes;
  const double tokens_per_mb = static_cast<double>(tr.micro_batch) * tr.seq_len;
  const double per_layer = (tr.full_recompute ? kRecomputeBytesPerHidden : kActivationBytesPerHidden) * m.hidden *
                           tokens_per_mb / par.attention_tp;
  r.memory_activations = per_layer * par.layers_per_stage * std::min(par.pp, micro_batches) +
                         (tr.full_recompute ? kActivationBytesPerHidden * m.hidden * tokens_per_mb / par.attention_tp : 0.0);
  r.memory_total = r.memory_weights + r.memory_buffers + r.memory_activations;
  r.memory_capacity = d.dev().memory_bytes;
  if (r.memory_total > r.memory_capacity) {
    r.feasible = false;
    r.reason = "training state does not fit: " + std::to_string(r.memory_total / 1e9) + " GB per device (weights, " +
               "gradients, optimizer shard, activations " + (tr.full_recompute ? "with full" : "without") +
               " recomputation), the device has " +
               std::to_string(r.memory_capacity / 1e9) + " GB";
  }
}

}  // namespace

DeploymentStep training_forward_step(const Deployment& d, const TrainingSpec& tr) {
  StepShape fwd;
  fwd.kind = WorkloadKind::prefill;
  fwd.batch_per_device = tr.micro_batch;
  fwd.input_tokens = tr.seq_len;
  fwd.logits_every_token = true;
  return build_step(forward_group(d), fwd, TrafficDetail::port_sums);
}

std::expected<Report, std::string> simulate_training(const Scenario& s, const Deployment& d) {
  const auto t0 = std::chrono::steady_clock::now();
  const TrainingSpec& tr = s.workload.training;
  const ParallelLayout& par = d.par;
  const int micro_batches = tr.global_batch / (tr.micro_batch * par.attention_dp);

  const MicroBatch mb = micro_batch(d, tr);
  const Pipeline pipeline = one_f_one_b(mb, micro_batches, par.pp, tr.virtual_stages);
  const DeviceParams params = params_per_device(d);
  const DataParallel dp = data_parallel(d, params, mb.backward_s);
  // Adam on the device's shard, in bf16 on the device's cost model.
  const CostModel cost(d.dev(), hw::DType::bf16, d.hw_profile.get(), d.power_cap_w);
  const double optimizer = cost.kernel(10.0 * dp.shard, kAdamTrafficBytes * dp.shard).seconds;
  const double step_time = pipeline.total_s + dp.exposed_s + optimizer;

  Report r;
  r.scenario = s.name;
  r.workload = "training";
  r.fidelity = "analytic";
  r.model = d.model.name;
  r.device = d.dev().name;
  name_hw_profile(d, r);
  r.devices = par.devices;
  r.nodes = par.nodes;
  r.simulated = true;
  training_memory(d, tr, params, dp, micro_batches, r);
  r.step_time_s = step_time;
  const double tokens = static_cast<double>(tr.global_batch) * tr.seq_len;
  r.input_tokens_per_s = tokens / step_time;
  const std::vector<double> phases = critical_path_phases(mb.step.graph, mb.timeline);
  // Forward phases scaled to the whole step's compute (forward + backward of every micro-batch).
  const double scale = pipeline.total_s / mb.timeline.makespan;
  for (int p = 0; p < kNumPhases; ++p) {
    if (is_step_phase(static_cast<Phase>(p))) r.phases_s[phase_name(static_cast<Phase>(p))] = phases[static_cast<std::size_t>(p)] * scale;
  }
  r.phases_s["other"] += dp.exposed_s + optimizer;
  const auto peak = d.dev().peak(mb.step.compute_dtype);
  TrainingStats st;
  st.micro_batches = micro_batches;
  st.forward_s = mb.forward_s;
  st.backward_s = mb.backward_s;
  st.recompute_s = mb.recompute_s;
  st.bubble_fraction = pipeline.bubble_s / step_time;
  st.dp_sync_s = dp.sync_s;
  st.dp_exposed_s = dp.exposed_s;
  st.optimizer_s = optimizer;
  st.tokens_per_s_per_device = tokens / step_time / par.devices;
  st.model_flops_per_token = 3.0 * forward_flops_per_token(d.model, tr.seq_len);
  st.mfu = peak ? st.model_flops_per_token * tokens / step_time / (par.devices * *peak) : 0.0;
  st.device_hours_per_trillion_tokens = 1e12 / st.tokens_per_s_per_device / 3600.0;
  r.training = st;
  r.price_per_device_hour = d.price_per_device_hour;
  r.events = static_cast<long long>(mb.step.graph.tasks.size());
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace moesim::sim
