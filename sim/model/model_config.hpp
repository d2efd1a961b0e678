#pragma once
// The architecture of a transformer (MoE or dense) as moesim needs it: shapes only, no weights.
// Read from a HuggingFace config.json (or DeepSeek's native inference config) or a preset.

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace moesim::sim {

/// Attention flavour of a layer stack.
enum class AttentionKind { gqa, mla };

/// How the q/k norms are parameterised, which differs by family (only read when qk_norm is set).
enum class QkNormKind {
  per_head,    ///< one RMSNorm of head_dim shared by all heads (Qwen3): 2 x head_dim weights
  full_width,  ///< one RMSNorm over all q heads and one over all k heads (OLMoE)
  weightless,  ///< L2 norm without weights (Llama-4)
};

/// Attention shapes. GQA covers MHA (kv_heads == heads) and MQA.
struct AttentionSpec {
  AttentionKind kind = AttentionKind::gqa;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;        ///< GQA: dimension of each q/k/v head
  bool qkv_bias = false;   ///< biases on q, k, v projections
  bool o_bias = false;     ///< bias on the output projection
  bool qk_norm = false;    ///< per-head RMSNorm on q and k (Qwen3, Llama-4)
  bool output_gate = false;  ///< Qwen3-Next: q_proj also yields a sigmoid gate on the attention output
  QkNormKind qk_norm_kind = QkNormKind::per_head;
  bool sinks = false;      ///< learned per-head attention sinks (gpt-oss)
  // MLA (DeepSeek-V2/V3): low-rank q and a compressed latent KV.
  int q_lora_rank = 0;     ///< 0: q is projected directly from the hidden state
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
};

/// Mixture-of-experts shapes.
struct MoeSpec {
  // Experts are gated (SwiGLU: gate, up, down) unless ModelConfig::mlp_gated is false.
  int num_experts = 0;            ///< routed experts per MoE layer
  int top_k = 0;                  ///< routed experts per token
  int expert_intermediate = 0;    ///< intermediate size of one routed expert
  int num_shared_experts = 0;     ///< always-active experts (DeepSeek, Qwen2-MoE, Llama-4)
  int shared_intermediate = 0;    ///< intermediate size of ONE shared expert
  bool shared_expert_gate = false;///< Qwen2-MoE: a sigmoid gate (hidden x 1) on the shared expert
  bool expert_bias = false;       ///< gpt-oss: biases in expert projections
  bool router_bias = false;       ///< gpt-oss: bias in the router
  bool router_correction_bias = false; ///< DeepSeek-V3 noaux_tc: per-expert score correction bias
  int n_group = 1;                ///< DeepSeek group-limited routing: expert groups
  int topk_group = 1;             ///< groups a token may use
};

/// What mixes a layer's tokens: softmax attention over a KV cache, or a linear recurrence whose
/// constant-size state per sequence replaces the KV cache.
enum class Mixer {
  attention,
  gated_deltanet,  ///< Gated DeltaNet (Qwen3-Next, Qwen3.5): a delta-rule state per value head
  mamba2,          ///< Mamba-2 SSD (Nemotron-H, Nemotron-3): a selective state per head
  none,            ///< no mixer: the layer is an MLP or MoE block alone (Nemotron-H's E and -)
};
const char* mixer_name(Mixer m);

/// The linear-recurrent mixers' shapes (docs/models.md, "Linear attention and state-space
/// layers"). Each head keeps a key_dim x value_dim state; prefill scans in chunks.
struct RecurrentSpec {
  // Gated DeltaNet: q and k over key heads, v over value heads (linear_* keys).
  int gdn_key_heads = 0, gdn_value_heads = 0, gdn_key_dim = 0, gdn_value_dim = 0;
  // Mamba-2: heads x head_dim values, state_size per head, B and C shared by groups.
  int mamba_heads = 0, mamba_head_dim = 0, ssm_state = 0, mamba_groups = 1;
  bool mamba_proj_bias = false, conv_bias = true;
  int conv_kernel = 4;       ///< the causal 1-d convolution before the recurrence
  int chunk = 64;            ///< tokens per chunk of the prefill scan
  double state_bytes = 2;    ///< bytes per state element (Nemotron-H keeps its SSM state in fp32)

  /// State heads, and each head's key and value sizes.
  int heads(Mixer m) const { return m == Mixer::mamba2 ? mamba_heads : gdn_value_heads; }
  int key_dim(Mixer m) const { return m == Mixer::mamba2 ? ssm_state : gdn_key_dim; }
  int value_dim(Mixer m) const { return m == Mixer::mamba2 ? mamba_head_dim : gdn_value_dim; }
  /// Channels of the convolution (what it reads and keeps kernel - 1 of).
  double conv_channels(Mixer m) const {
    return m == Mixer::mamba2 ? double(mamba_heads) * mamba_head_dim + 2.0 * mamba_groups * ssm_state
                              : 2.0 * gdn_key_heads * gdn_key_dim + double(gdn_value_heads) * gdn_value_dim;
  }
};

/// DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): a lightweight indexer scores every earlier
/// token, and attention runs over the top `topk` only.
struct SparseAttentionSpec {
  int index_heads = 0;
  int index_head_dim = 0;
  int topk = 0;              ///< 0: no indexer
  bool enabled() const { return topk > 0; }
};

/// What one decoder layer contains.
struct LayerSpec {
  bool moe = false;          ///< routed experts (else a dense MLP of ModelConfig::dense_intermediate)
  int sliding_window = 0;    ///< 0: full attention; else attention spans at most this many tokens
  /// Llama-4 chunked attention: `sliding_window` is a fixed chunk (a token sees back to its
  /// chunk's start), not a sliding span. The cost functions use the window as a cap either way.
  bool chunked = false;
  Mixer mixer = Mixer::attention;
  bool mlp = true;           ///< false: no MLP at all (Nemotron-H's Mamba and attention layers)
};

/// A whole model. `layers.size() == num_layers`.
struct ModelConfig {
  std::string name;          ///< preset name or file stem
  std::string model_type;    ///< the config's model_type, e.g. "deepseek_v3"; empty for
                             ///< DeepSeek's native inference format, which has none
  std::string family;        ///< normalised family: mixtral, qwen2_moe, qwen3_moe, deepseek_v2,
                             ///< deepseek_v3 (also kimi_k2, mistral4), deepseek_v32, glm_moe_dsa,
                             ///< glm4_moe, qwen3_next, nemotron_h, gpt_oss, olmoe, llama4, llama,
                             ///< qwen2, qwen3
  int hidden = 0;
  int num_layers = 0;
  int vocab = 0;
  bool tie_embeddings = false;
  int dense_intermediate = 0;  ///< intermediate size of dense MLP layers (0 if none)
  bool mlp_bias = false;       ///< Llama `mlp_bias`: biases in the dense MLP projections
  int max_position = 0;
  int mtp_layers = 0;          ///< DeepSeek multi-token-prediction modules (not in main counts);
                               ///< each has the shape of the last decoder layer
  /// Gated MLPs and experts (SwiGLU: gate, up and down, 3 matrices); false: up and down only
  /// with a plain activation (Nemotron-H's squared ReLU, 2 matrices).
  bool mlp_gated = true;
  AttentionSpec attention;
  SparseAttentionSpec sparse;  ///< DSA on every attention layer (topk 0: none)
  RecurrentSpec recurrent;     ///< for gated_deltanet and mamba2 layers
  MoeSpec moe;
  std::vector<LayerSpec> layers;

  bool is_moe() const { return moe.num_experts > 0; }
  int num_moe_layers() const;
  /// Weight matrices of one MLP or expert: 3 gated, 2 not.
  int mlp_matrices() const { return mlp_gated ? 3 : 2; }
  /// The intermediate width of an MLP or expert of `params` weights (biases aside).
  double mlp_intermediate(double params) const { return params / (mlp_matrices() * hidden); }
  /// Whether any layer keeps a recurrent state instead of a KV cache.
  bool has_recurrent_layers() const;
};

/// Parameter counts, following the convention documented in docs/models-params.md: `total`
/// includes embedding, lm head (unless tied), norms, routers, shared and routed experts; MTP
/// modules are reported in `mtp` only. The components below sum to `total`.
struct ParamCounts {
  double embedding = 0;       ///< token embedding table
  double lm_head = 0;         ///< 0 when tied to the embedding
  double attention = 0;       ///< all layers: projections, biases, q/k and MLA latent norms, sinks
  double dense_mlp = 0;       ///< dense MLP layers
  double routed_experts = 0;  ///< all routed experts of all layers
  double shared_experts = 0;
  double gate = 0;            ///< routers
  double norms = 0;           ///< layer norms and the final norm
  /// Multi-token-prediction modules (reported, not in total): their decoder layers, eh_proj and
  /// norms. Their embedding and output head are the main model's (DeepSeek's checkpoint stores
  /// copies of both, which is why its 685B figure is larger than total + mtp).
  double mtp = 0;
  double total = 0;
  double active = 0;          ///< per token: routed experts counted top_k of num_experts
  /// `active` without the input embedding table (a row lookup, no matmul). DeepSeek's and
  /// OpenAI's stated active counts follow this convention. A tied table is also the lm head and
  /// stays in.
  double active_no_embedding = 0;
};

/// Per-layer parameter counts (one layer, not summed), used by the cost model.
struct LayerParams {
  double attention = 0;        ///< q/k/v/o (or MLA) projections, biases, qk/latent norms, sinks
  double gate = 0;             ///< router (0 for dense layers)
  double routed_expert = 0;    ///< ONE routed expert (0 for dense layers)
  double shared_experts = 0;   ///< all shared experts of the layer, incl. their gate
  double dense_mlp = 0;        ///< dense MLP (0 for MoE layers)
  double norms = 0;
};

/// Supported `model_type` values of HuggingFace configs (for error messages).
std::vector<std::string> supported_model_types();

/// Builds a ModelConfig from a parsed config.json (HF format, or DeepSeek's native inference
/// format). Problems (unknown model_type naming the supported ones, missing or invalid keys) go
/// to `diag` with JSON pointers; returns nullopt when the model cannot be built.
std::optional<ModelConfig> model_from_json(const nlohmann::json& config, const std::string& name,
                                           Diagnostics& diag);

/// Reads a config.json file; the Diagnostics file label should be the path.
std::optional<ModelConfig> load_model_file(const std::string& path, Diagnostics& diag);

ParamCounts count_parameters(const ModelConfig& model);
/// `layer` must be in [0, num_layers) (std::out_of_range otherwise: a caller bug, not user input).
LayerParams layer_parameters(const ModelConfig& model, int layer);

/// FLOPs of one token through the attention of `layer` (projections + scores + weighted sum) when
/// it attends to `context_tokens` earlier tokens (capped by the sliding window). A multiply-add
/// counts 2 FLOPs. MLA is counted in its absorbed inference form for decode.
double attention_flops_per_token(const ModelConfig& model, int layer, double context_tokens);

/// KV-cache elements stored per token per layer (GQA: 2 x kv_heads x head_dim; MLA: the latent
/// kv_lora_rank + qk_rope_head_dim; 0 for a recurrent layer). Multiply by the KV dtype's bytes.
double kv_elements_per_token(const ModelConfig& model, int layer);

/// Bytes per token per layer kept beside the KV cache in their own format: DSA's indexer keys
/// (index_head_dim fp8 values and one fp32 scale). 0 without DSA or for a recurrent layer.
double index_bytes_per_token(const ModelConfig& model, int layer);

/// Bytes of a recurrent layer's state for one sequence (every head's key x value state in the
/// state dtype, and the convolution's last kernel - 1 inputs in bf16); 0 for attention layers.
double recurrent_state_bytes(const ModelConfig& model, int layer);

/// FLOPs per token and state element of a recurrent mixer's decode update (0 for attention).
double recurrent_flops_per_state_element(Mixer m);

/// Tokens an attention layer's kernel spans when `context_tokens` precede: the KV-cache span,
/// capped by DSA's top-k.
double attention_span_tokens(const ModelConfig& model, int layer, double context_tokens);

/// Tokens whose KV `layer` must keep when `context_tokens` precede the next one: the context,
/// capped by the layer's sliding window (or attention chunk).
double kv_cache_tokens(const ModelConfig& model, int layer, double context_tokens);

}  // namespace moesim::sim
