// sim/model: reading HF and DeepSeek-native configs, and parameter counts checked against the
// figures the model owners publish. Config provenance and the quoted figures are listed in
// data/hf/SOURCES.md (a copy of shared/models/hf/) ("SOURCES item N" below); docs/models-params.md explains the
// counting convention and tabulates the results.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <sstream>
#include <string>

#include "json_reader.hpp"
#include "model/model.hpp"

#ifndef MOESIM_HF_CONFIGS_DIR
#error "MOESIM_HF_CONFIGS_DIR must name the folder with the HF configs (data/hf)"
#endif

namespace moesim::sim {
namespace {

// Tolerances on owners' figures: a figure given to three significant digits ("46.7B") is a
// rounded measurement, so 2%; a two-digit figure or a size in a model's name ("37B", "A22B",
// "1T") may be rounded by up to ~5%.
constexpr double kThreeDigits = 0.02;
constexpr double kTwoDigits = 0.05;
constexpr double kB = 1e9;

::testing::AssertionResult within(double ours, double owner, double tolerance) {
  const double err = (ours - owner) / owner;
  std::ostringstream s;
  s << "ours " << ours / kB << "B vs owner " << owner / kB << "B: error " << err * 100
    << "% (tolerance " << tolerance * 100 << "%)";
  if (std::abs(err) <= tolerance) return ::testing::AssertionSuccess() << s.str();
  return ::testing::AssertionFailure() << s.str();
}

std::string shared_path(const std::string& file) {
  return std::string(MOESIM_HF_CONFIGS_DIR) + "/" + file;
}

/// Loads a shared config; a third-party config must load without a single problem (unknown
/// keys included).
std::optional<ModelConfig> load_shared(const std::string& file) {
  Diagnostics diag(shared_path(file));
  auto m = load_model_file(shared_path(file), diag);
  EXPECT_TRUE(diag.problems().empty()) << diag.to_string();
  return m;
}

nlohmann::json shared_json(const std::string& file) {
  Diagnostics diag(shared_path(file));
  auto j = read_json_file(shared_path(file), diag);
  EXPECT_TRUE(j.has_value()) << diag.to_string();
  return j.value_or(nlohmann::json::object());
}

/// The problems recorded at `pointer`.
std::vector<Problem> problems_at(const Diagnostics& diag, const std::string& pointer) {
  std::vector<Problem> out;
  for (const auto& p : diag.problems()) {
    if (p.pointer == pointer) out.push_back(p);
  }
  return out;
}

bool has_error_at(const Diagnostics& diag, const std::string& pointer) {
  for (const auto& p : problems_at(diag, pointer)) {
    if (p.severity == Problem::Severity::error) return true;
  }
  return false;
}

/// Builds a model from a (modified) config, expecting failure; returns the problems.
Diagnostics expect_rejected(const nlohmann::json& config) {
  Diagnostics diag("test.json");
  auto m = model_from_json(config, "test", diag);
  EXPECT_FALSE(m.has_value());
  EXPECT_TRUE(diag.has_errors());
  return diag;
}

// --- Owners' figures, one test per shared config -------------------------------------------

// SOURCES item 1: "Mixtral has 46.7B total parameters but only uses 12.9B parameters per token"
// (Mistral AI announcement, quoted secondarily).
TEST(OwnerFigures, Mixtral8x7B) {
  auto m = load_shared("mistralai--Mixtral-8x7B-v0.1.json");
  ASSERT_TRUE(m);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 46.7 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active, 12.9 * kB, kThreeDigits));
}

// SOURCES item 8: "only 39B active parameters out of 141B" (Mistral AI announcement, secondary).
TEST(OwnerFigures, Mixtral8x22B) {
  auto m = load_shared("mistralai--Mixtral-8x22B-v0.1.json");
  ASSERT_TRUE(m);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 141 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active, 39 * kB, kTwoDigits));
}

// SOURCES item 2: "671B total parameters with 37B activated for each token"; "685B, which includes
// 671B of the Main Model weights and 14B of the Multi-Token Prediction (MTP) Module weights"
// (deepseek-ai/DeepSeek-V3 README.md @ 9b4e9788).
// deepseek-ai/DeepSeek-V3 README_WEIGHTS.md @ 0b39205a gives the finer figures: activation
// parameters 36.7B; MTP "11.5B unique parameters, excluding the shared 0.9B Embedding and 0.9B
// output Head". DeepSeek's activated figures match our count without the input embedding
// (36.63B; with it 37.55B), although README_WEIGHTS says its 36.7B includes both 0.9B tables;
// V2-Lite below shows the same convention unambiguously.
TEST(OwnerFigures, DeepSeekV3) {
  auto m = load_shared("deepseek-ai--DeepSeek-V3.json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->family, "deepseek_v3");
  EXPECT_EQ(m->num_moe_layers(), 58);  // first_k_dense_replace 3 of 61
  EXPECT_EQ(m->mtp_layers, 1);
  EXPECT_TRUE(m->moe.router_correction_bias);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 671 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active_no_embedding, 37 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.active_no_embedding, 36.7 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.mtp, 11.5 * kB, kThreeDigits));
  // The HF checkpoint stores the MTP module with its own copies of embedding and head: 685B.
  EXPECT_TRUE(within(pc.total + pc.mtp + pc.embedding + pc.lm_head, 685 * kB, kThreeDigits));
}

// SOURCES item 3: DeepSeek's native inference config of the same model. It has no MTP key (the
// demo does not run MTP); everything else must count exactly as the HF config does.
TEST(OwnerFigures, DeepSeekV3Native) {
  auto native = load_shared("deepseek-ai--DeepSeek-V3.native.json");
  auto hf = load_shared("deepseek-ai--DeepSeek-V3.json");
  ASSERT_TRUE(native && hf);
  EXPECT_EQ(native->family, "deepseek_v3");
  EXPECT_EQ(native->model_type, "");
  EXPECT_EQ(native->num_moe_layers(), hf->num_moe_layers());
  EXPECT_EQ(native->moe.n_group, 8);
  EXPECT_EQ(native->moe.topk_group, 4);
  const ParamCounts a = count_parameters(*native);
  const ParamCounts b = count_parameters(*hf);
  EXPECT_DOUBLE_EQ(a.total, b.total);
  EXPECT_DOUBLE_EQ(a.active, b.active);
  EXPECT_TRUE(within(a.total, 671 * kB, kThreeDigits));
}

// SOURCES item 12: "32 billion activated parameters and 1 trillion total parameters"
// (MoonshotAI/Kimi-K2 README.md @ c6157be8). Moonshot does not say whether the embedding is
// counted as activated; ours with it is 32.9B, without it 31.7B: both within 5% of "32B".
TEST(OwnerFigures, KimiK2) {
  auto m = load_shared("moonshotai--Kimi-K2-Instruct.json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->model_type, "kimi_k2");
  EXPECT_EQ(m->family, "deepseek_v3");
  EXPECT_EQ(m->mtp_layers, 0);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 1000 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.active, 32 * kB, kTwoDigits));
}

// SOURCES item 9: "DeepSeek-V2-Lite comprises 15.7B total parameters, of which 2.4B are
// activated for each token" (HF model card copy). The 2.4B leaves out the input embedding
// (0.21B): with it our count is 2.66B (11% over), without it 2.45B.
TEST(OwnerFigures, DeepSeekV2Lite) {
  auto m = load_shared("deepseek-ai--DeepSeek-V2-Lite.json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->attention.q_lora_rank, 0);  // "q_lora_rank": null
  EXPECT_FALSE(m->moe.router_correction_bias);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 15.7 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active_no_embedding, 2.4 * kB, kTwoDigits));
}

// SOURCES item 10: the native 16B config, mapped to V2-Lite by its dimensions.
TEST(OwnerFigures, DeepSeekV2LiteNative) {
  auto native = load_shared("deepseek-ai--DeepSeek-V2-Lite.native.json");
  auto hf = load_shared("deepseek-ai--DeepSeek-V2-Lite.json");
  ASSERT_TRUE(native && hf);
  EXPECT_EQ(native->family, "deepseek_v2");
  const ParamCounts a = count_parameters(*native);
  const ParamCounts b = count_parameters(*hf);
  EXPECT_DOUBLE_EQ(a.total, b.total);
  EXPECT_DOUBLE_EQ(a.active, b.active);
}

// SOURCES item 4 gives only the name "30B-A3B" (QwenLM/Qwen3 README @ 7a2f61ff). Qwen's model
// cards for the same-shaped Qwen3-30B-A3B-Instruct-2507 / -Thinking-2507 (stored copies, e.g.
// index file id 2883265704) state "30.5B in total and 3.3B activated", "Non-Embedding: 29.9B".
// Qwen counts the embedding as activated, so the "A3B" in the name is 3.3B rounded down: our
// 3.35B is 12% above "3B" and we do not assert against it.
TEST(OwnerFigures, Qwen3_30B_A3B) {
  auto m = load_shared("Qwen--Qwen3-30B-A3B.json");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->attention.qk_norm);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 30 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.total, 30.5 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active, 3.3 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.total - pc.embedding - pc.lm_head, 29.9 * kB, kThreeDigits));
}

// SOURCES item 5: named "235B-A22B" (QwenLM/Qwen3 README @ 7a2f61ff).
TEST(OwnerFigures, Qwen3_235B_A22B) {
  auto m = load_shared("Qwen--Qwen3-235B-A22B.json");
  ASSERT_TRUE(m);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 235 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.active, 22 * kB, kTwoDigits));
}

// SOURCES item 11: "a 480B-parameter Mixture-of-Experts model with 35B active parameters"
// (QwenLM/Qwen3-Coder README @ 0ae30f55).
TEST(OwnerFigures, Qwen3Coder480B_A35B) {
  auto m = load_shared("Qwen--Qwen3-Coder-480B-A35B-Instruct.json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->moe.num_shared_experts, 0);  // shared_expert_intermediate_size 0: none
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 480 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.active, 35 * kB, kTwoDigits));
}

// SOURCES item 14: "a total of 57B parameters, only 14B of which are activated" (HF card copy).
TEST(OwnerFigures, Qwen2_57B_A14B) {
  auto m = load_shared("Qwen--Qwen2-57B-A14B.json");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->attention.qkv_bias);
  EXPECT_FALSE(m->attention.o_bias);
  EXPECT_EQ(m->moe.num_shared_experts, 1);
  EXPECT_EQ(m->moe.shared_intermediate, 20480);
  EXPECT_TRUE(m->moe.shared_expert_gate);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 57 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.active, 14 * kB, kTwoDigits));
}

// SOURCES item 7: "117B parameters with 5.1B active parameters" (openai/gpt-oss README @
// 7b583341). The gpt-oss model card (arXiv 2508.10925, Table 1: 116.83B total, 5.13B active)
// says "Unembedding parameters are counted towards active, but not embeddings": our
// active_no_embedding is that convention (with the embedding, active is 5.71B).
TEST(OwnerFigures, GptOss120B) {
  auto m = load_shared("openai--gpt-oss-120b.json");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->attention.sinks);
  EXPECT_TRUE(m->moe.expert_bias);
  EXPECT_TRUE(m->moe.router_bias);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 117 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active_no_embedding, 5.1 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.total, 116.83 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active_no_embedding, 5.13 * kB, kThreeDigits));
}

// SOURCES item 6: "21B parameters with 3.6B active parameters" (openai/gpt-oss README); model
// card Table 1: 20.91B total, 3.61B active (embedding not counted as active, see above).
TEST(OwnerFigures, GptOss20B) {
  auto m = load_shared("openai--gpt-oss-20b.json");
  ASSERT_TRUE(m);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 21 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.active_no_embedding, 3.6 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.total, 20.91 * kB, kThreeDigits));
  EXPECT_TRUE(within(pc.active_no_embedding, 3.61 * kB, kThreeDigits));
}

// SOURCES item 13: "17B (Activated) 109B (Total)" (Meta's Llama 4 model card). We count the text
// model only (107.8B); the vision encoder and projector (~0.9B by their shapes) are not modelled.
TEST(OwnerFigures, Llama4Scout) {
  auto m = load_shared("meta-llama--Llama-4-Scout-17B-16E-Instruct.json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->family, "llama4");
  EXPECT_EQ(m->num_moe_layers(), 48);  // interleave_moe_layer_step 1
  EXPECT_EQ(m->moe.num_shared_experts, 1);
  EXPECT_EQ(m->moe.shared_intermediate, 8192);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_TRUE(within(pc.total, 109 * kB, kTwoDigits));
  EXPECT_TRUE(within(pc.active, 17 * kB, kTwoDigits));
}

// SOURCES item 16: "1B (1.23B)" (Llama 3.2 model card copy). Tied embeddings: no separate head.
TEST(OwnerFigures, Llama32_1B) {
  auto m = load_shared("meta-llama--Llama-3.2-1B.json");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->is_moe());
  EXPECT_TRUE(m->tie_embeddings);
  const ParamCounts pc = count_parameters(*m);
  EXPECT_EQ(pc.lm_head, 0);
  EXPECT_EQ(pc.total, pc.active);
  EXPECT_EQ(pc.active_no_embedding, pc.active);  // the tied table is the lm head: it stays
  EXPECT_TRUE(within(pc.total, 1.23 * kB, kThreeDigits));
}

// SOURCES item 15 gives only the size class "7B" ("0.5B, 1.8B, 4B, 7B, 14B, 32B and 72B dense
// models"); no owner source with a precise count was found. The shapes give 7.72B (the 1.24B of
// untied embedding and head make the difference), so the test pins the exact arithmetic and
// records the gap to the name with an 11% tolerance: the name is a size class, not a count.
TEST(OwnerFigures, Qwen15_7B) {
  auto m = load_shared("Qwen--Qwen1.5-7B.json");
  ASSERT_TRUE(m);
  const ParamCounts pc = count_parameters(*m);
  const double h = 4096, v = 151936, layers = 32, inter = 11008;
  const double attention = 4 * h * h + 3 * h;  // q, k, v, o (32 KV heads = MHA) + q/k/v biases
  const double layer = attention + 3 * h * inter + 2 * h;
  EXPECT_DOUBLE_EQ(pc.total, 2 * v * h + layers * layer + h);  // 7,721,324,544
  EXPECT_TRUE(within(pc.total, 7 * kB, 0.11));
}

// --- Structure read from the configs -------------------------------------------------------

TEST(ModelStructure, GptOssAlternatesSlidingAndFullAttention) {
  auto m = load_shared("openai--gpt-oss-20b.json");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->layers.size(), 24u);
  EXPECT_EQ(m->layers[0].sliding_window, 128);
  EXPECT_EQ(m->layers[1].sliding_window, 0);
  EXPECT_EQ(m->layers[22].sliding_window, 128);
  EXPECT_EQ(m->layers[23].sliding_window, 0);
}

TEST(ModelStructure, Llama4ScoutChunksRopeLayers) {
  auto m = load_shared("meta-llama--Llama-4-Scout-17B-16E-Instruct.json");
  ASSERT_TRUE(m);
  // no_rope_layers is empty, so transformers' default applies: every 4th layer is NoPE/global.
  EXPECT_EQ(m->layers[0].sliding_window, 8192);
  EXPECT_TRUE(m->layers[0].chunked);
  EXPECT_EQ(m->layers[3].sliding_window, 0);
  EXPECT_EQ(m->layers[47].sliding_window, 0);
  EXPECT_EQ(m->attention.qk_norm_kind, QkNormKind::weightless);
}

TEST(ModelStructure, DenseLayersAndSparseSteps) {
  auto v3 = load_shared("deepseek-ai--DeepSeek-V3.json");
  ASSERT_TRUE(v3);
  EXPECT_FALSE(v3->layers[2].moe);
  EXPECT_TRUE(v3->layers[3].moe);
  EXPECT_EQ(v3->dense_intermediate, 18432);

  nlohmann::json q = shared_json("Qwen--Qwen3-30B-A3B.json");
  q["decoder_sparse_step"] = 2;
  q["mlp_only_layers"] = {5};
  Diagnostics diag;
  auto m = model_from_json(q, "q", diag);
  ASSERT_TRUE(m) << diag.to_string();
  EXPECT_FALSE(m->layers[0].moe);
  EXPECT_TRUE(m->layers[1].moe);
  EXPECT_FALSE(m->layers[5].moe);
  EXPECT_EQ(m->num_moe_layers(), 23);
  EXPECT_EQ(m->dense_intermediate, 6144);

  nlohmann::json ds = shared_json("deepseek-ai--DeepSeek-V3.json");
  ds["moe_layer_freq"] = 2;
  auto d = model_from_json(ds, "d", diag);
  ASSERT_TRUE(d) << diag.to_string();
  EXPECT_FALSE(d->layers[3].moe);
  EXPECT_TRUE(d->layers[4].moe);
}

TEST(ModelStructure, QwenSlidingWindowFromMaxWindowLayers) {
  nlohmann::json q = shared_json("Qwen--Qwen1.5-7B.json");
  q["use_sliding_window"] = true;
  q["sliding_window"] = 4096;
  q["max_window_layers"] = 28;
  Diagnostics diag;
  auto m = model_from_json(q, "q", diag);
  ASSERT_TRUE(m) << diag.to_string();
  EXPECT_EQ(m->layers[27].sliding_window, 0);
  EXPECT_EQ(m->layers[28].sliding_window, 4096);
}

TEST(ModelStructure, ComponentsSumToTotalAndLayersAddUp) {
  for (const char* file : {"deepseek-ai--DeepSeek-V3.json", "openai--gpt-oss-120b.json",
                           "Qwen--Qwen2-57B-A14B.json", "meta-llama--Llama-3.2-1B.json"}) {
    auto m = load_shared(file);
    ASSERT_TRUE(m) << file;
    const ParamCounts pc = count_parameters(*m);
    EXPECT_DOUBLE_EQ(pc.total, pc.embedding + pc.lm_head + pc.attention + pc.dense_mlp +
                                   pc.routed_experts + pc.shared_experts + pc.gate + pc.norms)
        << file;
    double layers = 0;
    for (int i = 0; i < m->num_layers; ++i) {
      const LayerParams lp = layer_parameters(*m, i);
      layers += lp.attention + lp.gate + m->moe.num_experts * lp.routed_expert +
                lp.shared_experts + lp.dense_mlp + lp.norms;
    }
    EXPECT_DOUBLE_EQ(layers + pc.embedding + pc.lm_head + m->hidden, pc.total) << file;
  }
}

// OLMoE has no shared config (SOURCES: "Not found"); a small synthetic config checks the one
// thing that differs from Qwen3: its q/k norms span all heads rather than one head.
TEST(ModelStructure, OlmoeFullWidthQkNorm) {
  const nlohmann::json config = {
      {"model_type", "olmoe"},  {"hidden_size", 64},        {"num_hidden_layers", 2},
      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"vocab_size", 100},
      {"intermediate_size", 32}, {"num_experts", 8},         {"num_experts_per_tok", 2},
      {"clip_qkv", nullptr}};
  Diagnostics diag;
  auto m = model_from_json(config, "olmoe", diag);
  ASSERT_TRUE(m) << diag.to_string();
  EXPECT_EQ(m->attention.qk_norm_kind, QkNormKind::full_width);
  // q 64x64, k and v 64x32, o 64x64, q_norm 64, k_norm 32.
  EXPECT_DOUBLE_EQ(layer_parameters(*m, 0).attention, 64 * 64 * 2 + 64 * 32 * 2 + 64 + 32);
}

// --- Errors ----------------------------------------------------------------------------------

TEST(ModelErrors, UnknownModelTypeNamesItAndListsSupported) {
  const Diagnostics diag = expect_rejected({{"model_type", "gpt2"}, {"n_embd", 768}});
  const auto at = problems_at(diag, "/model_type");
  ASSERT_EQ(at.size(), 1u) << diag.to_string();
  EXPECT_NE(at[0].message.find("'gpt2'"), std::string::npos);
  for (const auto& t : supported_model_types()) {
    EXPECT_NE(at[0].hint.find(t), std::string::npos) << t;
  }
  for (const char* t : {"mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3",
                        "kimi_k2", "gpt_oss", "olmoe", "llama4", "llama", "qwen2"}) {
    const auto types = supported_model_types();
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  }
}

TEST(ModelErrors, NearMissModelTypeGetsSuggestion) {
  const Diagnostics diag = expect_rejected({{"model_type", "deepseek_v4"}});
  const auto at = problems_at(diag, "/model_type");
  ASSERT_EQ(at.size(), 1u);
  EXPECT_NE(at[0].hint.find("did you mean"), std::string::npos) << at[0].hint;
}

TEST(ModelErrors, MissingModelType) {
  const Diagnostics diag = expect_rejected({{"hidden_size", 4096}});
  EXPECT_TRUE(has_error_at(diag, "/model_type")) << diag.to_string();
}

TEST(ModelErrors, MissingKeyHasItsPointer) {
  nlohmann::json c = shared_json("mistralai--Mixtral-8x7B-v0.1.json");
  c.erase("num_local_experts");
  c.erase("hidden_size");
  const Diagnostics diag = expect_rejected(c);
  // Every problem of the pass is reported, not just the first.
  ASSERT_TRUE(has_error_at(diag, "/num_local_experts")) << diag.to_string();
  ASSERT_TRUE(has_error_at(diag, "/hidden_size")) << diag.to_string();
  EXPECT_NE(problems_at(diag, "/hidden_size")[0].message.find("missing"), std::string::npos);
}

TEST(ModelErrors, MissingKeyInsideLlama4TextConfig) {
  nlohmann::json c = shared_json("meta-llama--Llama-4-Scout-17B-16E-Instruct.json");
  c["text_config"].erase("num_local_experts");
  const Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/text_config/num_local_experts")) << diag.to_string();
}

TEST(ModelErrors, MissingKeyInNativeFormat) {
  nlohmann::json c = shared_json("deepseek-ai--DeepSeek-V3.native.json");
  c.erase("kv_lora_rank");
  const Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/kv_lora_rank")) << diag.to_string();
}

TEST(ModelErrors, DenseLayersNeedTheirIntermediateSize) {
  nlohmann::json c = shared_json("deepseek-ai--DeepSeek-V3.json");
  c.erase("intermediate_size");  // first_k_dense_replace 3 needs it
  const Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/intermediate_size")) << diag.to_string();
}

TEST(ModelErrors, ZeroOrNegativeSizes) {
  nlohmann::json c = shared_json("Qwen--Qwen3-30B-A3B.json");
  c["hidden_size"] = 0;
  c["moe_intermediate_size"] = -768;
  c["num_hidden_layers"] = "48";
  c["vocab_size"] = 1.5;
  Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/hidden_size")) << diag.to_string();
  EXPECT_TRUE(has_error_at(diag, "/moe_intermediate_size")) << diag.to_string();
  EXPECT_TRUE(has_error_at(diag, "/num_hidden_layers")) << diag.to_string();
  EXPECT_TRUE(has_error_at(diag, "/vocab_size")) << diag.to_string();

  // A typo'd layer count must not allocate a table of billions of layers.
  c = shared_json("Qwen--Qwen3-30B-A3B.json");
  c["num_hidden_layers"] = 2000000000;
  diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/num_hidden_layers")) << diag.to_string();
}

TEST(ModelErrors, TopKAboveExpertCount) {
  nlohmann::json c = shared_json("mistralai--Mixtral-8x7B-v0.1.json");
  c["num_experts_per_tok"] = 9;
  const Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/num_experts_per_tok")) << diag.to_string();
}

TEST(ModelErrors, ExpertsNotDivisibleIntoGroups) {
  nlohmann::json c = shared_json("deepseek-ai--DeepSeek-V3.json");
  c["n_group"] = 7;
  Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/n_group")) << diag.to_string();

  c["n_group"] = 8;
  c["topk_group"] = 9;
  diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/topk_group")) << diag.to_string();

  // 1 group of 32 experts reachable, but 40 asked for.
  c["topk_group"] = 1;
  c["num_experts_per_tok"] = 40;
  diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/num_experts_per_tok")) << diag.to_string();
}

TEST(ModelErrors, NativeGroupsUseNativeKeyNames) {
  nlohmann::json c = shared_json("deepseek-ai--DeepSeek-V3.native.json");
  c["n_expert_groups"] = 7;
  const Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/n_expert_groups")) << diag.to_string();
}

TEST(ModelErrors, HeadsNotGroupable) {
  nlohmann::json c = shared_json("meta-llama--Llama-3.2-1B.json");
  c["num_key_value_heads"] = 5;
  const Diagnostics diag = expect_rejected(c);
  EXPECT_TRUE(has_error_at(diag, "/num_key_value_heads")) << diag.to_string();
}

TEST(ModelErrors, LayerListsMustFitTheModel) {
  nlohmann::json g = shared_json("openai--gpt-oss-20b.json");
  g["layer_types"].erase(0);
  Diagnostics diag = expect_rejected(g);
  EXPECT_TRUE(has_error_at(diag, "/layer_types")) << diag.to_string();

  g = shared_json("openai--gpt-oss-20b.json");
  g["layer_types"][3] = "banded_attention";
  diag = expect_rejected(g);
  EXPECT_TRUE(has_error_at(diag, "/layer_types/3")) << diag.to_string();

  nlohmann::json q = shared_json("Qwen--Qwen3-30B-A3B.json");
  q["mlp_only_layers"] = {48};
  diag = expect_rejected(q);
  EXPECT_TRUE(has_error_at(diag, "/mlp_only_layers/0")) << diag.to_string();
}

TEST(ModelErrors, UnknownKeysInHfConfigsAreNotProblems) {
  nlohmann::json c = shared_json("mistralai--Mixtral-8x7B-v0.1.json");
  c["some_future_key"] = {{"a", 1}};
  Diagnostics diag;
  EXPECT_TRUE(model_from_json(c, "m", diag).has_value());
  EXPECT_TRUE(diag.problems().empty()) << diag.to_string();
}

TEST(ModelErrors, UnknownKeysInNativeFormatAreWarnings) {
  nlohmann::json c = shared_json("deepseek-ai--DeepSeek-V3.native.json");
  c["index_n_heads"] = 64;
  Diagnostics diag;
  EXPECT_TRUE(model_from_json(c, "m", diag).has_value());
  EXPECT_FALSE(diag.has_errors());
  const auto at = problems_at(diag, "/index_n_heads");
  ASSERT_EQ(at.size(), 1u) << diag.to_string();
  EXPECT_EQ(at[0].severity, Problem::Severity::warning);
}

TEST(ModelErrors, UnreadableFileIsAProblemNotAnException) {
  Diagnostics diag("/nonexistent/config.json");
  EXPECT_FALSE(load_model_file("/nonexistent/config.json", diag).has_value());
  EXPECT_TRUE(diag.has_errors());
  EXPECT_FALSE(expect_rejected(nlohmann::json::array()).problems().empty());
}

// --- KV cache and attention FLOPs ------------------------------------------------------------

TEST(AttentionCost, KvElementsMlaVersusGqa) {
  auto v3 = load_shared("deepseek-ai--DeepSeek-V3.json");
  auto mixtral = load_shared("mistralai--Mixtral-8x7B-v0.1.json");
  auto qwen = load_shared("Qwen--Qwen3-235B-A22B.json");
  ASSERT_TRUE(v3 && mixtral && qwen);
  EXPECT_DOUBLE_EQ(kv_elements_per_token(*v3, 0), 512 + 64);           // latent + rope key
  EXPECT_DOUBLE_EQ(kv_elements_per_token(*mixtral, 0), 2.0 * 8 * 128);  // k and v, 8 KV heads
  EXPECT_DOUBLE_EQ(kv_elements_per_token(*qwen, 0), 2.0 * 4 * 128);
  // Uncompressed, V3's 128 heads would store 128 x (192 + 128) per token: 71x the latent.
  EXPECT_LT(kv_elements_per_token(*v3, 0) * 70, 128.0 * (192 + 128));
}

TEST(AttentionCost, FlopsGrowWithContext) {
  auto mixtral = load_shared("mistralai--Mixtral-8x7B-v0.1.json");
  auto v3 = load_shared("deepseek-ai--DeepSeek-V3.json");
  ASSERT_TRUE(mixtral && v3);
  const double f1 = attention_flops_per_token(*mixtral, 0, 1024);
  const double f2 = attention_flops_per_token(*mixtral, 0, 4096);
  EXPECT_GT(f2, f1);
  // q.k and weights x v: 2 x 2 FLOPs per head dim per head per extra token.
  EXPECT_DOUBLE_EQ(f2 - f1, 4.0 * 32 * 128 * 3072);
  // Projections alone: 2 x (q, k, v, o weights).
  EXPECT_DOUBLE_EQ(attention_flops_per_token(*mixtral, 0, 0), 2 * layer_parameters(*mixtral, 0).attention);
  // MLA (absorbed): scores over latent + rope, weighted sum over the latent.
  const double g = attention_flops_per_token(*v3, 5, 2000) - attention_flops_per_token(*v3, 5, 1000);
  EXPECT_DOUBLE_EQ(g, 1000 * 2.0 * 128 * (512 + 64 + 512));
}

TEST(AttentionCost, SlidingWindowCapsFlopsAndKv) {
  auto m = load_shared("openai--gpt-oss-120b.json");
  ASSERT_TRUE(m);
  // Layer 0 slides over 128 tokens, layer 1 attends to everything.
  EXPECT_DOUBLE_EQ(attention_flops_per_token(*m, 0, 100000), attention_flops_per_token(*m, 0, 128));
  EXPECT_LT(attention_flops_per_token(*m, 0, 64), attention_flops_per_token(*m, 0, 128));
  EXPECT_GT(attention_flops_per_token(*m, 1, 100000), attention_flops_per_token(*m, 0, 100000));
  EXPECT_DOUBLE_EQ(kv_cache_tokens(*m, 0, 100000), 128);
  EXPECT_DOUBLE_EQ(kv_cache_tokens(*m, 1, 100000), 100000);

  auto scout = load_shared("meta-llama--Llama-4-Scout-17B-16E-Instruct.json");
  ASSERT_TRUE(scout);
  EXPECT_DOUBLE_EQ(attention_flops_per_token(*scout, 0, 1e6),
                   attention_flops_per_token(*scout, 0, 8192));
  EXPECT_GT(attention_flops_per_token(*scout, 3, 1e6), attention_flops_per_token(*scout, 3, 8192));
}

// --- Presets ---------------------------------------------------------------------------------

const std::map<std::string, std::string>& preset_sources() {
  static const std::map<std::string, std::string> m = {
      {"deepseek-v2-lite", "deepseek-ai--DeepSeek-V2-Lite.json"},
      {"deepseek-v3", "deepseek-ai--DeepSeek-V3.json"},
      {"deepseek-v3.2", "deepseek-ai--DeepSeek-V3.2.json"},
      {"glm-5.1", "zai-org--GLM-5.1.json"},
      {"nemotron-3-nano-30b-a3b", "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json"},
      {"qwen3-next-80b-a3b", "Qwen--Qwen3-Next-80B-A3B-Instruct.json"},
      {"gpt-oss-120b", "openai--gpt-oss-120b.json"},
      {"gpt-oss-20b", "openai--gpt-oss-20b.json"},
      {"kimi-k2", "moonshotai--Kimi-K2-Instruct.json"},
      {"llama-3.2-1b", "meta-llama--Llama-3.2-1B.json"},
      {"llama4-scout-17b-16e", "meta-llama--Llama-4-Scout-17B-16E-Instruct.json"},
      {"mixtral-8x22b", "mistralai--Mixtral-8x22B-v0.1.json"},
      {"mixtral-8x7b", "mistralai--Mixtral-8x7B-v0.1.json"},
      {"qwen1.5-7b", "Qwen--Qwen1.5-7B.json"},
      {"qwen2-57b-a14b", "Qwen--Qwen2-57B-A14B.json"},
      {"qwen3-235b-a22b", "Qwen--Qwen3-235B-A22B.json"},
      {"qwen3-30b-a3b", "Qwen--Qwen3-30B-A3B.json"},
      {"qwen3-coder-480b-a35b", "Qwen--Qwen3-Coder-480B-A35B-Instruct.json"},
  };
  return m;
}

// Presets without an unedited config in data/hf, defined from the owner's published
// architecture (the preset file's "_source" says where).
const std::vector<std::string> kArchitecturePresets{"olmoe-1b-7b", "qwen1.5-moe-a2.7b", "qwen3-0.6b", "qwen3-1.7b",
                                                    "qwen3-4b",    "qwen3-8b",          "qwen3-14b", "qwen3-32b",
                                                    "glm-4.5",     "mistral-small-4"};

TEST(Presets, EveryPresetIsAShippedSharedConfig) {
  std::vector<std::string> expected;
  for (const auto& [name, file] : preset_sources()) expected.push_back(name);
  expected.insert(expected.end(), kArchitecturePresets.begin(), kArchitecturePresets.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(preset_names(), expected);
  for (const auto& [name, file] : preset_sources()) {
    Diagnostics diag;
    auto preset = load_preset(name, diag);
    ASSERT_TRUE(preset) << name << ": " << diag.to_string();
    EXPECT_TRUE(diag.problems().empty()) << diag.to_string();
    EXPECT_EQ(preset->name, name);
    auto shared = load_shared(file);
    ASSERT_TRUE(shared) << file;
    EXPECT_DOUBLE_EQ(count_parameters(*preset).total, count_parameters(*shared).total) << name;
    EXPECT_DOUBLE_EQ(count_parameters(*preset).active, count_parameters(*shared).active) << name;
  }
}

// Qwen1.5-MoE-A2.7B: "14.3B parameters in total and 2.7B activated parameters during runtime"
// (Qwen's model card; Qwen counts the embedding table as activated).
TEST(Presets, Qwen15MoeMatchesItsOwnersCounts) {
  Diagnostics diag;
  auto m = load_preset("qwen1.5-moe-a2.7b", diag);
  ASSERT_TRUE(m) << diag.to_string();
  const ParamCounts pc = count_parameters(*m);
  EXPECT_NEAR(pc.total / 1e9, 14.3, 0.02 * 14.3);
  EXPECT_NEAR(pc.active / 1e9, 2.7, 0.02 * 2.7);
  EXPECT_EQ(m->moe.num_experts, 60);
  EXPECT_EQ(m->moe.top_k, 4);
}

// OLMoE-1B-7B: "7 billion (B) parameters but uses only 1B per input token" (arXiv 2409.02060,
// abstract); the paper's own table gives the exact figures 6.9B total and 1.3B active.
TEST(Presets, OlmoeMatchesItsOwnersCounts) {
  Diagnostics diag;
  auto m = load_preset("olmoe-1b-7b", diag);
  ASSERT_TRUE(m) << diag.to_string();
  const ParamCounts pc = count_parameters(*m);
  EXPECT_EQ(std::lround(pc.total / 1e9), 7);
  EXPECT_EQ(std::lround(pc.active / 1e9), 1);
  EXPECT_NEAR(pc.total / 1e9, 6.9, 0.02 * 6.9);
  EXPECT_NEAR(pc.active / 1e9, 1.3, 0.02 * 1.3);
  EXPECT_EQ(m->moe.num_experts, 64);
  EXPECT_EQ(m->moe.top_k, 8);
  EXPECT_TRUE(m->attention.qk_norm);
}

// Dense Qwen3 (Qwen's model cards, e.g. Qwen/Qwen3-8B: "Number of Parameters: 8.2B", "Number of
// Paramaters (Non-Embedding): 6.95B"; layers and tying as in the Qwen3 Technical Report, Table 1).
TEST(Presets, DenseQwen3MatchesItsOwnersCounts) {
  struct Card {
    const char* name;
    double total_b, non_embedding_b;
    int layers;
    bool tied;
  };
  for (const Card& c : {Card{"qwen3-0.6b", 0.6, 0.44, 28, true}, Card{"qwen3-1.7b", 1.7, 1.4, 28, true},
                        Card{"qwen3-4b", 4.0, 3.6, 36, true}, Card{"qwen3-8b", 8.2, 6.95, 36, false},
                        Card{"qwen3-14b", 14.8, 13.2, 40, false}, Card{"qwen3-32b", 32.8, 31.2, 64, false}}) {
    Diagnostics diag;
    auto m = load_preset(c.name, diag);
    ASSERT_TRUE(m) << diag.to_string();
    EXPECT_TRUE(diag.problems().empty()) << diag.to_string();
    EXPECT_FALSE(m->is_moe());
    EXPECT_TRUE(m->attention.qk_norm) << c.name;
    EXPECT_EQ(m->num_layers, c.layers);
    EXPECT_EQ(m->tie_embeddings, c.tied);
    const ParamCounts pc = count_parameters(*m);
    const double non_embedding = pc.total - pc.embedding - pc.lm_head;
    // The cards round to two or three significant figures.
    EXPECT_NEAR(non_embedding / 1e9, c.non_embedding_b, 0.02 * c.non_embedding_b) << c.name;
    EXPECT_NEAR(pc.total / 1e9, c.total_b, 0.04 * c.total_b) << c.name;
  }
}

TEST(Presets, UnknownNameListsValidOnes) {
  Diagnostics diag("scenario.json");
  EXPECT_FALSE(load_preset("deepseek-v4", diag, "/model").has_value());
  const auto at = problems_at(diag, "/model");
  ASSERT_EQ(at.size(), 1u) << diag.to_string();
  EXPECT_NE(at[0].message.find("'deepseek-v4'"), std::string::npos);
  EXPECT_NE(at[0].hint.find("did you mean 'deepseek-v3'"), std::string::npos) << at[0].hint;
  for (const auto& name : preset_names()) EXPECT_NE(at[0].hint.find(name), std::string::npos);
}

}  // namespace
}  // namespace moesim::sim
