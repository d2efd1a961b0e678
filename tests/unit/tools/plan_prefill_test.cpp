// moesim plan's prefill side: the prefix cache searched on and off, the time a colocated
// deployment spends prefilling, prefill pools of another device type, and their bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "plan.hpp"
#include "tool_test_util.hpp"

using moesim::Diagnostics;
using moesim::test::temp_dir;
using moesim::tools::Candidate;
using nlohmann::json;

namespace {

// Mixtral-8x7B on one or two 8xH100 nodes, with an 8xH200 option for prefill pools.
json plan_doc() {
  const json so = {{"link", "ib-ndr400"}, {"nics_per_node", 8}};
  return {{"model", {{"preset", "mixtral-8x7b"}}},
          {"workload", {{"output_tokens_per_s", 200000}, {"context_tokens", 4096}, {"input_tokens", 4096},
                        {"output_tokens", 256}}},
          {"slo", {{"tpot_p99", "60ms"}, {"ttft_p99", "2s"}}},
          {"hardware", {{{"device", "h100-sxm"}, {"devices_per_node", 8}, {"scale_up", "nvlink4"}, {"scale_out", so}},
                        {{"device", "h200-sxm"}, {"devices_per_node", 8}, {"scale_up", "nvlink4"}, {"scale_out", so}}}},
          {"search", {{"nodes", {1}}, {"attention_tp", {1, 2}}, {"batch_per_device", {64}}, {"overlap", {"none"}}}},
          {"confirm", {{"top", 1}}}};
}

std::optional<moesim::tools::PlanSpec> spec_of(const json& doc, Diagnostics& diag) {
  return moesim::tools::plan_spec_from_json(doc, (temp_dir("plan_prefill") / "plan.json").string(), diag);
}

// Every candidate of a spec, evaluated with the spec's prefill pools.
std::vector<Candidate> evaluated(const moesim::tools::PlanSpec& spec) {
  const auto pools = moesim::tools::evaluate_prefill_pools(spec);
  auto all = moesim::tools::enumerate_candidates(spec);
  for (auto& c : all) moesim::tools::evaluate_candidate(spec, c, pools);
  return all;
}

// The candidate of `all` with this hardware, attention TP, prefix cache and prefill place.
const Candidate& find(const std::vector<Candidate>& all, int hardware, int tp, bool cache, int prefill) {
  for (const auto& c : all) {
    if (c.hardware == hardware && c.attention_tp == tp && c.prefix_cache == cache && c.prefill == prefill) return c;
  }
  ADD_FAILURE() << "no such candidate";
  return all.front();
}

}  // namespace

// The prefix cache on: the TTFT prefill computes only the uncached part of each prompt (its
// scenario says how many tokens are cached), so TTFT falls; decode is the same deployment, so
// TPOT does not change.
TEST(PlanPrefill, ThePrefixCacheIsSearchedOnAndOff) {
  json doc = plan_doc();
  doc["workload"]["prefix_hit"] = 0.75;
  doc["search"]["prefix_cache"] = {"off", "on"};
  Diagnostics diag;
  auto spec = spec_of(doc, diag);
  ASSERT_TRUE(spec) << diag.to_string();
  const auto all = evaluated(*spec);
  ASSERT_EQ(all.size(), 2u * 2u * 2u);  // 2 devices x 2 TP x cache off/on
  for (int h : {0, 1}) {
    for (int tp : {1, 2}) {
      const Candidate& off = find(all, h, tp, false, -1);
      const Candidate& on = find(all, h, tp, true, -1);
      ASSERT_EQ(on.status, "ok") << on.describe(*spec) << ": " << on.reason;
      EXPECT_DOUBLE_EQ(on.tpot_s, off.tpot_s);
      EXPECT_LT(on.ttft_s, 0.6 * off.ttft_s) << on.describe(*spec);
      EXPECT_NE(on.describe(*spec).find("prefix cache"), std::string::npos);
      EXPECT_EQ(moesim::tools::candidate_scenario(*spec, on, true, "analytic")["workload"]["cached_tokens"], 3072);
      EXPECT_FALSE(moesim::tools::candidate_scenario(*spec, off, true, "analytic")["workload"].contains("cached_tokens"));
    }
  }
  doc["workload"].erase("prefix_hit");
  Diagnostics missing;
  EXPECT_FALSE(spec_of(doc, missing));
  EXPECT_NE(missing.to_string().find("/search/prefix_cache: the prefix cache needs the share of each prompt"), std::string::npos)
      << missing.to_string();
}

// With output_tokens, a colocated deployment decodes only when it is not prefilling: each output
// token carries 1/output_tokens of a prompt's prefill, so the rate falls to R / (1 + x), where x
// is the decode rate over the prompts' prefill rate times output_tokens; cost follows the rate.
TEST(PlanPrefill, AColocatedDeploymentSpendsPartOfItsTimePrefilling) {
  json doc = plan_doc();
  Diagnostics diag;
  auto spec = spec_of(doc, diag);
  ASSERT_TRUE(spec) << diag.to_string();
  json no_out = doc;
  no_out["workload"].erase("output_tokens");
  auto spec_no_out = spec_of(no_out, diag);
  ASSERT_TRUE(spec_no_out) << diag.to_string();
  const auto with = evaluated(*spec);
  const auto without = evaluated(*spec_no_out);
  ASSERT_EQ(with.size(), without.size());
  for (std::size_t i = 0; i < with.size(); ++i) {
    const Candidate& a = with[i];
    const Candidate& b = without[i];
    ASSERT_EQ(a.status, "ok") << a.describe(*spec) << ": " << a.reason;
    EXPECT_GT(a.prefill_share, 0.0);
    EXPECT_LT(a.prefill_share, 1.0);
    EXPECT_NEAR(a.instance_tokens_per_s, b.instance_tokens_per_s * (1 - a.prefill_share), 1e-9 * b.instance_tokens_per_s);
    EXPECT_GE(a.usd_per_million_tokens, b.usd_per_million_tokens);
    EXPECT_DOUBLE_EQ(a.ttft_s, b.ttft_s);
  }
}

// A prefill pool of H200s for H100 decode: the pool is sized to the request rate, its cost is
// added, and TTFT is its prefill plus the KV cache crossing the scale-out network. Decode no
// longer spends time prefilling.
TEST(PlanPrefill, PrefillPoolsOfAnotherDeviceAreSizedToTheRequestRate) {
  json doc = plan_doc();
  doc["search"]["prefill"] = {"colocated", "h200-sxm"};
  doc["search"]["prefill_nodes"] = {1, 2};
  Diagnostics diag;
  auto spec = spec_of(doc, diag);
  ASSERT_TRUE(spec) << diag.to_string();
  const auto pools = moesim::tools::evaluate_prefill_pools(*spec);
  EXPECT_EQ(pools.size(), 2u * 2u);  // 1 or 2 nodes x TP 1 or 2
  const auto all = evaluated(*spec);
  ASSERT_EQ(all.size(), 2u * 2u * 2u);
  const double requests_per_s = 200000.0 / 256;
  for (int tp : {1, 2}) {
    const Candidate& colo = find(all, 0, tp, false, -1);
    const Candidate& pool = find(all, 0, tp, false, 1);
    ASSERT_EQ(pool.status, "ok") << pool.describe(*spec) << ": " << pool.reason;
    EXPECT_EQ(pool.prefill_share, 0.0);
    EXPECT_GT(pool.instance_tokens_per_s, colo.instance_tokens_per_s);  // decode does not stop for prompts
    ASSERT_GT(pool.pool.devices, 0);
    EXPECT_GT(pool.pool.kv_transfer_s, 0.0);
    EXPECT_NEAR(pool.ttft_s, pool.pool.step_s + pool.pool.kv_transfer_s, 1e-12);
    // Enough pool replicas for the prompts, and no more.
    const moesim::tools::PrefillOption* chosen = nullptr;
    for (const auto& o : pools) {
      if (o.nodes == pool.pool.nodes && o.attention_tp == pool.pool.attention_tp) chosen = &o;
    }
    ASSERT_NE(chosen, nullptr);
    EXPECT_GE(pool.pool.replicas * chosen->prompts_per_s, requests_per_s);
    EXPECT_LT((pool.pool.replicas - 1) * chosen->prompts_per_s, requests_per_s);
    EXPECT_NEAR(pool.pool.usd_per_hour, pool.pool.replicas * pool.pool.devices * spec->hardware[1].price_per_device_hour, 1e-9);
    EXPECT_NEAR(pool.usd_per_hour, pool.replicas * 8 * spec->hardware[0].price_per_device_hour + pool.pool.usd_per_hour, 1e-9);
    EXPECT_NE(pool.describe(*spec).find("prefill pool of h200-sxm"), std::string::npos) << pool.describe(*spec);
  }
}

TEST(PlanPrefill, BadPrefillSearchesAreRefusedAtTheirPointer) {
  json doc = plan_doc();
  doc["search"]["prefill"] = {"colocated", "b200"};
  Diagnostics unknown;
  EXPECT_FALSE(spec_of(doc, unknown));
  EXPECT_NE(unknown.to_string().find("/search/prefill/1: unknown value \"b200\" (valid: colocated, h100-sxm, h200-sxm)"),
            std::string::npos) << unknown.to_string();

  doc["search"]["prefill"] = {"h200-sxm"};
  doc["workload"].erase("output_tokens");
  Diagnostics no_rate;
  EXPECT_FALSE(spec_of(doc, no_rate));
  EXPECT_NE(no_rate.to_string().find("/workload/output_tokens: a prefill pool is sized to the request rate"), std::string::npos)
      << no_rate.to_string();

  doc = plan_doc();
  doc["hardware"][1].erase("scale_out");
  doc["search"]["prefill"] = {"h200-sxm"};
  Diagnostics no_network;
  EXPECT_FALSE(spec_of(doc, no_network));
  EXPECT_NE(no_network.to_string().find("/search/prefill: a prefill pool sends each prompt's KV cache over the scale-out network"),
            std::string::npos) << no_network.to_string();

  doc = plan_doc();
  doc["workload"].erase("input_tokens");
  doc["slo"].erase("ttft_p99");
  Diagnostics no_prompt;
  EXPECT_FALSE(spec_of(doc, no_prompt));
  EXPECT_NE(no_prompt.to_string().find("/workload/input_tokens: the prefill side of the plan"), std::string::npos)
      << no_prompt.to_string();
}

// The shipped plan examples are valid specs, and each evaluates at least one candidate that
// meets its SLOs (the prefill example's pools included).
TEST(PlanPrefill, TheShippedExamplesAreValidSpecs) {
  for (const auto& e : std::filesystem::directory_iterator(std::string(MOESIM_SOURCE_DIR) + "/examples")) {
    if (e.path().filename().string().rfind("plan-", 0) != 0) continue;
    Diagnostics diag(e.path().string());
    auto spec = moesim::tools::load_plan_spec(e.path().string(), diag);
    ASSERT_TRUE(spec) << diag.to_string();
    if (e.path().filename() != "plan-qwen3-235b-prefill.json") continue;  // the DeepSeek-V3 one takes 20 s
    int ok = 0, pooled = 0;
    for (const auto& c : evaluated(*spec)) {
      ok += c.status == "ok";
      pooled += c.status == "ok" && c.pool.devices > 0;
    }
    EXPECT_GT(pooled, 0);
    EXPECT_GT(ok, pooled);
  }
}
