// Speculative decoding (workload.speculative): the decode step verifies every sequence's drafts,
// MTP adds its module's passes, and each step yields the accepted drafts plus one token.
#include <gtest/gtest.h>

#include <string>

#include "input/input.hpp"
#include "run_json.hpp"
#include "step/step.hpp"
#include "workloads/workloads.hpp"
#include "has_problem.hpp"

using namespace moesim::sim;
using moesim::test_support::has_problem;

namespace {

// Decode on 2 x 8 GPUs, EP16, 16 sequences per device, with `speculative` (null: none).
nlohmann::json two_nodes(const std::string& preset, const std::string& device, const std::string& scale_up,
                         int context, const nlohmann::json& speculative) {
  auto doc = nlohmann::json::parse(R"({
    "name": "speculative",
    "cluster": {"nodes": 2, "node": {"devices_per_node": 8},
                "scale_out": {"link": "ib-ndr400", "nics_per_node": 8, "topology": "fat-tree"}},
    "parallelism": {"attention": {"tp": 1, "dp": 16}, "experts": {"ep": 16, "tp": 1}},
    "routing": {"distribution": "uniform", "seed": 1},
    "fidelity": "analytic"})");
  doc["model"] = {{"preset", preset}, {"weights_dtype", "fp8"}};
  doc["cluster"]["node"]["device"] = device;
  doc["cluster"]["node"]["scale_up"] = scale_up;
  doc["workload"] = {{"kind", "decode"}, {"batch_per_device", 16}, {"context_tokens", context}};
  if (!speculative.is_null()) doc["workload"]["speculative"] = speculative;
  return doc;
}

// DeepSeek-V3 (one MTP module) on H800 with DeepEP's low-latency all-to-all.
nlohmann::json dsv3(const nlohmann::json& speculative) {
  auto doc = two_nodes("deepseek-v3", "h800-sxm", "nvlink-h800", 4096, speculative);
  doc["communication"] = {{"all_to_all", "deepep-low-latency"}};
  return doc;
}

Report run(const nlohmann::json& doc) { return moesim::test_support::run_json(doc); }

double tpot(const Report& r) { return r.latency_s.at("tpot").p50; }

}  // namespace

TEST(Speculative, ExpectedAcceptedTokensFollowThePerPositionChain) {
  SpeculativeSpec sp;
  sp.draft_tokens = 3;
  sp.acceptance = {0.9, 0.8, 0.5};
  EXPECT_NEAR(sp.accepted_per_step(), 0.9 + 0.9 * 0.8 + 0.9 * 0.8 * 0.5, 1e-12);
  EXPECT_EQ(sp.verify_tokens(), 4);
  sp.acceptance = {0.85};  // one value for every position
  EXPECT_NEAR(sp.accepted_per_step(), 0.85 + 0.85 * 0.85 + 0.85 * 0.85 * 0.85, 1e-12);
}

// Acceptance 0: the step verifies and drafts for nothing, so it is never faster than without.
// Acceptance 1: every step yields k + 1 tokens, and TPOT is the longer step over k + 1.
TEST(Speculative, AcceptanceZeroIsNeverFasterAndOneYieldsEveryDraft) {
  const Report plain = run(dsv3(nullptr));
  for (const char* method : {"mtp", "ngram"}) {
    for (int k : {1, 2}) {
      const Report none = run(dsv3({{"method", method}, {"draft_tokens", k}, {"acceptance", 0.0}}));
      EXPECT_GE(tpot(none), tpot(plain)) << method << " k=" << k;
      EXPECT_GE(none.step_time_s, plain.step_time_s);
      const Report all = run(dsv3({{"method", method}, {"draft_tokens", k}, {"acceptance", 1.0}}));
      ASSERT_TRUE(all.speculative);
      EXPECT_DOUBLE_EQ(all.speculative->tokens_per_step, k + 1.0);
      EXPECT_NEAR(tpot(all), all.step_time_s / (k + 1), 1e-15);
      EXPECT_NEAR(all.output_tokens_per_s, 16.0 * 16 * (k + 1) / all.step_time_s, 1e-9 * all.output_tokens_per_s);
      // The verify cost: the same step without speculation, and how much longer this one is.
      EXPECT_NEAR(all.speculative->step_time_without_s, plain.step_time_s, 1e-12);
      EXPECT_NEAR(all.speculative->verify_overhead, all.step_time_s / plain.step_time_s - 1, 1e-9);
      EXPECT_GT(all.speculative->verify_overhead, 0);
    }
  }
  // MTP drafts with its module, prompt lookup (ngram) for free: MTP's step is the longer.
  const Report mtp = run(dsv3({{"method", "mtp"}, {"draft_tokens", 1}, {"acceptance", 0.85}}));
  const Report ngram = run(dsv3({{"method", "ngram"}, {"draft_tokens", 1}, {"acceptance", 0.85}}));
  EXPECT_GT(mtp.step_time_s, ngram.step_time_s);
  EXPECT_GT(mtp.memory_weights, ngram.memory_weights);  // the MTP module's weights
  EXPECT_NEAR(mtp.speculative->accepted_tokens_per_step, 0.85, 1e-12);
}

TEST(Speculative, BadSettingsAreRefusedAtTheirPointer) {
  struct Case {
    nlohmann::json speculative;
    std::string pointer, text;
  };
  const std::vector<Case> cases = {
      {{{"method", "mtp"}, {"draft_tokens", 1}, {"acceptance", 1.2}}, "/workload/speculative/acceptance", "[0, 1]"},
      {{{"method", "mtp"}, {"draft_tokens", 2}, {"acceptance", {0.9, -0.1}}}, "/workload/speculative/acceptance/1", "[0, 1]"},
      {{{"method", "mtp"}, {"draft_tokens", 3}, {"acceptance", {0.9, 0.8}}}, "/workload/speculative/acceptance", "2 acceptance values for 3"},
      {{{"method", "mtp"}, {"draft_tokens", 0}, {"acceptance", 0.8}}, "/workload/speculative/draft_tokens", ""},
      {{{"method", "draft_model"}, {"draft_tokens", 1}, {"acceptance", 0.8}}, "/workload/speculative/draft_model", "needs a draft model"},
      {{{"method", "eagle"}, {"draft_tokens", 1}, {"acceptance", 0.8}}, "/workload/speculative/method", "mtp"},
  };
  for (const Case& c : cases) {
    moesim::Diagnostics diag("speculative");
    EXPECT_FALSE(scenario_from_json(dsv3(c.speculative), "", diag)) << c.speculative.dump();
    EXPECT_TRUE(has_problem(diag, c.pointer, c.text)) << c.speculative.dump() << "\n" << diag.to_string();
  }
  // MTP on a model without MTP modules; speculation on a prefill step.
  auto doc = dsv3({{"method", "mtp"}, {"draft_tokens", 1}, {"acceptance", 0.8}});
  doc["model"]["preset"] = "kimi-k2";
  moesim::Diagnostics no_mtp("speculative");
  EXPECT_FALSE(scenario_from_json(doc, "", no_mtp));
  EXPECT_TRUE(has_problem(no_mtp, "/workload/speculative/method", "no multi-token-prediction layers")) << no_mtp.to_string();
  doc = dsv3({{"method", "ngram"}, {"draft_tokens", 1}, {"acceptance", 0.8}});
  doc["workload"] = {{"kind", "prefill"}, {"batch_per_device", 1}, {"input_tokens", 1024},
                     {"speculative", doc["workload"]["speculative"]}};
  moesim::Diagnostics prefill("speculative");
  EXPECT_FALSE(scenario_from_json(doc, "", prefill));
  EXPECT_TRUE(has_problem(prefill, "/workload/speculative", "prefill workload has none to draft")) << prefill.to_string();
}

// Serving: each decode step emits the accepted drafts too, so requests finish in fewer steps and
// with a shorter TPOT at a light load; every request still gets exactly its output tokens.
TEST(Speculative, ServingEmitsTheAcceptedDraftsAndShortensTpot) {
  auto doc = dsv3(nullptr);
  doc["workload"] = nlohmann::json::parse(R"({"kind": "serving", "arrival": {"poisson_rps": 4}, "requests": 100,
      "input_tokens": {"uniform": [500, 1500]}, "output_tokens": {"uniform": [100, 300]}})");
  const Report plain = run(doc);
  doc["workload"]["speculative"] = {{"method", "mtp"}, {"draft_tokens", 1}, {"acceptance", 0.85}};
  const Report mtp = run(doc);
  ASSERT_TRUE(plain.serving && mtp.serving);
  EXPECT_LT(mtp.serving->iterations, plain.serving->iterations);
  EXPECT_LT(mtp.latency_s.at("tpot").p50, plain.latency_s.at("tpot").p50);
  // The same tokens come out (the same requests, all finished).
  EXPECT_NEAR(mtp.output_tokens_per_s * mtp.serving->makespan_s, plain.output_tokens_per_s * plain.serving->makespan_s,
              1e-6 * plain.output_tokens_per_s * plain.serving->makespan_s);
  ASSERT_TRUE(mtp.speculative);
  EXPECT_NEAR(mtp.speculative->tokens_per_step, 1.85, 1e-12);
}

// A draft model (dense, beside the target on every attention rank) drafts k tokens with k decode
// passes of its own before the target verifies them: the same verification as prompt lookup plus
// the draft's passes and memory. Acceptance 0 is never faster than no speculation.
TEST(Speculative, ADraftModelRunsItsPassesBeforeTheVerification) {
  auto qwen = [](const nlohmann::json& speculative) {
    auto doc = two_nodes("qwen3-235b-a22b", "h100-sxm", "nvlink4", 2048, speculative);
    doc.erase("routing");  // (the default routing)
    return doc;
  };
  const Report plain = run(qwen(nullptr));
  const Report ngram = run(qwen({{"method", "ngram"}, {"draft_tokens", 3}, {"acceptance", 0.7}}));
  const Report draft = run(qwen({{"method", "draft_model"}, {"draft_tokens", 3}, {"acceptance", 0.7}, {"draft_model", "qwen3-0.6b"}}));
  ASSERT_TRUE(draft.speculative);
  EXPECT_EQ(draft.speculative->method, "draft_model");
  EXPECT_GT(draft.step_time_s, ngram.step_time_s);            // the draft's passes
  EXPECT_GT(draft.memory_weights, ngram.memory_weights);       // its weights
  EXPECT_GT(draft.memory_kv_cache, ngram.memory_kv_cache);     // and its KV cache
  EXPECT_NEAR(draft.speculative->tokens_per_step, ngram.speculative->tokens_per_step, 1e-12);
  const Report none = run(qwen({{"method", "draft_model"}, {"draft_tokens", 3}, {"acceptance", 0.0}, {"draft_model", "qwen3-0.6b"}}));
  EXPECT_GE(tpot(none), tpot(plain));

  // A mixture-of-experts draft is refused; a draft with another vocabulary is a warning.
  moesim::Diagnostics moe("draft");
  EXPECT_FALSE(scenario_from_json(qwen({{"method", "draft_model"}, {"draft_tokens", 1}, {"acceptance", 0.7}, {"draft_model", "olmoe-1b-7b"}}), "", moe));
  EXPECT_TRUE(has_problem(moe, "/workload/speculative/draft_model", "mixture of experts")) << moe.to_string();
  moesim::Diagnostics vocab("draft");
  EXPECT_TRUE(scenario_from_json(qwen({{"method", "draft_model"}, {"draft_tokens", 1}, {"acceptance", 0.5}, {"draft_model", "llama-3.2-1b"}}), "", vocab));
  EXPECT_TRUE(has_problem(vocab, "/workload/speculative/draft_model", "vocabulary")) << vocab.to_string();
  moesim::Diagnostics unknown("draft");
  EXPECT_FALSE(scenario_from_json(qwen({{"method", "draft_model"}, {"draft_tokens", 1}, {"acceptance", 0.5}, {"draft_model", "qwen9"}}), "", unknown));
  EXPECT_TRUE(has_problem(unknown, "/workload/speculative/draft_model", "")) << unknown.to_string();
}
