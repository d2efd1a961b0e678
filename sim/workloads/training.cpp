#include "workloads/training.hpp"

#include <algorithm>
#include <chrono>

#include "step/step.hpp"
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

}  // namespace

std::expected<Report, std::string> simulate_training(const Scenario& s, const Deployment& d) {
  const auto t0 = std::chrono::steady_clock::now();
  const TrainingSpec& tr = s.workload.training;
  const ModelConfig& m = d.model;
  const ParallelLayout& par = d.par;
  const int devices = par.devices;
  const int pp = par.pp;
  const int micro_batches = tr.global_batch / (tr.micro_batch * par.attention_dp);

  // One stage's devices run the whole model's forward pass for a micro-batch; a stage's share is
  // 1/pp of it (the head and embedding are spread too: a small approximation).
  StepShape fwd;
  fwd.kind = WorkloadKind::prefill;
  fwd.batch_per_device = tr.micro_batch;
  fwd.input_tokens = tr.seq_len;
  const DeploymentStep step = build_step(forward_group(d), fwd, TrafficDetail::port_sums);
  const Timeline timeline = evaluate_analytic(step.graph);
  // One stage, one micro-batch, forward; the framework's achieved fraction of the modelled speed
  // (docs/training.md: calibrated on a dense row, never on the case being predicted) slows it.
  const double t_f = timeline.makespan / pp / tr.framework_efficiency;
  // Backward: twice the matmul work and traffic; full recomputation first re-runs the forward
  // pass from the stored layer inputs (Korthikanti et al., arXiv 2205.05198, sec. 4).
  const double recompute = tr.full_recompute ? t_f : 0.0;
  const double t_b = 2.0 * t_f + recompute;

  // 1F1B: m micro-batches through pp stages; the bubble is (pp - 1) forward+backward slots,
  // divided by the number of model chunks per stage when interleaved.
  const double per_mb = t_f + t_b;
  const double bubble = (pp - 1) * per_mb / tr.virtual_stages;
  const double pipeline = micro_batches * per_mb + bubble;

  // Parameters on one device: its stage's dense part (split by attention TP) and its experts.
  double dense = 0, expert = 0;
  const int layers_per_stage = (m.num_layers + pp - 1) / pp;
  for (int l = 0; l < layers_per_stage; ++l) {
    const LayerParams lp = layer_parameters(m, l);
    dense += (lp.attention + lp.dense_mlp + lp.shared_experts + lp.gate + lp.norms) / par.attention_tp;
    if (m.layers[static_cast<std::size_t>(l)].moe) {
      expert += static_cast<double>(m.moe.num_experts + par.redundant_experts) / par.expert_ep * lp.routed_expert / par.expert_tp;
    }
  }
  const ParamCounts pc = count_parameters(m);
  dense += (pc.embedding + pc.lm_head) / par.attention_tp;  // first/last stage: the fullest
  // Data-parallel degrees: dense weights are replicated over attention DP, experts over what
  // expert parallelism leaves.
  const int dp_dense = par.attention_dp;
  const int dp_expert = std::max(1, devices / (par.expert_ep * par.expert_tp * pp));
  // ZeRO-1: reduce-scatter the gradients and all-gather the parameters, each (n-1)/n of the bytes
  // per device, over the device's share of the scale-out NICs (or NVLink inside one node).
  const hw::FabricSpec& fabric = d.fabric.spec;
  const double nic_bw = fabric.has_scale_out ? fabric.scale_out.effective_bandwidth() * fabric.nics_per_node /
                                                   fabric.devices_per_node
                                             : fabric.scale_up.effective_bandwidth();
  auto ring = [&](double params, int n) {
    const double bw = n <= par.devices_per_node && n > 1 ? fabric.scale_up.effective_bandwidth() : nic_bw;
    return n > 1 ? 2.0 * (n - 1) / n * params * kGradBytes / bw : 0.0;
  };
  const double dp_sync = ring(dense, dp_dense) + ring(expert, dp_expert);
  // The gradient reduction overlaps the last backward pass (bucketed as Megatron does); the rest
  // is exposed.
  const double dp_exposed = std::max(0.0, dp_sync - t_b);
  const CostModel cost(d.dev(), hw::DType::bf16, d.hw_profile.get(), d.power_cap_w);
  const double shard = dense / dp_dense + expert / dp_expert;
  const double optimizer = cost.kernel(10.0 * shard, kAdamTrafficBytes * shard).seconds;
  const double step_time = pipeline + dp_exposed + optimizer;

  Report r;
  r.scenario = s.name;
  r.workload = "training";
  r.fidelity = "analytic";
  r.model = m.name;
  r.device = d.dev().name;
  r.devices = devices;
  r.nodes = par.nodes;
  r.simulated = true;
  // Memory of the fullest device: weights, gradients, its optimizer shard, and the activations of
  // the micro-batches in flight on the first stage (pp of them under 1F1B).
  const double wbytes = hw::dtype_bytes(d.weights_dtype);
  r.memory_weights = (dense + expert) * wbytes;
  r.memory_buffers = (dense + expert) * kGradBytes + shard * kOptimizerBytes + kRuntimeReserveBytes;
  // Full recomputation keeps only each layer's 16-bit input (2 s b h bytes per layer, same paper)
  // plus one layer's full set while it is being recomputed.
  const double tokens_per_mb = static_cast<double>(tr.micro_batch) * tr.seq_len;
  const double per_layer = (tr.full_recompute ? kRecomputeBytesPerHidden : kActivationBytesPerHidden) * m.hidden *
                           tokens_per_mb / par.attention_tp;
  r.memory_activations = per_layer * layers_per_stage * std::min(pp, micro_batches) +
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
  r.step_time_s = step_time;
  const double tokens = static_cast<double>(tr.global_batch) * tr.seq_len;
  r.input_tokens_per_s = tokens / step_time;
  const std::vector<double> phases = critical_path_phases(step.graph, timeline);
  // Forward phases scaled to the whole step's compute (forward + backward of every micro-batch).
  const double scale = pipeline / timeline.makespan;
  for (int p = 0; p < kNumPhases; ++p) {
    r.phases_s[phase_name(static_cast<Phase>(p))] = phases[static_cast<std::size_t>(p)] * scale;
  }
  r.phases_s["other"] += dp_exposed + optimizer;
  const auto peak = d.dev().peak(step.compute_dtype);
  TrainingStats st;
  st.micro_batches = micro_batches;
  st.forward_s = t_f;
  st.backward_s = t_b;
  st.recompute_s = recompute;
  st.bubble_fraction = bubble / step_time;
  st.dp_sync_s = dp_sync;
  st.dp_exposed_s = dp_exposed;
  st.optimizer_s = optimizer;
  st.tokens_per_s_per_device = tokens / step_time / devices;
  st.model_flops_per_token = 3.0 * forward_flops_per_token(m, tr.seq_len);
  st.mfu = peak ? st.model_flops_per_token * tokens / step_time / (devices * *peak) : 0.0;
  st.device_hours_per_trillion_tokens = 1e12 / st.tokens_per_s_per_device / 3600.0;
  r.training = st;
  r.price_per_device_hour = d.price_per_device_hour;
  r.events = static_cast<long long>(step.graph.tasks.size());
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace moesim::sim
