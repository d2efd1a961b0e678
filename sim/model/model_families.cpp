// The model families of 2026 (docs/models.md, "Sparse, linear and hybrid attention"): GLM-4.5's
// glm4_moe; DSA's indexer (deepseek_v32, glm_moe_dsa); Qwen3-Next's hybrid of Gated DeltaNet and
// gated attention; Nemotron-H's hybrid of Mamba-2, attention and MoE blocks.
#include "model/config_reader.hpp"

namespace moesim::sim::config_detail {
namespace {

/// DeepSeek-style routed and shared experts under HF key names: n_routed_experts experts of
/// moe_intermediate_size, a sigmoid router with a score-correction bias, group-limited routing.
void read_routed_experts(ConfigReader& c, ModelConfig& m, Keys& k, const std::string& shared_size_key) {
  k.experts = "n_routed_experts";
  MoeSpec& e = m.moe;
  e.num_experts = c.size("n_routed_experts", true).value_or(0);
  e.top_k = c.size("num_experts_per_tok", true).value_or(0);
  e.expert_intermediate = c.size("moe_intermediate_size", true).value_or(0);
  e.num_shared_experts = c.size("n_shared_experts", false, 0).value_or(0);
  e.shared_intermediate =
      e.num_shared_experts > 0 ? c.size(shared_size_key, false).value_or(e.expert_intermediate) : 0;
  e.router_correction_bias = true;  // sigmoid scores with e_score_correction_bias (noaux_tc)
  e.n_group = c.size("n_group", false).value_or(1);
  e.topk_group = c.size("topk_group", false).value_or(1);
}

}  // namespace

void read_glm4_moe(ConfigReader& c, ModelConfig& m, Keys& k) {
  read_common(c, m, false);
  AttentionSpec& a = m.attention;
  // attention_bias puts biases on q, k and v; the output projection has none.
  a.qkv_bias = c.flag("attention_bias", false);
  a.qk_norm = c.flag("use_qk_norm", false);
  a.qk_norm_kind = QkNormKind::per_head;
  read_routed_experts(c, m, k, "moe_intermediate_size");
  m.mtp_layers = c.size("num_nextn_predict_layers", false, 0).value_or(0);
  const int first_dense = c.size("first_k_dense_replace", false, 0).value_or(1);  // transformers' default
  if (first_dense > m.num_layers && m.num_layers > 0) {
    c.diag().error(c.ptr("first_k_dense_replace"), "value " + std::to_string(first_dense) +
                                                       " exceeds num_hidden_layers (" + std::to_string(m.num_layers) + ")");
  }
  m.layers.assign(static_cast<std::size_t>(m.num_layers), LayerSpec{});
  for (int i = 0; i < m.num_layers; ++i) m.layers[static_cast<std::size_t>(i)].moe = i >= first_dense;
  m.dense_intermediate = c.size("intermediate_size", false).value_or(0);
}

void read_sparse_attention(ConfigReader& c, ModelConfig& m) {
  SparseAttentionSpec& s = m.sparse;
  s.index_heads = c.size("index_n_heads", true).value_or(0);
  s.index_head_dim = c.size("index_head_dim", true).value_or(0);
  s.topk = c.size("index_topk", true).value_or(0);
  if (m.max_position > 0 && s.topk > m.max_position) {
    c.diag().error(c.ptr("index_topk"),
                   "selects " + std::to_string(s.topk) + " tokens, more than the model's context of " +
                       std::to_string(m.max_position) + " (max_position_embeddings)",
                   "index_topk must be at most max_position_embeddings");
  }
}

void read_qwen3_next(ConfigReader& c, ModelConfig& m, Keys& k) {
  read_common(c, m, false);
  AttentionSpec& a = m.attention;
  // Gated attention: per-head q/k RMSNorm, and q_proj also yields the output's sigmoid gate.
  a.qk_norm = true;
  a.qk_norm_kind = QkNormKind::per_head;
  a.output_gate = true;
  a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
  RecurrentSpec& r = m.recurrent;
  r.gdn_key_heads = c.size("linear_num_key_heads", true).value_or(0);
  r.gdn_value_heads = c.size("linear_num_value_heads", true).value_or(0);
  r.gdn_key_dim = c.size("linear_key_head_dim", true).value_or(0);
  r.gdn_value_dim = c.size("linear_value_head_dim", true).value_or(0);
  r.conv_kernel = c.size("linear_conv_kernel_dim", false).value_or(4);
  r.conv_bias = false;
  r.chunk = 64;  // the chunked delta-rule kernels' chunk (vLLM chunk.py, transformers' fallback)
  if (r.gdn_key_heads > 0 && r.gdn_value_heads % r.gdn_key_heads != 0) {
    c.diag().error(c.ptr("linear_num_value_heads"),
                   std::to_string(r.gdn_value_heads) + " value heads cannot share " + std::to_string(r.gdn_key_heads) +
                       " key heads evenly",
                   "linear_num_value_heads must be a multiple of linear_num_key_heads");
  }
  read_qwen_experts(c, m, k, true);  // one shared expert behind a sigmoid gate, as in Qwen2-MoE
  if (auto types = c.string_list("layer_types")) {
    apply_layer_types(c, m, *types);
    return;
  }
  // transformers' rule without layer_types: every full_attention_interval-th layer is full
  // attention, the others Gated DeltaNet.
  const int interval = c.size("full_attention_interval", false).value_or(4);
  for (int i = 0; i < m.num_layers; ++i) {
    if ((i + 1) % interval != 0) m.layers[static_cast<std::size_t>(i)].mixer = Mixer::gated_deltanet;
  }
}

void read_nemotron_h(ConfigReader& c, ModelConfig& m, Keys& k) {
  read_common(c, m, false);
  k.dense_intermediate = "intermediate_size";
  AttentionSpec& a = m.attention;
  a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
  m.mlp_bias = c.flag("mlp_bias", false);
  // Squared-ReLU MLPs and experts: up and down, no gate.
  const auto act = c.text("mlp_hidden_act");
  m.mlp_gated = !(act && *act == "relu2");
  RecurrentSpec& r = m.recurrent;
  r.mamba_heads = c.size("mamba_num_heads", true).value_or(0);
  r.mamba_head_dim = c.size("mamba_head_dim", true).value_or(0);
  r.ssm_state = c.size("ssm_state_size", true).value_or(0);
  r.mamba_groups = c.size("n_groups", false).value_or(1);
  r.conv_kernel = c.size("conv_kernel", false).value_or(4);
  r.chunk = c.size("chunk_size", false).value_or(128);
  r.mamba_proj_bias = c.flag("mamba_proj_bias", false);
  r.conv_bias = c.flag("use_conv_bias", true);
  // vLLM keeps the SSM state in mamba_ssm_cache_dtype ("float32" in Nemotron-3's config).
  const auto cache = c.text("mamba_ssm_cache_dtype");
  r.state_bytes = cache && *cache == "float32" ? 4.0 : 2.0;
  if (r.mamba_heads > 0 && r.mamba_groups > 0 && r.mamba_heads % r.mamba_groups != 0) {
    c.diag().error(c.ptr("n_groups"), std::to_string(r.mamba_heads) + " Mamba heads cannot share " +
                                          std::to_string(r.mamba_groups) + " groups evenly");
  }
  if (c.has("n_routed_experts")) read_routed_experts(c, m, k, "moe_shared_expert_intermediate_size");
  m.dense_intermediate = c.size("intermediate_size", false).value_or(0);
  // One block per layer: M = Mamba-2, * = attention, E = MoE, - = MLP (transformers' pattern).
  const auto pattern = c.text("hybrid_override_pattern");
  if (!pattern) {
    c.missing("hybrid_override_pattern", "Nemotron-H layers are typed by it, one character per layer");
    return;
  }
  if (static_cast<int>(pattern->size()) != m.num_layers) {
    c.diag().error(c.ptr("hybrid_override_pattern"),
                   "has " + std::to_string(pattern->size()) + " characters for " + std::to_string(m.num_layers) + " layers",
                   "one character per layer (num_hidden_layers)");
    return;
  }
  m.layers.assign(static_cast<std::size_t>(m.num_layers), LayerSpec{});
  for (int i = 0; i < m.num_layers; ++i) {
    LayerSpec& l = m.layers[static_cast<std::size_t>(i)];
    switch ((*pattern)[static_cast<std::size_t>(i)]) {
      case 'M': l.mixer = Mixer::mamba2; l.mlp = false; break;
      case '*': l.mlp = false; break;
      case 'E': l.mixer = Mixer::none; l.moe = true; break;
      case '-': l.mixer = Mixer::none; break;
      default:
        c.diag().error(c.ptr("hybrid_override_pattern"),
                       "unknown layer type '" + pattern->substr(static_cast<std::size_t>(i), 1) + "' at layer " + std::to_string(i),
                       "valid: M (Mamba-2), * (attention), E (MoE), - (MLP)");
        return;
    }
    if (l.moe && m.moe.num_experts == 0) {
      c.missing("n_routed_experts", "hybrid_override_pattern has MoE (E) layers");
      return;
    }
  }
}

}  // namespace moesim::sim::config_detail
