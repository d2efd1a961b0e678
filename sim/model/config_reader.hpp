#pragma once
// Inside sim/model/: the typed reader of third-party model configs and the helpers every family
// reader shares (model_config.cpp reads the established families, model_families.cpp those of
// 2026).

#include <nlohmann/json.hpp>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "json_reader.hpp"
#include "model/model_config.hpp"

namespace moesim::sim::config_detail {

/// Typed reads for third-party config files. HF configs write null for "not set"
/// ("q_lora_rank": null, "sliding_window": null), so null counts as absent unless required.
class ConfigReader {
 public:
  explicit ConfigReader(ObjectReader& reader) : r_(reader) {}

  std::string ptr(const std::string& key) const { return r_.pointer_to(key); }
  Diagnostics& diag() { return r_.diagnostics(); }
  ObjectReader& object_reader() { return r_; }

  bool has(const std::string& key) {
    const nlohmann::json* v = r_.raw(key);
    return v != nullptr && !v->is_null();
  }

  /// An int in [min, max]. Sizes are read as int: every real shape fits, and a larger value is
  /// a typo.
  std::optional<int> size(const std::string& key, bool required, int min = 1,
                          int max = std::numeric_limits<int>::max()) {
    const nlohmann::json* v = r_.raw(key);
    if (v != nullptr && v->is_null() && !required) return std::nullopt;
    auto x = r_.integer(key, required, min);
    if (!x) return std::nullopt;
    if (*x > max) {
      diag().error(ptr(key), "value " + std::to_string(*x) + " is too large",
                   "must be <= " + std::to_string(max));
      return std::nullopt;
    }
    return static_cast<int>(*x);
  }

  bool flag(const std::string& key, bool fallback) {
    const nlohmann::json* v = r_.raw(key);
    if (v == nullptr || v->is_null()) return fallback;
    return r_.boolean(key).value_or(fallback);
  }

  std::optional<std::string> text(const std::string& key) {
    const nlohmann::json* v = r_.raw(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    return r_.string(key);
  }

  std::optional<std::vector<int>> int_list(const std::string& key) {
    const nlohmann::json* v = r_.raw(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_array()) {
      diag().error(ptr(key), "expected an array of integers, got " + json_type_name(*v));
      return std::nullopt;
    }
    std::vector<int> out;
    bool ok = true;
    for (std::size_t i = 0; i < v->size(); ++i) {
      const nlohmann::json& e = (*v)[i];
      if (!e.is_number_integer() || e.get<long long>() < 0 ||
          e.get<long long>() > std::numeric_limits<int>::max()) {
        diag().error(ptr(key) + "/" + std::to_string(i),
                     "expected a non-negative integer, got " + e.dump());
        ok = false;
        continue;
      }
      out.push_back(e.get<int>());
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::optional<std::vector<std::string>> string_list(const std::string& key) {
    const nlohmann::json* v = r_.raw(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_array()) {
      diag().error(ptr(key), "expected an array of strings, got " + json_type_name(*v));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < v->size(); ++i) {
      const nlohmann::json& e = (*v)[i];
      if (!e.is_string()) {
        diag().error(ptr(key) + "/" + std::to_string(i),
                     "expected a string, got " + json_type_name(e));
        ok = false;
        continue;
      }
      out.push_back(e.get<std::string>());
    }
    if (!ok) return std::nullopt;
    return out;
  }

  /// Reports a key that is optional in general but needed by this model's layers.
  void missing(const std::string& key, const std::string& why) {
    diag().error(ptr(key), "missing required key '" + key + "'", why);
  }

 private:
  ObjectReader& r_;
};

/// Far above any real model (the largest have ~100 layers); a bound keeps a typo from
/// allocating a per-layer table of billions of entries.
constexpr int kMaxLayers = 100000;

/// Which config keys hold the MoE and attention values, so validation can point at them.
struct Keys {
  std::string kv_heads = "num_key_value_heads";
  std::string experts;
  std::string top_k = "num_experts_per_tok";
  std::string dense_intermediate = "intermediate_size";
  std::string n_group = "n_group";
  std::string topk_group = "topk_group";
};

/// Reads what every HF family shares: sizes, heads, head_dim, tying. `kv_default_heads`: whether
/// a missing num_key_value_heads means MHA (Llama, Qwen2, OLMoE) or must be given.
void read_common(ConfigReader& c, ModelConfig& m, bool kv_default_heads);

/// Per-layer attention type from a transformers `layer_types` list.
void apply_layer_types(ConfigReader& c, ModelConfig& m, const std::vector<std::string>& types);

/// Checks that every index in `list` (the value of `key`) names an existing layer.
bool check_layer_indices(ConfigReader& c, const std::string& key, const std::vector<int>& list, int num_layers);

/// Qwen's MoE keys (Qwen2-MoE, Qwen3-MoE, Qwen3-Next): num_experts of moe_intermediate_size on
/// every decoder_sparse_step-th layer except mlp_only_layers; with `shared_expert`, the one
/// gated shared expert of shared_expert_intermediate_size. Assigns the layers.
void read_qwen_experts(ConfigReader& c, ModelConfig& m, Keys& k, bool shared_expert);

/// DeepSeek-V2/V3 (Kimi-K2, Mistral Small 4, DeepSeek-V3.2, GLM-5) in the HF format.
void read_deepseek(ConfigReader& c, ModelConfig& m, Keys& k, bool v3);

// The families of 2026 (model_families.cpp).
void read_glm4_moe(ConfigReader& c, ModelConfig& m, Keys& k);
void read_qwen3_next(ConfigReader& c, ModelConfig& m, Keys& k);
void read_nemotron_h(ConfigReader& c, ModelConfig& m, Keys& k);
/// DSA's indexer keys (deepseek_v32, glm_moe_dsa), after read_deepseek.
void read_sparse_attention(ConfigReader& c, ModelConfig& m);

}  // namespace moesim::sim::config_detail
