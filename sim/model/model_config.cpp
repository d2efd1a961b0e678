#include "model/model_config.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <set>

#include "json_reader.hpp"
#include "model/config_reader.hpp"

namespace moesim::sim {
using namespace config_detail;
namespace {

/// model_type -> family. kimi_k2 is DeepSeek-V3's architecture under another name; llama4_text
/// is the text model that llama4 configs nest under "text_config".
struct TypeEntry {
  const char* model_type;
  const char* family;
};
constexpr TypeEntry kModelTypes[] = {
    {"mixtral", "mixtral"},       {"qwen2_moe", "qwen2_moe"},     {"qwen3_moe", "qwen3_moe"},
    {"deepseek_v2", "deepseek_v2"}, {"deepseek_v3", "deepseek_v3"}, {"kimi_k2", "deepseek_v3"},
    {"gpt_oss", "gpt_oss"},       {"olmoe", "olmoe"},             {"llama4", "llama4"},
    {"llama4_text", "llama4"},    {"llama", "llama"},             {"qwen2", "qwen2"},
    {"qwen3", "qwen3"},           {"glm4_moe", "glm4_moe"},       {"glm_moe_dsa", "glm_moe_dsa"},
    {"deepseek_v32", "deepseek_v32"}, {"mistral4", "deepseek_v3"}, {"qwen3_next", "qwen3_next"},
    {"nemotron_h", "nemotron_h"},
};

std::size_t error_count(const Diagnostics& diag) { return diag.error_count(); }


/// MLA's shapes (DeepSeek's key names in both formats; the head count's key differs).
void read_mla(ConfigReader& c, AttentionSpec& a, const std::string& heads_key) {
  a.kind = AttentionKind::mla;
  a.num_heads = c.size(heads_key, true).value_or(0);
  a.num_kv_heads = a.num_heads;  // MLA: every head has its own (decompressed) k and v
  a.q_lora_rank = c.size("q_lora_rank", false, 0).value_or(0);
  a.kv_lora_rank = c.size("kv_lora_rank", true).value_or(0);
  a.qk_nope_head_dim = c.size("qk_nope_head_dim", true, 0).value_or(0);
  a.qk_rope_head_dim = c.size("qk_rope_head_dim", true, 0).value_or(0);
  a.v_head_dim = c.size("v_head_dim", true).value_or(0);
  a.head_dim = a.qk_nope_head_dim + a.qk_rope_head_dim;
}

/// Qwen2 / Qwen2-MoE / Qwen3-MoE: a sliding window only when use_sliding_window is set, and then
/// only from layer max_window_layers on (transformers' rule; 28 is its default).
void apply_qwen_window(ConfigReader& c, ModelConfig& m) {
  if (auto types = c.string_list("layer_types")) {
    apply_layer_types(c, m, *types);
    return;
  }
  if (!c.flag("use_sliding_window", false)) return;
  const auto window = c.size("sliding_window", false);
  if (!window) {
    c.missing("sliding_window", "use_sliding_window is true");
    return;
  }
  const int from = c.size("max_window_layers", false, 0).value_or(28);
  for (int i = from; i < m.num_layers; ++i) m.layers[i].sliding_window = *window;
}

void read_mixtral(ConfigReader& c, ModelConfig& m, Keys& k) {
  read_common(c, m, false);
  k.experts = "num_local_experts";
  m.moe.num_experts = c.size("num_local_experts", true).value_or(0);
  m.moe.top_k = c.size("num_experts_per_tok", true).value_or(0);
  m.moe.expert_intermediate = c.size("intermediate_size", true).value_or(0);
  m.layers.assign(m.num_layers, LayerSpec{true, 0, false});
  // Mixtral's window (4096 in early configs, null later) applies to every layer.
  if (auto w = c.size("sliding_window", false)) {
    for (auto& l : m.layers) l.sliding_window = *w;
  }
}

/// Qwen2-MoE and Qwen3-MoE: MoE on every decoder_sparse_step-th layer except mlp_only_layers.
void read_qwen_moe(ConfigReader& c, ModelConfig& m, Keys& k, bool qwen3) {
  read_common(c, m, false);
  AttentionSpec& a = m.attention;
  if (qwen3) {
    // Qwen3 always has per-head q/k RMSNorm; attention_bias covers q, k, v and o.
    a.qk_norm = true;
    a.qk_norm_kind = QkNormKind::per_head;
    a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
  } else {
    a.qkv_bias = true;  // Qwen2 attention always has q/k/v biases, never an o bias
  }
  read_qwen_experts(c, m, k, !qwen3);
  apply_qwen_window(c, m);
}

void read_dense(ConfigReader& c, ModelConfig& m, bool qwen2, bool qwen3) {
  read_common(c, m, true);
  AttentionSpec& a = m.attention;
  if (qwen2) {
    a.qkv_bias = true;
  } else if (qwen3) {
    // Dense Qwen3: the attention of Qwen3-MoE (per-head q/k RMSNorm, no bias by default).
    a.qk_norm = true;
    a.qk_norm_kind = QkNormKind::per_head;
    a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
  } else {
    a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
    m.mlp_bias = c.flag("mlp_bias", false);
  }
  m.dense_intermediate = c.size("intermediate_size", true).value_or(0);
  m.layers.assign(m.num_layers, LayerSpec{});
  if (qwen2 || qwen3) apply_qwen_window(c, m);
}

void read_olmoe(ConfigReader& c, ModelConfig& m, Keys& k) {
  read_common(c, m, true);
  k.experts = "num_experts";
  AttentionSpec& a = m.attention;
  a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
  // OLMoE normalises the whole q and k projections (hidden and kv_heads x head_dim wide).
  a.qk_norm = true;
  a.qk_norm_kind = QkNormKind::full_width;
  m.moe.num_experts = c.size("num_experts", true).value_or(0);
  m.moe.top_k = c.size("num_experts_per_tok", true).value_or(0);
  m.moe.expert_intermediate = c.size("intermediate_size", true).value_or(0);
  m.layers.assign(m.num_layers, LayerSpec{true, 0, false});
}

void read_gpt_oss(ConfigReader& c, ModelConfig& m, Keys& k) {
  read_common(c, m, false);
  k.experts = "num_local_experts";
  AttentionSpec& a = m.attention;
  a.qkv_bias = a.o_bias = c.flag("attention_bias", true);
  a.sinks = true;
  m.moe.num_experts = c.size("num_local_experts", true).value_or(0);
  // Released configs carry both names with the same value; transformers reads the first.
  if (c.has("num_experts_per_tok") || !c.has("experts_per_token")) {
    m.moe.top_k = c.size("num_experts_per_tok", true).value_or(0);
  } else {
    k.top_k = "experts_per_token";
    m.moe.top_k = c.size("experts_per_token", true).value_or(0);
  }
  m.moe.expert_intermediate = c.size("intermediate_size", true).value_or(0);
  m.moe.expert_bias = true;
  m.moe.router_bias = true;
  m.layers.assign(m.num_layers, LayerSpec{true, 0, false});
  if (auto types = c.string_list("layer_types")) {
    apply_layer_types(c, m, *types);
  } else {
    // transformers' default for gpt-oss: sliding on even layers, full on odd ones.
    const int window = c.size("sliding_window", false).value_or(128);
    for (int i = 0; i < m.num_layers; i += 2) m.layers[i].sliding_window = window;
  }
}

void read_llama4(ConfigReader& c, ModelConfig& m, Keys& k) {
  read_common(c, m, false);
  k.experts = "num_local_experts";
  k.dense_intermediate = "intermediate_size_mlp";
  AttentionSpec& a = m.attention;
  a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
  a.qk_norm = c.flag("use_qk_norm", true);
  a.qk_norm_kind = QkNormKind::weightless;
  m.moe.num_experts = c.size("num_local_experts", true).value_or(0);
  m.moe.top_k = c.size("num_experts_per_tok", true).value_or(0);
  m.moe.expert_intermediate = c.size("intermediate_size", true).value_or(0);
  // Every MoE layer also runs one shared expert of the routed experts' size.
  m.moe.num_shared_experts = 1;
  m.moe.shared_intermediate = m.moe.expert_intermediate;
  m.dense_intermediate = c.size("intermediate_size_mlp", false).value_or(0);
  m.layers.assign(m.num_layers, LayerSpec{});
  if (auto list = c.int_list("moe_layers")) {
    if (check_layer_indices(c, "moe_layers", *list, m.num_layers)) {
      for (int i : *list) m.layers[i].moe = true;
    }
  } else {
    const int step = c.size("interleave_moe_layer_step", false).value_or(1);
    for (int i = step - 1; i < m.num_layers; i += step) m.layers[i].moe = true;
  }
  if (auto types = c.string_list("layer_types")) {
    apply_layer_types(c, m, *types);
    return;
  }
  // Layers that use RoPE attend within fixed chunks; every 4th layer (NoPE) is global.
  const auto chunk = c.size("attention_chunk_size", false);
  if (!chunk) return;
  auto rope = c.int_list("no_rope_layers").value_or(std::vector<int>{});
  if (rope.empty()) {
    for (int i = 0; i < m.num_layers; ++i) rope.push_back((i + 1) % 4 != 0 ? 1 : 0);
  } else if (static_cast<int>(rope.size()) != m.num_layers) {
    c.diag().error(c.ptr("no_rope_layers"),
                   "has " + std::to_string(rope.size()) + " entries for " +
                       std::to_string(m.num_layers) + " layers");
    return;
  }
  for (int i = 0; i < m.num_layers; ++i) {
    if (rope[i] != 0) {
      m.layers[i].sliding_window = *chunk;
      m.layers[i].chunked = true;
    }
  }
}

/// DeepSeek's own inference format (inference/configs/config_*.json). Its ModelArgs dataclass
/// has a default for every key, but those defaults are one particular model (16B), so the shape
/// keys are required here.
void read_deepseek_native(ConfigReader& c, ModelConfig& m, Keys& k) {
  k.experts = "n_routed_experts";
  k.top_k = "n_activated_experts";
  k.dense_intermediate = "inter_dim";
  k.n_group = "n_expert_groups";
  k.topk_group = "n_limited_groups";
  m.hidden = c.size("dim", true).value_or(0);
  m.num_layers = c.size("n_layers", true, 1, kMaxLayers).value_or(0);
  m.vocab = c.size("vocab_size", true).value_or(0);
  m.dense_intermediate = c.size("inter_dim", true).value_or(0);
  read_mla(c, m.attention, "n_heads");
  MoeSpec& e = m.moe;
  e.num_experts = c.size("n_routed_experts", true).value_or(0);
  e.top_k = c.size("n_activated_experts", true).value_or(0);
  e.expert_intermediate = c.size("moe_inter_dim", true).value_or(0);
  e.num_shared_experts = c.size("n_shared_experts", true, 0).value_or(0);
  e.shared_intermediate = e.num_shared_experts > 0 ? e.expert_intermediate : 0;
  e.n_group = c.size("n_expert_groups", false).value_or(1);
  e.topk_group = c.size("n_limited_groups", false).value_or(1);
  const auto score = c.object_reader().choice("score_func", {"softmax", "sigmoid"});
  // The sigmoid gate (V3) carries the per-expert correction bias; the softmax gate has none.
  e.router_correction_bias = score && *score == "sigmoid";
  const int dense = c.size("n_dense_layers", true, 0).value_or(0);
  if (dense > m.num_layers && m.num_layers > 0) {
    c.diag().error(c.ptr("n_dense_layers"), "value " + std::to_string(dense) +
                                                " exceeds n_layers (" +
                                                std::to_string(m.num_layers) + ")");
  }
  m.layers.assign(m.num_layers, LayerSpec{});
  for (int i = 0; i < m.num_layers; ++i) m.layers[i].moe = e.num_experts > 0 && i >= dense;
  m.family = e.router_correction_bias || e.n_group > 1 ? "deepseek_v3" : "deepseek_v2";
  // Runtime and RoPE settings of the demo that do not change shapes.
  for (const char* key : {"max_batch_size", "max_seq_len", "dtype", "scale_fmt", "route_scale",
                          "original_seq_len", "rope_theta", "rope_factor", "beta_fast",
                          "beta_slow", "mscale"}) {
    c.object_reader().raw(key);
  }
}

/// Cross-field checks shared by all families, each pointing at the key to fix.
void validate(ConfigReader& c, const ModelConfig& m, const Keys& k) {
  const AttentionSpec& a = m.attention;
  if (a.kind == AttentionKind::gqa && a.num_heads > 0 && a.num_kv_heads > 0 &&
      a.num_heads % a.num_kv_heads != 0) {
    c.diag().error(c.ptr(k.kv_heads),
                   std::to_string(a.num_heads) + " attention heads cannot be grouped over " +
                       std::to_string(a.num_kv_heads) + " KV heads",
                   "num_attention_heads must be a multiple of num_key_value_heads");
  }
  const bool any_dense = std::any_of(m.layers.begin(), m.layers.end(),
                                     [](const LayerSpec& l) { return !l.moe && l.mlp; });
  if (any_dense && m.dense_intermediate <= 0 && !c.has(k.dense_intermediate)) {
    c.missing(k.dense_intermediate, "the model has dense MLP layers");
  }
  const MoeSpec& e = m.moe;
  if (e.num_experts <= 0) return;
  if (e.top_k > e.num_experts) {
    c.diag().error(c.ptr(k.top_k),
                   "routes each token to " + std::to_string(e.top_k) + " experts, but there are " +
                       std::to_string(e.num_experts),
                   "must be <= " + k.experts);
  }
  if (e.n_group > 0 && e.num_experts % e.n_group != 0) {
    c.diag().error(c.ptr(k.n_group),
                   std::to_string(e.num_experts) + " experts cannot be split into " +
                       std::to_string(e.n_group) + " equal groups",
                   k.experts + " must be a multiple of " + k.n_group);
  } else if (e.topk_group > e.n_group) {
    c.diag().error(c.ptr(k.topk_group),
                   "value " + std::to_string(e.topk_group) + " exceeds the " +
                       std::to_string(e.n_group) + " expert groups",
                   "must be <= " + k.n_group);
  } else if (e.n_group > 1 && e.top_k > e.topk_group * (e.num_experts / e.n_group)) {
    c.diag().error(c.ptr(k.top_k),
                   "routes each token to " + std::to_string(e.top_k) + " experts, but only " +
                       std::to_string(e.topk_group * (e.num_experts / e.n_group)) +
                       " are reachable in " + std::to_string(e.topk_group) + " groups");
  }
}

std::string supported_hint() {
  return "supported: " + join_names(supported_model_types()) +
         "; or DeepSeek's native inference format (keys dim, n_layers, ...)";
}

}  // namespace

namespace config_detail {

/// Reads what every HF family shares: sizes, heads, head_dim, tying. `kv_default_heads`: whether
/// a missing num_key_value_heads means MHA (Llama, Qwen2, OLMoE) or must be given (families
/// whose transformers default is some other number, so guessing would be wrong).
void read_common(ConfigReader& c, ModelConfig& m, bool kv_default_heads) {
  m.hidden = c.size("hidden_size", true).value_or(0);
  m.num_layers = c.size("num_hidden_layers", true, 1, kMaxLayers).value_or(0);
  m.vocab = c.size("vocab_size", true).value_or(0);
  m.max_position = c.size("max_position_embeddings", false).value_or(0);
  m.tie_embeddings = c.flag("tie_word_embeddings", false);
  AttentionSpec& a = m.attention;
  a.kind = AttentionKind::gqa;
  a.num_heads = c.size("num_attention_heads", true).value_or(0);
  const auto kv = c.size("num_key_value_heads", !kv_default_heads);
  a.num_kv_heads = kv.value_or(kv_default_heads ? a.num_heads : 0);
  if (auto hd = c.size("head_dim", false)) {
    a.head_dim = *hd;
  } else if (m.hidden > 0 && a.num_heads > 0) {
    if (m.hidden % a.num_heads != 0) {
      c.diag().error(c.ptr("num_attention_heads"),
                     "hidden_size " + std::to_string(m.hidden) + " is not divisible by " +
                         std::to_string(a.num_heads) + " heads",
                     "give head_dim explicitly");
    } else {
      a.head_dim = m.hidden / a.num_heads;
    }
  }
}

/// Per-layer attention type from a transformers `layer_types` list (gpt-oss, newer Qwen/Llama-4).
void apply_layer_types(ConfigReader& c, ModelConfig& m, const std::vector<std::string>& types) {
  if (static_cast<int>(types.size()) != m.num_layers) {
    c.diag().error(c.ptr("layer_types"),
                   "has " + std::to_string(types.size()) + " entries for " +
                       std::to_string(m.num_layers) + " layers",
                   "one entry per layer (num_hidden_layers)");
    return;
  }
  const auto window = c.size("sliding_window", false);
  const auto chunk = c.size("attention_chunk_size", false);
  for (std::size_t i = 0; i < types.size(); ++i) {
    const std::string& t = types[i];
    if (t == "full_attention") continue;
    const std::string where = c.ptr("layer_types") + "/" + std::to_string(i);
    if (t == "sliding_attention") {
      if (!window) {
        c.missing("sliding_window", "layer_types has sliding_attention layers");
        return;
      }
      m.layers[i].sliding_window = *window;
    } else if (t == "chunked_attention") {
      if (!chunk) {
        c.missing("attention_chunk_size", "layer_types has chunked_attention layers");
        return;
      }
      m.layers[i].sliding_window = *chunk;
      m.layers[i].chunked = true;
    } else if (t == "linear_attention" && m.recurrent.gdn_value_heads > 0) {
      m.layers[i].mixer = Mixer::gated_deltanet;
    } else {
      c.diag().error(where, "unknown layer type '" + t + "'",
                     std::string("valid: full_attention, sliding_attention, chunked_attention") +
                         (m.recurrent.gdn_value_heads > 0 ? ", linear_attention" : ""));
    }
  }
}

/// Checks that every index in `list` (the value of `key`) names an existing layer.
bool check_layer_indices(ConfigReader& c, const std::string& key, const std::vector<int>& list,
                         int num_layers) {
  bool ok = true;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i] >= num_layers) {
      c.diag().error(c.ptr(key) + "/" + std::to_string(i),
                     "layer " + std::to_string(list[i]) + " does not exist",
                     "the model has " + std::to_string(num_layers) + " layers (0 to " +
                         std::to_string(num_layers - 1) + ")");
      ok = false;
    }
  }
  return ok;
}

void read_qwen_experts(ConfigReader& c, ModelConfig& m, Keys& k, bool shared_expert) {
  k.experts = "num_experts";
  m.moe.num_experts = c.size("num_experts", true).value_or(0);
  m.moe.top_k = c.size("num_experts_per_tok", true).value_or(0);
  m.moe.expert_intermediate = c.size("moe_intermediate_size", true).value_or(0);
  if (shared_expert) {
    // One shared expert of its own size, scaled by a sigmoid gate (hidden x 1).
    const int shared = c.size("shared_expert_intermediate_size", false, 0).value_or(0);
    if (shared > 0) {
      m.moe.num_shared_experts = 1;
      m.moe.shared_intermediate = shared;
      m.moe.shared_expert_gate = true;
    }
  }
  const int step = c.size("decoder_sparse_step", false).value_or(1);
  const auto mlp_only = c.int_list("mlp_only_layers").value_or(std::vector<int>{});
  check_layer_indices(c, "mlp_only_layers", mlp_only, m.num_layers);
  const std::set<int> dense(mlp_only.begin(), mlp_only.end());
  m.layers.assign(m.num_layers, LayerSpec{});
  for (int i = 0; i < m.num_layers; ++i) {
    m.layers[i].moe = !dense.contains(i) && m.moe.num_experts > 0 && (i + 1) % step == 0;
  }
  m.dense_intermediate = c.size("intermediate_size", false).value_or(0);
}

/// DeepSeek-V2/V3 (and Kimi-K2) in the HF format.
void read_deepseek(ConfigReader& c, ModelConfig& m, Keys& k, bool v3) {
  m.hidden = c.size("hidden_size", true).value_or(0);
  m.num_layers = c.size("num_hidden_layers", true, 1, kMaxLayers).value_or(0);
  m.vocab = c.size("vocab_size", true).value_or(0);
  m.max_position = c.size("max_position_embeddings", false).value_or(0);
  m.tie_embeddings = c.flag("tie_word_embeddings", false);
  k.experts = "n_routed_experts";
  AttentionSpec& a = m.attention;
  read_mla(c, a, "num_attention_heads");
  // attention_bias puts biases on q_a_proj, kv_a_proj_with_mqa and o_proj.
  a.qkv_bias = a.o_bias = c.flag("attention_bias", false);
  m.mtp_layers = c.size("num_nextn_predict_layers", false, 0).value_or(0);

  MoeSpec& e = m.moe;
  e.num_experts = c.size("n_routed_experts", false).value_or(0);  // null: a dense model
  e.n_group = c.size("n_group", false).value_or(1);
  e.topk_group = c.size("topk_group", false).value_or(1);
  if (e.num_experts > 0) {
    e.top_k = c.size("num_experts_per_tok", true).value_or(0);
    e.expert_intermediate = c.size("moe_intermediate_size", true).value_or(0);
    e.num_shared_experts = c.size("n_shared_experts", false, 0).value_or(0);
    e.shared_intermediate = e.num_shared_experts > 0 ? e.expert_intermediate : 0;
    // noaux_tc routing adds a per-expert score-correction bias (V3's default method).
    const auto method = c.text("topk_method");
    e.router_correction_bias = method ? *method == "noaux_tc" : v3;
  }
  const int first_dense = c.size("first_k_dense_replace", false, 0).value_or(0);
  const int freq = c.size("moe_layer_freq", false).value_or(1);
  if (first_dense > m.num_layers && m.num_layers > 0) {
    c.diag().error(c.ptr("first_k_dense_replace"),
                   "value " + std::to_string(first_dense) + " exceeds num_hidden_layers (" +
                       std::to_string(m.num_layers) + ")");
  }
  m.layers.assign(m.num_layers, LayerSpec{});
  for (int i = 0; i < m.num_layers; ++i) {
    m.layers[i].moe = e.num_experts > 0 && i >= first_dense && i % freq == 0;
  }
  m.dense_intermediate = c.size("intermediate_size", false).value_or(0);
}

}  // namespace config_detail

int ModelConfig::num_moe_layers() const {
  return static_cast<int>(
      std::count_if(layers.begin(), layers.end(), [](const LayerSpec& l) { return l.moe; }));
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const auto& t : kModelTypes) out.emplace_back(t.model_type);
  return out;
}

std::optional<ModelConfig> model_from_json(const nlohmann::json& config, const std::string& name,
                                           Diagnostics& diag) {
  const std::size_t errors_before = error_count(diag);
  ObjectReader root(config, "", diag);
  if (!root.valid()) return std::nullopt;
  ModelConfig m;
  m.name = name;
  Keys keys;

  const nlohmann::json* type = root.raw("model_type");
  if (type == nullptr && root.raw("dim") != nullptr && root.raw("n_layers") != nullptr) {
    // DeepSeek's native format is a closed dataclass (its loader rejects unknown keys), but we
    // only warn: a newer release may add keys for parts we do not model.
    Diagnostics native(diag.file());
    ObjectReader r(config, "", native);
    ConfigReader c(r);
    read_deepseek_native(c, m, keys);
    validate(c, m, keys);
    const std::size_t read_problems = native.problems().size();
    r.finish();  // reports unknown keys as errors; they are re-filed as warnings below
    for (std::size_t i = 0; i < native.problems().size(); ++i) {
      const Problem& p = native.problems()[i];
      if (i >= read_problems) {
        diag.warning(p.pointer, p.message + ", ignored: moesim does not model it", p.hint);
      } else if (p.severity == Problem::Severity::error) {
        diag.error(p.pointer, p.message, p.hint);
      } else {
        diag.warning(p.pointer, p.message, p.hint);
      }
    }
  } else {
    // HF configs are third-party files full of keys we do not model (rope, token ids, ...):
    // unknown keys are fine here, so finish() is never called.
    if (type == nullptr) {
      diag.error(root.pointer_to("model_type"), "missing required key 'model_type'",
                 supported_hint());
      return std::nullopt;
    }
    auto model_type = root.string("model_type", true);
    if (!model_type) return std::nullopt;
    const TypeEntry* entry = nullptr;
    for (const auto& t : kModelTypes) {
      if (*model_type == t.model_type) entry = &t;
    }
    if (entry == nullptr) {
      std::string hint = supported_hint();
      const std::string near = closest_name(*model_type, supported_model_types());
      if (!near.empty()) hint = "did you mean '" + near + "'? " + hint;
      diag.error(root.pointer_to("model_type"), "unsupported model_type '" + *model_type + "'",
                 hint);
      return std::nullopt;
    }
    m.model_type = *model_type;
    m.family = entry->family;
    if (m.family == "llama4" && root.raw("text_config") != nullptr) {
      // Llama-4 checkpoints are multimodal: the language model sits under text_config.
      ObjectReader text = root.object("text_config", true);
      if (!text.valid()) return std::nullopt;
      ConfigReader c(text);
      read_llama4(c, m, keys);
      validate(c, m, keys);
    } else {
      ConfigReader c(root);
      if (m.family == "mixtral") {
        read_mixtral(c, m, keys);
      } else if (m.family == "qwen2_moe") {
        read_qwen_moe(c, m, keys, false);
      } else if (m.family == "qwen3_moe") {
        read_qwen_moe(c, m, keys, true);
      } else if (m.family == "deepseek_v2" || m.family == "deepseek_v3") {
        read_deepseek(c, m, keys, m.family == "deepseek_v3");
      } else if (m.family == "deepseek_v32" || m.family == "glm_moe_dsa") {
        read_deepseek(c, m, keys, true);
        read_sparse_attention(c, m);
      } else if (m.family == "glm4_moe") {
        read_glm4_moe(c, m, keys);
      } else if (m.family == "qwen3_next") {
        read_qwen3_next(c, m, keys);
      } else if (m.family == "nemotron_h") {
        read_nemotron_h(c, m, keys);
      } else if (m.family == "gpt_oss") {
        read_gpt_oss(c, m, keys);
      } else if (m.family == "olmoe") {
        read_olmoe(c, m, keys);
      } else if (m.family == "llama4") {
        read_llama4(c, m, keys);
      } else {
        read_dense(c, m, m.family == "qwen2", m.family == "qwen3");
      }
      validate(c, m, keys);
    }
  }
  if (error_count(diag) > errors_before) return std::nullopt;
  // A model with no MoE layer carries no MoE shapes, so is_moe() tells the truth.
  if (m.num_moe_layers() == 0) m.moe = MoeSpec{};
  if (std::all_of(m.layers.begin(), m.layers.end(), [](const LayerSpec& l) { return l.moe || !l.mlp; })) {
    m.dense_intermediate = 0;
  }
  return m;
}

std::optional<ModelConfig> load_model_file(const std::string& path, Diagnostics& diag) {
  auto json = read_json_file(path, diag);
  if (!json) return std::nullopt;
  // ".../Qwen3-30B-A3B/config.json" is named by its folder; "mixtral.json" by its stem.
  const std::filesystem::path p(path);
  std::string name = p.stem().string();
  if (name == "config" && p.has_parent_path()) name = p.parent_path().filename().string();
  return model_from_json(*json, name, diag);
}

}  // namespace moesim::sim
