#include "step/mixer_work.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace moesim::sim {
namespace {

// Softmax attention over this micro-batch's tokens: the projections, the attention kernel over
// its share of the KV cache (a chunked prefill's prompt tokens at their own context), the
// KV-cache write and the rotary embedding. With DSA, the indexer scores every earlier token and
// the kernel spans the top-k; the KV cache keeps (and the indexer reads) every token.
AttentionWork attention(const Deployment& d, const StepShape& w, const StepTokens& sh, int l, const LayerParams& lp,
                        const MixerTokens& t) {
  const ModelConfig& m = d.model;
  const AttentionSpec& at = m.attention;
  const double T = t.tokens, Tc = t.chunk_tokens, seqs = t.sequences, tp = d.par.attention_tp;
  const double wbytes = hw::dtype_bytes(d.weights_dtype);
  AttentionWork a;
  const bool mla = at.kind == AttentionKind::mla;
  const double heads = at.num_heads;
  const double v_dim = mla ? at.v_head_dim : at.head_dim;
  const double o_params = std::min(lp.attention, heads * v_dim * m.hidden);
  const double qkv_params = lp.attention - o_params;
  a.qkv_flops = 2.0 * T * qkv_params / tp;
  a.o_flops = 2.0 * T * o_params / tp;
  a.o_k = heads * v_dim / tp;
  a.qkv_k = m.hidden;
  if (mla) {
    // MLA's input projections reduce over different depths: q_a and kv_a over the hidden size,
    // q_b over the q rank, kv_b over the KV rank. Their FLOP-weighted harmonic depth has the
    // same total depth loss as the four GEMMs.
    const double h = m.hidden, qk = double(at.qk_nope_head_dim) + at.qk_rope_head_dim;
    std::vector<std::pair<double, double>> parts;  // (weights, depth)
    if (at.q_lora_rank > 0) {
      parts.emplace_back(h * at.q_lora_rank, h);
      parts.emplace_back(double(at.q_lora_rank) * heads * qk, at.q_lora_rank);
    } else {
      parts.emplace_back(h * heads * qk, h);
    }
    parts.emplace_back(h * (double(at.kv_lora_rank) + at.qk_rope_head_dim), h);
    parts.emplace_back(double(at.kv_lora_rank) * heads * (double(at.qk_nope_head_dim) + v_dim), at.kv_lora_rank);
    double wsum = 0, w_over_k = 0;
    for (const auto& [p, k] : parts) {
      wsum += p;
      w_over_k += p / k;
    }
    a.qkv_k = wsum / w_over_k;
  }
  // Scores and weighted sum of one token over `ctx` earlier tokens. MLA decode runs in the
  // absorbed form over the cached latent (FlashMLA); prompts decompress K and V and run
  // ordinary attention over qk_nope + qk_rope and v_head_dim (as DeepSeek's prefill does).
  auto core = [&](double ctx, bool prompt) {
    const double span = attention_span_tokens(m, l, ctx);
    if (!mla) return 4.0 * heads * at.head_dim * span;
    if (prompt) return 2.0 * heads * (double(at.qk_nope_head_dim) + at.qk_rope_head_dim) * span + 2.0 * heads * v_dim * span;
    return 2.0 * heads * (double(at.kv_lora_rank) + at.qk_rope_head_dim) * span + 2.0 * heads * at.kv_lora_rank * span;
  };
  const bool prefill = w.kind == WorkloadKind::prefill;
  a.core_flops = ((T - Tc) * core(sh.attended_context, prefill) + Tc * core(sh.chunk_context, true)) / tp;
  a.o_inputs = T * heads * v_dim / tp;
  double kv_per_token = kv_elements_per_token(m, l) * hw::dtype_bytes(d.kv_dtype);
  if (at.kind == AttentionKind::gqa) kv_per_token /= std::min<double>(tp, at.num_kv_heads);
  const int window = m.layers[static_cast<std::size_t>(l)].sliding_window;
  const double ctx = attention_span_tokens(m, l, sh.attended_context);
  const double chunk_ctx = attention_span_tokens(m, l, sh.chunk_context);
  const double cached = window > 0 ? std::min(w.cached_tokens, window) : w.cached_tokens;
  const double kv_read = w.kind == WorkloadKind::decode
                             ? seqs * ctx * kv_per_token + (Tc > 0 ? Tc + chunk_ctx : 0.0) * kv_per_token
                             : (T + seqs * cached) * kv_per_token;  // the prompt's own KV and its cached prefix
  const double q_elements = T * heads * (mla ? double(at.kv_lora_rank) + at.qk_rope_head_dim : at.head_dim) / tp;
  a.qkv_bytes = qkv_params / tp * wbytes + T * m.hidden * kActivationBytes + q_elements * kActivationBytes + T * kv_per_token;
  a.o_bytes = o_params / tp * wbytes + a.o_inputs * kActivationBytes + T * m.hidden * kActivationBytes;
  a.core_bytes = kv_read + q_elements * kActivationBytes + a.o_inputs * kActivationBytes;
  a.kv_write_bytes = T * kv_per_token;
  a.rope_elements = mla ? T * (heads / tp + 1.0) * at.qk_rope_head_dim
                        : T * (heads / tp + std::max(1.0, at.num_kv_heads / double(tp))) * at.head_dim;
  if (m.sparse.enabled()) {
    // DSA's indexer, its heads split over TP (DeepSeek-V3.2's inference/model.py:
    // n_local_heads = index_n_heads // world_size): ReLU(q.k) per head against every earlier
    // token's fp8 key, then the top-k. Its one key per token is shared by the heads, so every
    // device of the rank reads all of them; they are written and read in their own fp8 format.
    const double index_bytes = index_bytes_per_token(m, l);
    const double full = kv_cache_tokens(m, l, sh.attended_context), full_chunk = kv_cache_tokens(m, l, sh.chunk_context);
    const double scored = (T - Tc) * full + Tc * full_chunk;
    a.indexer_flops = 2.0 * m.sparse.index_heads * m.sparse.index_head_dim * scored / tp;
    const double keys_read = w.kind == WorkloadKind::decode ? seqs * full + (Tc > 0 ? Tc + full_chunk : 0.0) : T + seqs * cached;
    // The head-weighted fp32 score of every scored token is written, then read by the top-k.
    // (With TP, each device's partial sums over its heads would need combining; not modelled.)
    a.indexer_bytes = keys_read * index_bytes + 2.0 * scored * 4.0;
    a.kv_write_bytes += T * index_bytes;
  }
  return a;
}

// A linear recurrence (docs/models.md, "Linear attention and state-space layers"): in_proj and
// out_proj GEMMs, then per value head a key_dim x value_dim state. Decode reads and writes each
// sequence's state once per step and updates it per token; a prompt is scanned in chunks of C
// tokens (within-chunk attention-like products, 2C(K + V) FLOPs per token and head, and the
// chunk's state products, 6KV for Gated DeltaNet's delta rule, 4KV for Mamba-2), reading and
// writing the state once per chunk. The causal convolution before it keeps kernel - 1 inputs.
AttentionWork recurrence(const Deployment& d, const StepShape& w, int l, const LayerParams& lp, const MixerTokens& t) {
  const ModelConfig& m = d.model;
  const Mixer mx = m.layers[static_cast<std::size_t>(l)].mixer;
  const RecurrentSpec& r = m.recurrent;
  const double T = t.tokens, Tc = t.chunk_tokens, seqs = t.sequences, tp = d.par.attention_tp;
  const double wbytes = hw::dtype_bytes(d.weights_dtype);
  const double H = r.heads(mx), K = r.key_dim(mx), V = r.value_dim(mx), C = r.chunk;
  const double out_params = H * V * m.hidden;
  const double in_params = lp.attention - out_params;
  AttentionWork a;
  a.qkv_flops = 2.0 * T * in_params / tp;
  a.o_flops = 2.0 * T * out_params / tp;
  a.qkv_k = m.hidden;
  a.o_k = H * V / tp;
  a.o_inputs = T * H * V / tp;
  const double in_width = in_params / m.hidden;
  a.qkv_bytes = in_params / tp * wbytes + T * m.hidden * kActivationBytes + T * in_width / tp * kActivationBytes;
  a.o_bytes = out_params / tp * wbytes + a.o_inputs * kActivationBytes + T * m.hidden * kActivationBytes;
  const double state = recurrent_state_bytes(m, l) / tp;  // this device's share of one sequence's
  const double conv = 2.0 * r.conv_kernel * r.conv_channels(mx) / tp;  // FLOPs per token
  const double prompt_tokens = w.kind == WorkloadKind::prefill ? T : Tc;
  const double step_tokens = T - prompt_tokens;
  const double chunked = (2.0 * C * (K + V) + (mx == Mixer::gated_deltanet ? 6.0 : 4.0) * K * V) * H / tp;
  a.core_flops = step_tokens * recurrent_flops_per_state_element(mx) * H * K * V / tp + prompt_tokens * chunked +
                 T * conv;
  // Decode: each sequence's state in and out once per step; prompts: once per chunk.
  const double chunks = prompt_tokens > 0 ? std::max(1.0, std::ceil(prompt_tokens / C)) : 0.0;
  const double passes = (step_tokens > 0 ? seqs : 0.0) + chunks;
  a.core_bytes = 2.0 * passes * state + T * (r.conv_channels(mx) + 2.0 * H * V) / tp * kActivationBytes;
  return a;
}

}  // namespace

AttentionWork mixer_work(const Deployment& d, const StepShape& w, const StepTokens& sh, int layer, const LayerParams& lp,
                         const MixerTokens& t) {
  switch (d.model.layers[static_cast<std::size_t>(layer)].mixer) {
    case Mixer::attention: return attention(d, w, sh, layer, lp, t);
    case Mixer::gated_deltanet:
    case Mixer::mamba2: return recurrence(d, w, layer, lp, t);
    case Mixer::none: break;
  }
  return AttentionWork{};
}

}  // namespace moesim::sim
