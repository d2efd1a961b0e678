#include "deployment.hpp"

#include <algorithm>
#include <cmath>

#include "all_to_all.hpp"
#include "cost_model.hpp"

namespace moesim::sim {
namespace {

constexpr double kHighPrecisionBytes = 2;  // embeddings, lm head, routers, norms stay in bf16
constexpr double kActivationBytes = 2;     // activations are bf16

// Expected number of a device's local experts that receive at least one of `pairs` token-expert
// assignments spread uniformly over `experts`.
double expected_touched(int local, double pairs, int experts) {
  return local * (1.0 - std::pow(1.0 - 1.0 / experts, pairs));
}

struct Shape {
  double tokens_per_rank = 0;   // tokens an attention DP rank processes in this step
  double attended_context = 0;  // context each new token attends to (average)
};

Shape step_shape(const Scenario& s) {
  Shape sh;
  const auto& w = s.workload;
  if (w.kind == WorkloadKind::decode) {
    sh.tokens_per_rank = w.batch_per_device;
    sh.attended_context = w.context_tokens + 1;
  } else {
    sh.tokens_per_rank = static_cast<double>(w.batch_per_device) * w.input_tokens;
    sh.attended_context = (w.input_tokens + 1) / 2.0;  // causal: token i attends to i tokens
  }
  return sh;
}

}  // namespace

MemoryBreakdown memory_per_device(const Scenario& s) {
  const ModelConfig& m = s.model.config;
  const auto& par = s.parallelism;
  const double wbytes = hw::dtype_bytes(s.model.weights_dtype);
  const double tp = par.attention_tp;
  MemoryBreakdown mem;
  double linear_params = 0;
  for (int l = 0; l < m.num_layers; ++l) {
    const LayerParams lp = layer_parameters(m, l);
    linear_params += lp.attention / tp + lp.dense_mlp / tp + lp.shared_experts / tp;
    if (m.layers[static_cast<std::size_t>(l)].moe) {
      const double local_experts = static_cast<double>(m.moe.num_experts) / par.expert_ep;
      linear_params += local_experts * lp.routed_expert / par.expert_tp;
    }
  }
  const ParamCounts pc = count_parameters(m);
  // Routers and norms are replicated; embedding and head are vocabulary-parallel over TP.
  const double high_precision_params = pc.gate + pc.norms + (pc.embedding + pc.lm_head) / tp;
  mem.weights = linear_params * wbytes + high_precision_params * kHighPrecisionBytes;

  const Shape sh = step_shape(s);
  const double kv_tokens = s.workload.kind == WorkloadKind::decode
                               ? static_cast<double>(s.workload.batch_per_device) * (s.workload.context_tokens + 1)
                               : sh.tokens_per_rank;
  double kv_elems = 0;
  for (int l = 0; l < m.num_layers; ++l) {
    double per_token = kv_elements_per_token(m, l);
    // GQA heads split over TP (replicated when TP exceeds the KV heads); the MLA latent is shared.
    if (m.attention.kind == AttentionKind::gqa) {
      per_token /= std::min<double>(tp, m.attention.num_kv_heads);
    }
    const int window = m.layers[static_cast<std::size_t>(l)].sliding_window;
    const double tokens = window > 0 ? std::min<double>(kv_tokens, static_cast<double>(s.workload.batch_per_device) * window)
                                     : kv_tokens;
    kv_elems += per_token * tokens;
  }
  mem.kv_cache = kv_elems * hw::dtype_bytes(s.model.kv_dtype);

  // Live activations of one layer: residual stream, attention/MLP inputs and outputs, and the
  // widest MLP intermediate (gate and up halves) for the tokens of this device.
  const double widest = std::max<double>(m.dense_intermediate / tp,
                                         m.is_moe() ? static_cast<double>(m.moe.expert_intermediate) * m.moe.top_k
                                                    : 0.0);
  mem.activations = sh.tokens_per_rank * (4.0 * m.hidden + 2.0 * widest) * kActivationBytes;
  // Dispatch/combine buffers: every token may be sent to top_k destinations and come back.
  const double a2a = m.is_moe() && par.expert_ep > 1
                         ? 2.0 * sh.tokens_per_rank * m.moe.top_k * m.hidden * kActivationBytes
                         : 0.0;
  mem.buffers = a2a + kRuntimeReserveBytes;
  mem.total = mem.weights + mem.kv_cache + mem.activations + mem.buffers;
  mem.capacity = s.cluster.device->memory_bytes;
  return mem;
}

DeploymentStep build_deployment_step(const Scenario& s) {
  const ModelConfig& m = s.model.config;
  const auto& par = s.parallelism;
  const hw::Device& dev = *s.cluster.device;
  const CostModel cost(dev, s.model.weights_dtype);
  const double wbytes = hw::dtype_bytes(s.model.weights_dtype);
  const int n = s.cluster.num_devices();
  const int tp = par.attention_tp;
  const Shape sh = step_shape(s);

  DeploymentStep out;
  out.memory = memory_per_device(s);
  out.compute_dtype = cost.compute_dtype();
  out.dispatch_dtype = s.communication.dispatch_dtype.value_or(
      cost.compute_dtype() == hw::DType::fp8 ? hw::DType::fp8 : hw::DType::bf16);
  out.combine_dtype = s.communication.combine_dtype.value_or(hw::DType::bf16);
  out.sequences = static_cast<double>(s.workload.batch_per_device) * par.attention_dp;
  if (s.workload.kind == WorkloadKind::decode) {
    out.output_tokens = out.sequences;
  } else {
    out.input_tokens = out.sequences * s.workload.input_tokens;
    out.output_tokens = out.sequences;  // each prompt yields its first token
  }

  StepGraph& g = out.graph;
  g.num_devices = n;
  g.fabric.spec = fabric_of(s);

  const double T = sh.tokens_per_rank;   // tokens each device holds (TP ranks hold the same ones)
  const double act = kActivationBytes;
  std::vector<int> last(static_cast<std::size_t>(n), -1);  // last task of each device

  auto compute = [&](Phase ph, int layer, int d, double flops, double bytes) {
    const KernelCost c = cost.kernel(flops, bytes);
    Task t;
    t.phase = ph;
    t.layer = layer;
    t.device = d;
    t.seconds = c.seconds;
    t.flops = c.flops;
    t.bytes = c.bytes;
    if (last[static_cast<std::size_t>(d)] >= 0) t.deps.push_back(last[static_cast<std::size_t>(d)]);
    last[static_cast<std::size_t>(d)] = g.add(std::move(t));
  };
  auto collective = [&](Phase ph, int layer, std::shared_ptr<const TrafficMatrix> traffic) {
    Task t;
    t.phase = ph;
    t.layer = layer;
    t.traffic = std::move(traffic);
    for (int d = 0; d < n; ++d) {
      if (last[static_cast<std::size_t>(d)] >= 0) t.deps.push_back(last[static_cast<std::size_t>(d)]);
    }
    std::sort(t.deps.begin(), t.deps.end());
    t.deps.erase(std::unique(t.deps.begin(), t.deps.end()), t.deps.end());
    const int id = g.add(std::move(t));
    std::fill(last.begin(), last.end(), id);
  };

  // Ring all-reduce inside each attention TP group: each rank sends 2 (tp-1)/tp of the message.
  std::shared_ptr<const TrafficMatrix> tp_allreduce;
  if (tp > 1) {
    auto mtx = std::make_shared<TrafficMatrix>(g.fabric.num_ports());
    const double msg = T * m.hidden * act;
    for (int d = 0; d < n; ++d) {
      const int group = d / tp, rank = d % tp;
      mtx->at(d, group * tp + (rank + 1) % tp) = 2.0 * (tp - 1) / tp * msg;
    }
    tp_allreduce = mtx;
  }

  // Expert-parallel all-to-all. The tokens of an attention TP group are split among its ranks
  // for dispatch, so each device sends T / tp tokens.
  std::shared_ptr<const TrafficMatrix> dispatch, combine;
  double pairs_per_expert = 0;  // token-expert assignments each expert receives
  if (m.is_moe()) {
    if (par.expert_ep > 1) {
      AllToAllSpec a2a;
      a2a.experts = m.moe.num_experts;
      a2a.top_k = m.moe.top_k;
      a2a.hidden = m.hidden;
      a2a.tokens.assign(static_cast<std::size_t>(n), T / tp);
      a2a.dispatch_dtype = out.dispatch_dtype;
      a2a.combine_dtype = out.combine_dtype;
      a2a.algorithm = s.communication.all_to_all;
      AllToAllTraffic traffic = expert_all_to_all(g.fabric, a2a);
      dispatch = traffic.dispatch;
      combine = traffic.combine;
    }
    pairs_per_expert = T * par.attention_dp * m.moe.top_k / m.moe.num_experts;
  }

  for (int l = 0; l < m.num_layers; ++l) {
    const LayerParams lp = layer_parameters(m, l);
    const bool moe = m.layers[static_cast<std::size_t>(l)].moe;
    // Attention: projections over this rank's tokens (heads split by TP) and the KV-cache read.
    const double attn_flops = T * attention_flops_per_token(m, l, sh.attended_context) / tp;
    double kv_per_token = kv_elements_per_token(m, l) * hw::dtype_bytes(s.model.kv_dtype);
    if (m.attention.kind == AttentionKind::gqa) kv_per_token /= std::min<double>(tp, m.attention.num_kv_heads);
    const int window = m.layers[static_cast<std::size_t>(l)].sliding_window;
    const double ctx = window > 0 ? std::min<double>(sh.attended_context, window) : sh.attended_context;
    const double seqs = s.workload.batch_per_device;
    const double kv_read = s.workload.kind == WorkloadKind::decode ? seqs * ctx * kv_per_token
                                                                   : T * kv_per_token;
    const double attn_bytes = lp.attention / tp * wbytes + kv_read + 2.0 * T * m.hidden * act;
    for (int d = 0; d < n; ++d) compute(Phase::attention, l, d, attn_flops, attn_bytes);
    if (tp_allreduce) collective(Phase::attention, l, tp_allreduce);
    // Residual adds and norms.
    for (int d = 0; d < n; ++d) compute(Phase::other, l, d, 10.0 * T * m.hidden, 6.0 * T * m.hidden * act);

    if (!moe) {
      const double mlp_flops = 2.0 * T * lp.dense_mlp / tp;
      const double mlp_bytes = lp.dense_mlp / tp * wbytes + 2.0 * T * m.hidden * act;
      for (int d = 0; d < n; ++d) compute(Phase::dense_mlp, l, d, mlp_flops, mlp_bytes);
      if (tp_allreduce) collective(Phase::dense_mlp, l, tp_allreduce);
      continue;
    }
    // Router over every token of the rank (kept in bf16).
    const double gate_flops = 2.0 * T * lp.gate;
    const double gate_bytes = lp.gate * kHighPrecisionBytes + T * m.hidden * act;
    for (int d = 0; d < n; ++d) compute(Phase::gate, l, d, gate_flops, gate_bytes);
    if (lp.shared_experts > 0) {
      const double sh_flops = 2.0 * T * lp.shared_experts / tp;
      const double sh_bytes = lp.shared_experts / tp * wbytes + 2.0 * T * m.hidden * act;
      for (int d = 0; d < n; ++d) compute(Phase::shared_expert, l, d, sh_flops, sh_bytes);
    }
    if (dispatch) collective(Phase::dispatch, l, dispatch);
    // Routed experts: a grouped GEMM over the device's local experts, each sized by the tokens
    // it receives; weights are read for the experts that receive any token.
    const int local = m.moe.num_experts / par.expert_ep;
    const double pairs = pairs_per_expert * local;
    const double expert_params = lp.routed_expert / par.expert_tp;
    const double touched = expected_touched(local, pairs_per_expert * m.moe.num_experts, m.moe.num_experts);
    const double ex_flops = 2.0 * pairs * expert_params;
    const double ex_bytes = touched * expert_params * wbytes + 2.0 * pairs * m.hidden * act;
    for (int d = 0; d < n; ++d) compute(Phase::experts, l, d, ex_flops, ex_bytes);
    if (combine) collective(Phase::combine, l, combine);
    if (tp_allreduce && lp.shared_experts > 0) collective(Phase::shared_expert, l, tp_allreduce);
  }
  // Final norm and lm head over the last token of each sequence (vocabulary split over TP).
  const ParamCounts pc = count_parameters(m);
  const double head_params = (m.tie_embeddings ? pc.embedding : pc.lm_head) / tp;
  const double seqs = s.workload.batch_per_device;
  for (int d = 0; d < n; ++d) {
    compute(Phase::other, -1, d, 2.0 * seqs * head_params,
            head_params * kHighPrecisionBytes + seqs * m.hidden * act);
  }
  out.expert_max_over_mean = 1.0;  // expected-value routing balances every expert exactly
  return out;
}

}  // namespace moesim::sim
