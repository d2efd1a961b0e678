// Parameter counts, FLOPs and cache sizes of a model's layers (docs/models-params.md): every
// linear layer counted as in x out (+ out for a bias), following the transformers
// implementation of each family.
#include <algorithm>

#include "model/model_config.hpp"

namespace moesim::sim {

// ---------------------------------------------------------------------------------------------
// Parameter counting. Shapes follow the transformers implementations of each family; every
// linear layer is counted as in x out (+ out for a bias).

namespace {

// DSA's indexer: q from the MLA query latent (q_lora_rank -> heads x dim), one shared key from
// the hidden state, its LayerNorm, and a per-head weight from the hidden state.
double indexer_params(const ModelConfig& m) {
  const SparseAttentionSpec& s = m.sparse;
  if (!s.enabled()) return 0;
  const double q_in = m.attention.q_lora_rank > 0 ? m.attention.q_lora_rank : m.hidden;
  return q_in * s.index_heads * s.index_head_dim + double(m.hidden) * s.index_head_dim + 2.0 * s.index_head_dim +
         double(m.hidden) * s.index_heads;
}

// Gated DeltaNet (transformers Qwen3NextGatedDeltaNet): in_proj_qkvz (q, k over key heads; v and
// the output gate z over value heads), in_proj_ba (beta and the decay's a per value head), the
// causal conv over q, k and v, dt_bias and A_log, the gated RMSNorm over a value head, out_proj.
double gated_deltanet_params(const ModelConfig& m) {
  const RecurrentSpec& r = m.recurrent;
  const double h = m.hidden, kd = double(r.gdn_key_heads) * r.gdn_key_dim, vd = double(r.gdn_value_heads) * r.gdn_value_dim;
  return h * (2 * kd + 2 * vd) + h * 2.0 * r.gdn_value_heads + r.conv_channels(Mixer::gated_deltanet) * r.conv_kernel +
         2.0 * r.gdn_value_heads + r.gdn_value_dim + vd * h;
}

// Mamba-2 (transformers NemotronHMamba2Mixer): in_proj to z, x, B, C and dt; the causal conv over
// x, B and C (with its bias); dt_bias, A_log and D per head; the gated RMSNorm; out_proj.
double mamba2_params(const ModelConfig& m) {
  const RecurrentSpec& r = m.recurrent;
  const double h = m.hidden, inner = double(r.mamba_heads) * r.mamba_head_dim;
  const double conv = r.conv_channels(Mixer::mamba2);
  const double in = 2 * inner + 2.0 * r.mamba_groups * r.ssm_state + r.mamba_heads;
  double p = h * in + conv * r.conv_kernel + 3.0 * r.mamba_heads + inner + inner * h;
  if (r.conv_bias) p += conv;
  if (r.mamba_proj_bias) p += in + h;
  return p;
}

double attention_params(const ModelConfig& m) {
  const AttentionSpec& a = m.attention;
  const double h = m.hidden;
  const double heads = a.num_heads;
  double p = 0;
  if (a.kind == AttentionKind::mla) {
    const double qk = double(a.qk_nope_head_dim) + a.qk_rope_head_dim;
    const double kv_a = double(a.kv_lora_rank) + a.qk_rope_head_dim;
    if (a.q_lora_rank > 0) {
      // q_a_proj, q_a_layernorm, q_b_proj
      p += h * a.q_lora_rank + a.q_lora_rank + double(a.q_lora_rank) * heads * qk;
      if (a.qkv_bias) p += a.q_lora_rank;
    } else {
      p += h * heads * qk;  // q_proj
    }
    p += h * kv_a + a.kv_lora_rank;  // kv_a_proj_with_mqa, kv_a_layernorm
    if (a.qkv_bias) p += kv_a;
    p += double(a.kv_lora_rank) * heads * (double(a.qk_nope_head_dim) + a.v_head_dim);  // kv_b
    p += heads * a.v_head_dim * h;  // o_proj
  } else {
    const double q = heads * a.head_dim;
    const double kv = double(a.num_kv_heads) * a.head_dim;
    p += h * q + 2 * h * kv + q * h;
    if (a.output_gate) p += h * q;  // q_proj's second half: the gate
    if (a.qkv_bias) p += q + 2 * kv;
    if (a.qk_norm) {
      switch (a.qk_norm_kind) {
        case QkNormKind::per_head: p += 2.0 * a.head_dim; break;
        case QkNormKind::full_width: p += q + kv; break;
        case QkNormKind::weightless: break;
      }
    }
  }
  if (a.o_bias) p += h;
  if (a.sinks) p += heads;
  return p + indexer_params(m);
}

double mixer_params(const ModelConfig& m, Mixer mixer) {
  switch (mixer) {
    case Mixer::attention: return attention_params(m);
    case Mixer::gated_deltanet: return gated_deltanet_params(m);
    case Mixer::mamba2: return mamba2_params(m);
    case Mixer::none: return 0;
  }
  return 0;
}

double routed_expert_params(const ModelConfig& m) {
  const double h = m.hidden;
  const double i = m.moe.expert_intermediate;
  double p = m.mlp_matrices() * h * i;  // (gate,) up, down
  if (m.moe.expert_bias) p += (m.mlp_matrices() - 1) * i + h;
  return p;
}

double router_params(const ModelConfig& m) {
  const double e = m.moe.num_experts;
  double p = double(m.hidden) * e;
  if (m.moe.router_bias) p += e;
  if (m.moe.router_correction_bias) p += e;
  return p;
}

double shared_expert_params(const ModelConfig& m) {
  const double h = m.hidden;
  double p = double(m.mlp_matrices()) * m.moe.num_shared_experts * h * m.moe.shared_intermediate;
  if (m.moe.shared_expert_gate) p += h;
  return p;
}

double dense_mlp_params(const ModelConfig& m) {
  const double h = m.hidden;
  const double i = m.dense_intermediate;
  double p = m.mlp_matrices() * h * i;
  if (m.mlp_bias) p += (m.mlp_matrices() - 1) * i + h;
  return p;
}

LayerParams params_for(const ModelConfig& m, const LayerSpec& spec) {
  LayerParams lp;
  lp.attention = mixer_params(m, spec.mixer);
  // One RMSNorm before each block: the mixer's and the MLP's.
  lp.norms = double(m.hidden) * ((spec.mixer != Mixer::none ? 1 : 0) + (spec.mlp ? 1 : 0));
  if (!spec.mlp) return lp;
  if (spec.moe) {
    lp.gate = router_params(m);
    lp.routed_expert = routed_expert_params(m);
    lp.shared_experts = shared_expert_params(m);
  } else {
    lp.dense_mlp = dense_mlp_params(m);
  }
  return lp;
}

double layer_total(const ModelConfig& m, const LayerParams& lp) {
  return lp.attention + lp.gate + m.moe.num_experts * lp.routed_expert + lp.shared_experts +
         lp.dense_mlp + lp.norms;
}

}  // namespace

const char* mixer_name(Mixer m) {
  switch (m) {
    case Mixer::attention: return "attention";
    case Mixer::gated_deltanet: return "gated_deltanet";
    case Mixer::mamba2: return "mamba2";
    case Mixer::none: return "none";
  }
  return "?";
}

bool ModelConfig::has_recurrent_layers() const {
  return std::any_of(layers.begin(), layers.end(), [](const LayerSpec& l) {
    return l.mixer == Mixer::gated_deltanet || l.mixer == Mixer::mamba2;
  });
}

namespace {

double attention_span(const LayerSpec& spec, double context_tokens) {
  const double ctx = std::max(0.0, context_tokens);
  return spec.sliding_window > 0 ? std::min(ctx, double(spec.sliding_window)) : ctx;
}

}  // namespace

LayerParams layer_parameters(const ModelConfig& model, int layer) {
  return params_for(model, model.layers.at(static_cast<std::size_t>(layer)));
}

ParamCounts count_parameters(const ModelConfig& model) {
  ParamCounts pc;
  const double h = model.hidden;
  pc.embedding = double(model.vocab) * h;
  pc.lm_head = model.tie_embeddings ? 0 : pc.embedding;
  double inactive = 0;
  for (const LayerSpec& spec : model.layers) {
    const LayerParams lp = params_for(model, spec);
    pc.attention += lp.attention;
    pc.gate += lp.gate;
    pc.routed_experts += model.moe.num_experts * lp.routed_expert;
    pc.shared_experts += lp.shared_experts;
    pc.dense_mlp += lp.dense_mlp;
    pc.norms += lp.norms;
    if (spec.moe) inactive += (model.moe.num_experts - model.moe.top_k) * lp.routed_expert;
  }
  pc.norms += h;  // final norm
  pc.total = pc.embedding + pc.lm_head + pc.attention + pc.dense_mlp + pc.routed_experts +
             pc.shared_experts + pc.gate + pc.norms;
  pc.active = pc.total - inactive;
  pc.active_no_embedding = pc.active - (model.tie_embeddings ? 0 : pc.embedding);
  if (model.mtp_layers > 0 && !model.layers.empty()) {
    // One DeepSeek MTP module: enorm + hnorm, eh_proj (2h -> h), a decoder layer shaped like the
    // main model's last one, and shared_head.norm. Embedding and head are the main model's.
    const double module = layer_total(model, params_for(model, model.layers.back())) + 3 * h +
                          2 * h * h;
    pc.mtp = model.mtp_layers * module;
  }
  return pc;
}

double attention_flops_per_token(const ModelConfig& model, int layer, double context_tokens) {
  const LayerSpec& spec = model.layers.at(static_cast<std::size_t>(layer));
  const AttentionSpec& a = model.attention;
  const double h = model.hidden;
  const double heads = a.num_heads;
  if (spec.mixer == Mixer::none) return 0;
  if (spec.mixer != Mixer::attention) {
    // The projections, and the recurrence's state update and read-out per head (docs/models.md).
    const RecurrentSpec& r = model.recurrent;
    return 2 * mixer_params(model, spec.mixer) +
           recurrent_flops_per_state_element(spec.mixer) * r.heads(spec.mixer) * r.key_dim(spec.mixer) * r.value_dim(spec.mixer);
  }
  const double span = attention_span_tokens(model, layer, context_tokens);
  // DSA: the indexer's projections and its scores against every earlier token.
  const double indexer = model.sparse.enabled()
                             ? 2 * indexer_params(model) + 2.0 * model.sparse.index_heads * model.sparse.index_head_dim *
                                                               attention_span(spec, context_tokens)
                             : 0.0;
  if (a.kind == AttentionKind::mla) {
    // Absorbed decode form: q_nope is mapped into the latent space (W_UK folded into q), scores
    // and the weighted sum run over the cached latent, and W_UV is applied to the head output.
    const double qk = double(a.qk_nope_head_dim) + a.qk_rope_head_dim;
    double f = 0;
    if (a.q_lora_rank > 0) {
      f += 2 * h * a.q_lora_rank + 2.0 * a.q_lora_rank * heads * qk;
    } else {
      f += 2 * h * heads * qk;
    }
    f += 2 * h * (double(a.kv_lora_rank) + a.qk_rope_head_dim);   // kv_a
    f += 2 * heads * a.qk_nope_head_dim * a.kv_lora_rank;          // q_nope -> latent
    f += 2 * heads * (double(a.kv_lora_rank) + a.qk_rope_head_dim) * span;  // scores
    f += 2 * heads * a.kv_lora_rank * span;                        // weighted sum of latents
    f += 2 * heads * a.kv_lora_rank * a.v_head_dim;                // latent -> v (W_UV)
    f += 2 * heads * a.v_head_dim * h;                             // o_proj
    return f + indexer;
  }
  const double q = heads * a.head_dim;
  const double kv = double(a.num_kv_heads) * a.head_dim;
  const double projections = 2 * (h * q + 2 * h * kv + q * h) + (a.output_gate ? 2 * h * q : 0.0);
  return projections + 2 * q * span /* q.k */ + 2 * q * span /* weights x v */ + indexer;
}

double kv_elements_per_token(const ModelConfig& model, int layer) {
  if (model.layers.at(static_cast<std::size_t>(layer)).mixer != Mixer::attention) return 0;
  const AttentionSpec& a = model.attention;
  if (a.kind == AttentionKind::mla) return double(a.kv_lora_rank) + a.qk_rope_head_dim;
  return 2.0 * a.num_kv_heads * a.head_dim;
}

double kv_cache_tokens(const ModelConfig& model, int layer, double context_tokens) {
  return attention_span(model.layers.at(static_cast<std::size_t>(layer)), context_tokens);
}

double index_bytes_per_token(const ModelConfig& model, int layer) {
  if (!model.sparse.enabled() || model.layers.at(static_cast<std::size_t>(layer)).mixer != Mixer::attention) return 0;
  // fp8 keys and one fp32 scale per token (vLLM's DeepSeek-V3.2 indexer cache: 128 + 4 bytes).
  return model.sparse.index_head_dim * 1.0 + 4.0;
}

double recurrent_state_bytes(const ModelConfig& model, int layer) {
  const Mixer mx = model.layers.at(static_cast<std::size_t>(layer)).mixer;
  if (mx != Mixer::gated_deltanet && mx != Mixer::mamba2) return 0;
  const RecurrentSpec& r = model.recurrent;
  return double(r.heads(mx)) * r.key_dim(mx) * r.value_dim(mx) * r.state_bytes +
         r.conv_channels(mx) * (r.conv_kernel - 1) * 2.0;  // the conv's last inputs, bf16
}

double attention_span_tokens(const ModelConfig& model, int layer, double context_tokens) {
  const double span = kv_cache_tokens(model, layer, context_tokens);
  return model.sparse.enabled() ? std::min(span, double(model.sparse.topk)) : span;
}

double recurrent_flops_per_state_element(Mixer m) {
  // Per token and state element: Gated DeltaNet decays the state, reads it against k (the delta
  // rule's prediction), adds the rank-one correction and reads it out against q (7); Mamba-2
  // decays it, adds B x and reads it out against C (5). Multiply-adds count 2.
  return m == Mixer::gated_deltanet ? 7.0 : m == Mixer::mamba2 ? 5.0 : 0.0;
}

}  // namespace moesim::sim
