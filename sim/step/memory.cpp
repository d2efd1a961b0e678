#include "step/memory.hpp"

#include <algorithm>
#include <cmath>

#include "step/step_tokens.hpp"
#include "units.hpp"

namespace moesim::sim {
namespace {

/// KV-cache elements per token of layer `l` on one device: GQA heads split over attention TP
/// (replicated when TP exceeds the KV heads); the MLA latent is shared by all heads.
double kv_elements_per_device_token(const ModelConfig& m, int l, int tp) {
  double per_token = kv_elements_per_token(m, l);
  if (m.attention.kind == AttentionKind::gqa) per_token /= std::min<double>(tp, m.attention.num_kv_heads);
  return per_token;
}

// Weights of the fullest pipeline stage (the first): its layers' linear layers split by TP and
// its share of the routed experts; routers and norms replicated; embedding and head split over
// TP. Also records the routed experts' bytes, which flash offload needs.
void add_weights(const Deployment& d, MemoryBreakdown& mem) {
  const ModelConfig& m = d.model;
  const ParallelLayout& par = d.par;
  const double wbytes = hw::dtype_bytes(d.weights_dtype);
  const double tp = par.attention_tp;
  double linear_params = 0;
  for (int l = 0; l < par.layers_per_stage; ++l) {
    const LayerParams lp = layer_parameters(m, l);
    linear_params += lp.attention / tp + lp.dense_mlp / tp + lp.shared_experts / tp;
    if (m.layers[static_cast<std::size_t>(l)].moe) {
      const double local_experts = static_cast<double>(m.moe.num_experts + par.redundant_experts) / par.expert_ep;
      linear_params += local_experts * lp.routed_expert / par.expert_tp;
      mem.expert_bytes = lp.routed_expert / par.expert_tp * wbytes;
      mem.layer_expert_bytes = local_experts * mem.expert_bytes;
      mem.routed_expert_bytes += mem.layer_expert_bytes;
    }
  }
  if (d.speculative && d.speculative->method == SpeculativeSpec::Method::mtp && m.mtp_layers > 0 && !m.layers.empty()) {
    // The MTP modules: eh_proj (2h -> h) and a decoder layer shaped like the last, split as the
    // main layers are (on the last pipeline stage; counted here, which overstates the first
    // stage's weights with pipeline stages).
    const LayerParams lp = layer_parameters(m, m.num_layers - 1);
    double module = 2.0 * m.hidden * m.hidden / tp + lp.attention / tp + lp.dense_mlp / tp + lp.shared_experts / tp;
    if (m.layers.back().moe) {
      module += static_cast<double>(m.moe.num_experts + par.redundant_experts) / par.expert_ep * lp.routed_expert / par.expert_tp;
    }
    linear_params += m.mtp_layers * module;
  }
  const ParamCounts pc = count_parameters(m);
  const double high_precision_params = pc.gate + pc.norms + (pc.embedding + pc.lm_head) / tp;
  mem.weights = linear_params * wbytes + high_precision_params * kHighPrecisionBytes;
}

// KV cache of the stage's layers for the step's sequences (sliding-window layers keep at most
// their window per sequence).
// (DSA's indexer keys beside it, in their own format; a recurrent layer's state per sequence
// instead of it, split over TP like its heads, added to `state`.)
double kv_cache_bytes(const Deployment& d, const StepShape& w, const StepTokens& sh, double& state) {
  const ModelConfig& m = d.model;
  const double kv_tokens = w.kind == WorkloadKind::decode
                               ? static_cast<double>(w.batch_per_device) * (w.context_tokens + 1) * w.attention_imbalance +
                                     sh.chunk_tokens + sh.chunk_context
                               : sh.tokens_per_rank + static_cast<double>(w.batch_per_device) * w.cached_tokens;
  // Sequences holding a state: the decode batch and a chunked prefill's prompt (one).
  const double sequences = static_cast<double>(w.batch_per_device) + (sh.chunk_tokens > 0 ? 1.0 : 0.0);
  double kv_elems = 0, other = 0;
  for (int l = 0; l < d.par.layers_per_stage; ++l) {
    const double per_token = kv_elements_per_device_token(m, l, d.par.attention_tp);
    const int window = m.layers[static_cast<std::size_t>(l)].sliding_window;
    const double tokens = window > 0 ? std::min<double>(kv_tokens, static_cast<double>(w.batch_per_device) * window)
                                     : kv_tokens;
    kv_elems += per_token * tokens;
    other += index_bytes_per_token(m, l) * tokens;
    state += recurrent_state_bytes(m, l) / d.par.attention_tp * sequences;
  }
  return kv_elems * hw::dtype_bytes(d.kv_dtype) + other + state;
}

// Live activations of one layer: residual stream, attention/MLP inputs and outputs, and the
// widest MLP intermediate (gate and up halves) for the tokens of this device; and the
// dispatch/combine buffers (every token may go to top_k destinations and come back) with the
// runtime's reserve.
void add_activations_and_buffers(const Deployment& d, const StepTokens& sh, MemoryBreakdown& mem) {
  const ModelConfig& m = d.model;
  const double tp = d.par.attention_tp;
  const double widest = std::max<double>(m.dense_intermediate / tp,
                                         m.is_moe() ? static_cast<double>(m.moe.expert_intermediate) * m.moe.top_k
                                                    : 0.0);
  mem.activations = sh.tokens_per_rank * (4.0 * m.hidden + 2.0 * widest) * kActivationBytes;
  const double a2a = m.is_moe() && d.par.expert_ep > 1
                         ? 2.0 * sh.tokens_per_rank * m.moe.top_k * m.hidden * kActivationBytes
                         : 0.0;
  mem.buffers = a2a + kRuntimeReserveBytes;
}

// A phone keeps what does not fit of its routed experts in flash (docs/phones.md): everything
// else stays resident, and the RAM left over caches experts. It needs at least one layer's
// experts in RAM at a time.
void offload_to_flash(MemoryBreakdown& mem) {
  mem.offloaded = true;
  const double resident = mem.total - mem.routed_expert_bytes;
  mem.weights -= mem.routed_expert_bytes;
  if (resident + mem.layer_expert_bytes > mem.capacity) {
    mem.offload_problem = "does not fit even with flash offload: the resident part (weights without routed experts " +
                          format_quantity(mem.weights, Dimension::bytes) + ", KV cache " +
                          format_quantity(mem.kv_cache, Dimension::bytes) + ", activations and buffers " +
                          format_quantity(mem.activations + mem.buffers, Dimension::bytes) +
                          ") plus one layer's experts (" + format_quantity(mem.layer_expert_bytes, Dimension::bytes) +
                          ") needs " + format_quantity(resident + mem.layer_expert_bytes, Dimension::bytes) +
                          ", has " + format_quantity(mem.capacity, Dimension::bytes);
    mem.weights += mem.layer_expert_bytes;
    mem.total = resident + mem.layer_expert_bytes;
  } else {
    mem.cache_bytes = mem.capacity - resident;
    mem.cache_experts = std::floor(mem.cache_bytes / mem.expert_bytes);
    mem.weights += mem.cache_experts * mem.expert_bytes;
    mem.total = resident + mem.cache_experts * mem.expert_bytes;
  }
}

}  // namespace

MemoryBreakdown memory_per_device(const Deployment& d, const StepShape& shape) {
  StepShape w = shape;
  if (w.kind == WorkloadKind::prefill) w.context_parallel = d.par.attention_cp;
  const StepTokens sh = step_tokens(w);
  MemoryBreakdown mem;
  add_weights(d, mem);
  mem.kv_cache = kv_cache_bytes(d, w, sh, mem.recurrent_state);
  add_activations_and_buffers(d, sh, mem);
  if (d.speculative && d.speculative->draft && w.kind == WorkloadKind::decode) {
    // The draft model's weights and KV cache sit beside the target's on every device.
    StepShape dw = w;
    dw.verify_tokens = 1;
    const MemoryBreakdown draft = memory_per_device(draft_deployment(d), dw);
    mem.weights += draft.weights;
    mem.kv_cache += draft.kv_cache;
  }
  mem.total = mem.weights + mem.kv_cache + mem.activations + mem.buffers;
  mem.capacity = d.dev().memory_bytes;
  if (mem.total > mem.capacity && d.dev().flash_read_bandwidth && mem.routed_expert_bytes > 0) {
    offload_to_flash(mem);
  }
  return mem;
}

MemoryBreakdown memory_per_device(const Scenario& s) {
  return memory_per_device(resolve_deployment(s), step_shape_of(s.workload));
}

}  // namespace moesim::sim
