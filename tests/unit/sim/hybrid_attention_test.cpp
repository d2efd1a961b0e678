// Sparse, linear and hybrid attention in the cost model (docs/models.md, "Sparse, linear and
// hybrid attention"): Gated DeltaNet and Mamba-2 layers keep a state per sequence instead of a
// KV cache and scan prompts in linear time; DSA's indexer scores every earlier token and
// attention spans the top-k; Nemotron-H's layers hold a mixer or an MLP, not both.
#include <gtest/gtest.h>

#include "run_json.hpp"
#include "step/step.hpp"

using namespace moesim::sim;

namespace {

nlohmann::json scenario_json(const std::string& preset, const nlohmann::json& workload, int tp = 4) {
  return {{"model", {{"preset", preset}, {"weights_dtype", "fp8"}, {"kv_dtype", "bf16"}}},
          {"cluster", {{"nodes", 1}, {"node", {{"device", "h200-sxm"}, {"devices_per_node", tp}, {"scale_up", "nvlink4"}}}}},
          {"parallelism", {{"attention", {{"tp", tp}, {"dp", 1}}}, {"experts", {{"ep", tp}, {"tp", 1}}}}},
          {"routing", {{"distribution", "uniform"}, {"seed", 1}}},
          {"workload", workload},
          {"fidelity", "analytic"}};
}

nlohmann::json decode(int batch, int context) {
  return {{"kind", "decode"}, {"batch_per_device", batch}, {"context_tokens", context}};
}

nlohmann::json prefill(int tokens) { return {{"kind", "prefill"}, {"batch_per_device", 1}, {"input_tokens", tokens}}; }

// The step of a scenario whose model `edit` may change.
DeploymentStep step_of(const nlohmann::json& doc, const std::function<void(ModelConfig&)>& edit = {}) {
  Scenario s = moesim::test_support::scenario_of(doc);
  if (edit) edit(s.model.config);
  return build_step(resolve_deployment(s), step_shape_of(s.workload), TrafficDetail::port_sums);
}

// FLOPs of one layer's tasks of a phase.
double flops(const DeploymentStep& st, int layer, Phase phase) {
  double f = 0;
  for (const Task& t : st.graph.tasks) {
    if (t.layer == layer && t.phase == phase) f += t.flops;
  }
  return f;
}

double makespan(const DeploymentStep& st) { return evaluate_analytic(st.graph).makespan; }

void all_attention(ModelConfig& m) {
  for (auto& l : m.layers) l.mixer = Mixer::attention;
}

}  // namespace

// Qwen3-Next decode at 128K: only its 12 attention layers keep a KV cache (a quarter of the same
// model with 48 attention layers); each of its 36 Gated DeltaNet layers keeps a state per
// sequence instead; the step is shorter.
TEST(HybridAttention, GatedDeltaNetKeepsAStatePerSequenceNotAKvCache) {
  const auto doc = scenario_json("qwen3-next-80b-a3b", decode(8, 131072));
  const DeploymentStep hybrid = step_of(doc);
  const DeploymentStep full = step_of(doc, all_attention);
  const double state_per_sequence = 36 * (32.0 * 128 * 128 * 2 + 8192.0 * 3 * 2) / 4;  // TP 4 splits heads
  EXPECT_NEAR(hybrid.memory.recurrent_state, 8 * state_per_sequence, 1.0);
  EXPECT_NEAR(hybrid.memory.kv_cache - hybrid.memory.recurrent_state, full.memory.kv_cache / 4, 1.0);
  EXPECT_LT(makespan(hybrid), makespan(full));
  // The recurrence's decode work does not depend on the context.
  const DeploymentStep short_ctx = step_of(scenario_json("qwen3-next-80b-a3b", decode(8, 4096)));
  EXPECT_DOUBLE_EQ(flops(hybrid, 0, Phase::attention), flops(short_ctx, 0, Phase::attention));
  EXPECT_GT(flops(hybrid, 3, Phase::attention), flops(short_ctx, 3, Phase::attention));
}

// A prompt is scanned in chunks: the recurrence's work grows linearly with the prompt, softmax
// attention's faster.
TEST(HybridAttention, PromptsAreScannedInLinearTime) {
  const DeploymentStep p8 = step_of(scenario_json("qwen3-next-80b-a3b", prefill(8192)));
  const DeploymentStep p32 = step_of(scenario_json("qwen3-next-80b-a3b", prefill(32768)));
  EXPECT_NEAR(flops(p32, 0, Phase::attention) / flops(p8, 0, Phase::attention), 4.0, 1e-9);  // Gated DeltaNet
  EXPECT_GT(flops(p32, 3, Phase::attention) / flops(p8, 3, Phase::attention), 10.0);         // attention
  const DeploymentStep m8 = step_of(scenario_json("nemotron-3-nano-30b-a3b", prefill(8192)));
  const DeploymentStep m32 = step_of(scenario_json("nemotron-3-nano-30b-a3b", prefill(32768)));
  EXPECT_NEAR(flops(m32, 0, Phase::attention) / flops(m8, 0, Phase::attention), 4.0, 1e-9);  // Mamba-2
}

// DSA at 128K: the attention kernel spans the top 2,048 tokens, so V3.2's is far cheaper than
// V3's; the indexer scores all 128K (in fp8) and its keys add 132 bytes per token and layer.
TEST(HybridAttention, DsaAttendsToTheTopKAndIndexesEverything) {
  const DeploymentStep v3 = step_of(scenario_json("deepseek-v3", decode(16, 131072), 8));
  const DeploymentStep v32 = step_of(scenario_json("deepseek-v3.2", decode(16, 131072), 8));
  EXPECT_LT(flops(v32, 10, Phase::attention), 0.25 * flops(v3, 10, Phase::attention));
  EXPECT_LT(makespan(v32), makespan(v3));
  EXPECT_NEAR(v32.memory.kv_cache - v3.memory.kv_cache, 16.0 * 131073 * 61 * 132, 1.0);
  // At a context within the top-k, DSA attends to everything and adds its indexer.
  const DeploymentStep v3s = step_of(scenario_json("deepseek-v3", decode(16, 1024), 8));
  const DeploymentStep v32s = step_of(scenario_json("deepseek-v3.2", decode(16, 1024), 8));
  EXPECT_GT(flops(v32s, 10, Phase::attention), flops(v3s, 10, Phase::attention));
}

// Nemotron-H: 23 Mamba-2, 23 MoE and 6 attention layers, each one block; its experts are
// squared-ReLU MLPs of two matrices.
TEST(HybridAttention, NemotronLayersHoldAMixerOrAnMlp) {
  const DeploymentStep st = step_of(scenario_json("nemotron-3-nano-30b-a3b", decode(16, 8192)));
  int mixers = 0, moe = 0, dense = 0;
  for (int l = 0; l < 52; ++l) {
    mixers += flops(st, l, Phase::attention) > 0;
    moe += flops(st, l, Phase::experts) > 0;
    dense += flops(st, l, Phase::dense_mlp) > 0;
  }
  EXPECT_EQ(mixers, 29);
  EXPECT_EQ(moe, 23);
  EXPECT_EQ(dense, 0);
  Scenario s = moesim::test_support::scenario_of(scenario_json("nemotron-3-nano-30b-a3b", decode(16, 8192)));
  EXPECT_DOUBLE_EQ(layer_parameters(s.model.config, 1).routed_expert, 2.0 * 2688 * 1856);
  const auto r = moesim::test_support::run_json(scenario_json("nemotron-3-nano-30b-a3b", decode(16, 8192)));
  EXPECT_TRUE(r.feasible);
  EXPECT_GT(r.output_tokens_per_s, 0);
}

// Context parallelism for a long prompt: a 32K-token prompt split over 8 ranks of one node.
// Each rank computes 1/8 of the tokens (its queries attend over the whole prompt: 1/8 of the
// attention work), keeps 1/8 of the KV cache, and passes its KV blocks around the ring, 7 times
// per attention layer, while it computes.
TEST(ContextParallelism, ALongPromptIsSplitOverTheRing) {
  auto cp_doc = [](int cp) {
    auto doc = scenario_json("qwen3-30b-a3b", prefill(32768), 8);
    doc["model"]["weights_dtype"] = "bf16";
    doc["parallelism"]["attention"] = {{"tp", 1}, {"dp", 8 / cp}, {"cp", cp}};
    return doc;
  };
  const DeploymentStep one = step_of(cp_doc(1));
  const DeploymentStep ring = step_of(cp_doc(8));
  EXPECT_DOUBLE_EQ(one.sequences, 8);
  EXPECT_DOUBLE_EQ(ring.sequences, 1);
  EXPECT_DOUBLE_EQ(ring.input_tokens, 32768);
  EXPECT_NEAR(ring.memory.kv_cache, one.memory.kv_cache / 8, 1.0);
  EXPECT_NEAR(flops(ring, 0, Phase::attention), flops(one, 0, Phase::attention) / 8, 1e-6 * flops(one, 0, Phase::attention));
  // The ring: one collective per attention layer; each device sends 7 blocks of its KV.
  double sent = 0;
  int rings = 0;
  for (const Task& t : ring.graph.tasks) {
    if (t.layer == 0 && t.phase == Phase::attention && t.traffic) {
      ++rings;
      sent += t.traffic->total();
    }
  }
  EXPECT_EQ(rings, 1);
  const double kv_block = 4096.0 * 2 * 4 * 128 * 2;  // its 4,096 tokens x K and V x 4 KV heads x 128 x bf16
  EXPECT_NEAR(sent, 8 * 7 * kv_block, 1.0);
  // One prompt's time to first token falls by close to the ring's size.
  EXPECT_LT(makespan(ring), makespan(one) / 5);
}

TEST(ContextParallelism, BadDegreesAreRefusedAtTheirPointer) {
  auto doc = scenario_json("qwen3-30b-a3b", prefill(10002), 8);
  doc["parallelism"]["attention"] = {{"tp", 1}, {"dp", 1}, {"cp", 8}};
  moesim::Diagnostics uneven("cp");
  EXPECT_FALSE(scenario_from_json(doc, "", uneven));
  bool found = false;
  for (const auto& p : uneven.problems()) found |= p.pointer == "/parallelism/attention/cp" && p.message.find("does not divide the prompt's 10002") != std::string::npos;
  EXPECT_TRUE(found) << uneven.to_string();
  doc["workload"] = decode(4, 1000);
  moesim::Diagnostics not_prefill("cp");
  EXPECT_FALSE(scenario_from_json(doc, "", not_prefill));
  EXPECT_NE(not_prefill.to_string().find("/parallelism/attention/cp: context parallelism splits prompts"), std::string::npos)
      << not_prefill.to_string();
}
