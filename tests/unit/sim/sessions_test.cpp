// Multi-turn sessions and the prefix cache (workload.sessions, workload.prefix_cache): each turn's
// prompt is the session's context so far plus its new input; the next turn arrives a think time
// after the previous one ends; cached prefixes skip their prefill.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "input/input.hpp"
#include "run_json.hpp"
#include "step/step.hpp"
#include "workloads/requests.hpp"
#include "workloads/workloads.hpp"
#include "catalog.hpp"
#include "has_problem.hpp"

using namespace moesim::sim;
using moesim::test_support::has_problem;

namespace {

// Qwen3-30B-A3B (bf16) on one H100: 12 sessions of 3 to 6 turns.
nlohmann::json sessions(bool cache, int system_prompt = 0) {
  auto doc = nlohmann::json::parse(R"({
    "name": "sessions",
    "model": {"preset": "qwen3-30b-a3b", "weights_dtype": "bf16"},
    "cluster": {"nodes": 1, "node": {"device": "h100-sxm", "devices_per_node": 1, "scale_up": "nvlink4"}},
    "parallelism": {"attention": {"tp": 1, "dp": 1}, "experts": {"ep": 1, "tp": 1}},
    "routing": {"distribution": "uniform", "seed": 5},
    "workload": {"kind": "serving", "arrival": {"poisson_rps": 2},
                 "sessions": {"count": 12, "turns": {"uniform": [3, 6]}, "think_time": "2s"},
                 "input_tokens": {"uniform": [100, 400]}, "output_tokens": {"uniform": [50, 150]}},
    "fidelity": "analytic"})");
  doc["workload"]["sessions"]["system_prompt_tokens"] = system_prompt;
  doc["workload"]["prefix_cache"] = {{"enabled", cache}};
  return doc;
}

Scenario scenario(const nlohmann::json& doc) { return moesim::test_support::scenario_of(doc); }

Report run(const nlohmann::json& doc) { return moesim::test_support::run_json(doc); }

double scenario_of_link_bandwidth(const std::string& name) {
  return moesim::hw::Catalog::builtin().find_link(name)->effective_bandwidth();
}

}  // namespace

TEST(Sessions, EachTurnsPromptIsTheContextSoFarPlusItsInput) {
  const Scenario s = scenario(sessions(false, 500));
  const std::vector<Request> reqs = make_requests(s.workload.serving, s.routing.seed);
  int first = 0;
  for (const Request& r : reqs) {
    if (r.turn == 0) {
      ++first;
      EXPECT_TRUE(std::isfinite(r.arrival));
      EXPECT_EQ(r.prefix, 500);  // the system prompt
    } else {
      EXPECT_TRUE(std::isinf(r.arrival));  // known when the turn before ends
    }
    EXPECT_GE(r.input - r.prefix, 100);
    EXPECT_LE(r.input - r.prefix, 400);
    if (r.next < 0) continue;
    const Request& n = reqs[static_cast<std::size_t>(r.next)];
    EXPECT_EQ(n.session, r.session);
    EXPECT_EQ(n.turn, r.turn + 1);
    EXPECT_EQ(n.prefix, r.input + r.output);
  }
  EXPECT_EQ(first, 12);
}

// With room for every session's cache, each later turn finds its whole context cached (whole
// 16-token blocks of it): it prefills only the rest, and its TTFT drops.
TEST(Sessions, APrefixHitSkipsThePrefillOfTheCachedBlocks) {
  const Scenario s = scenario(sessions(true));
  const std::vector<Request> reqs = make_requests(s.workload.serving, s.routing.seed);
  double expected = 0;
  for (const Request& r : reqs) {
    if (r.turn > 0) expected += std::floor(r.prefix / 16.0) * 16.0;
  }
  const Report on = run(sessions(true));
  ASSERT_TRUE(on.serving);
  ASSERT_EQ(on.serving->preemptions, 0);
  ASSERT_EQ(on.serving->evicted_tokens, 0.0);
  EXPECT_EQ(on.serving->prefill_tokens_saved, expected);
  EXPECT_GT(on.serving->prefix_hit_rate, 0.3);
  EXPECT_EQ(on.serving->sessions, 12);
  const Report off = run(sessions(false));
  ASSERT_TRUE(off.serving);
  EXPECT_FALSE(off.serving->prefix_cache);
  EXPECT_LT(on.serving->ttft_later_turns_s.p50, off.serving->ttft_later_turns_s.p50);
  // The same requests come out.
  EXPECT_NEAR(on.output_tokens_per_s * on.serving->makespan_s, off.output_tokens_per_s * off.serving->makespan_s, 1e-6);
}

// A cached prefix skips its prefill compute, not its KV read: prefilling 256 new tokens after
// 8,192 cached ones costs the same projections and experts as 256 tokens alone, and a longer
// attention kernel (it reads the cached KV), and far less than prefilling all 8,448 tokens.
TEST(Sessions, ACachedPrefixSkipsComputeButNotTheKvRead) {
  const Scenario s = scenario(sessions(true));
  const Deployment d = resolve_deployment(s);
  auto step = [&](double chunk, double context) {
    StepShape w;
    w.kind = WorkloadKind::decode;
    w.batch_per_device = 0;
    w.chunk_tokens = chunk;
    w.chunk_context = context;
    const DeploymentStep st = build_step(d, w, TrafficDetail::port_sums);
    double proj = 0, attention_bytes = 0;
    for (const Task& t : st.graph.tasks) {
      if (t.phase == Phase::attention_proj || t.phase == Phase::experts) proj += t.flops;
      if (t.phase == Phase::attention) attention_bytes += t.bytes;
    }
    return std::tuple{proj, attention_bytes, evaluate_analytic(st.graph).makespan};
  };
  const auto [proj_hit, bytes_hit, time_hit] = step(256, 8192);
  const auto [proj_alone, bytes_alone, time_alone] = step(256, 0);
  const auto [proj_all, bytes_all, time_all] = step(8448, 0);
  EXPECT_NEAR(proj_hit, proj_alone, 1e-9 * proj_alone);
  EXPECT_GT(bytes_hit, bytes_alone);
  EXPECT_GT(time_hit, time_alone);
  EXPECT_LT(time_hit, 0.5 * time_all);
  EXPECT_GT(proj_all, 30 * proj_hit);
}

// The fixed prefill step with workload.cached_tokens: the same rule, and its KV cache holds the
// whole prompt. A prompt that is all cache is refused (its last token is always computed).
TEST(Sessions, APrefillsCachedTokensAreReadNotComputed) {
  auto prefill = [](int input, int cached) {
    auto doc = sessions(false);
    doc["workload"] = {{"kind", "prefill"}, {"batch_per_device", 2}, {"input_tokens", input}};
    if (cached > 0) doc["workload"]["cached_tokens"] = cached;
    const Deployment d = resolve_deployment(scenario(doc));
    const DeploymentStep st = build_step(d, step_shape_of(scenario(doc).workload), TrafficDetail::port_sums);
    double proj = 0, attention_bytes = 0;
    for (const Task& t : st.graph.tasks) {
      if (t.phase == Phase::attention_proj || t.phase == Phase::experts) proj += t.flops;
      if (t.phase == Phase::attention) attention_bytes += t.bytes;
    }
    return std::tuple{proj, attention_bytes, evaluate_analytic(st.graph).makespan, st.memory.kv_cache};
  };
  const auto [proj_hit, bytes_hit, time_hit, kv_hit] = prefill(8448, 8192);
  const auto [proj_alone, bytes_alone, time_alone, kv_alone] = prefill(256, 0);
  const auto [proj_all, bytes_all, time_all, kv_all] = prefill(8448, 0);
  EXPECT_NEAR(proj_hit, proj_alone, 1e-9 * proj_alone);
  EXPECT_GT(bytes_hit, bytes_alone + 2 * 8192 * 0.9 * (kv_all / 2 / 8448));  // reads both prompts' cached KV
  EXPECT_GT(time_hit, time_alone);
  EXPECT_LT(time_hit, 0.5 * time_all);
  EXPECT_DOUBLE_EQ(kv_hit, kv_all);
  EXPECT_GT(kv_all, 30 * kv_alone);

  auto doc = sessions(false);
  doc["workload"] = {{"kind", "prefill"}, {"batch_per_device", 1}, {"input_tokens", 512}, {"cached_tokens", 512}};
  moesim::Diagnostics all_cached("prefill");
  EXPECT_FALSE(scenario_from_json(doc, "", all_cached));
  EXPECT_TRUE(has_problem(all_cached, "/workload/cached_tokens", "at most input_tokens - 1 (511)")) << all_cached.to_string();
  doc["workload"]["cached_tokens"] = 511;
  moesim::Diagnostics one_fresh("prefill");
  EXPECT_TRUE(scenario_from_json(doc, "", one_fresh)) << one_fresh.to_string();
}

TEST(Sessions, BadSessionsAreRefusedAtTheirPointer) {
  auto doc = sessions(true);
  doc["workload"]["sessions"]["turns"] = 0;
  moesim::Diagnostics zero("sessions");
  EXPECT_FALSE(scenario_from_json(doc, "", zero));
  EXPECT_TRUE(has_problem(zero, "/workload/sessions/turns", "")) << zero.to_string();

  doc = sessions(true, 50000);  // Qwen3-30B-A3B: 40,960 positions
  moesim::Diagnostics long_prompt("sessions");
  EXPECT_FALSE(scenario_from_json(doc, "", long_prompt));
  EXPECT_TRUE(has_problem(long_prompt, "/workload/sessions/system_prompt_tokens", "maximum position")) << long_prompt.to_string();

  doc = sessions(true);
  doc["workload"]["requests"] = 10;
  moesim::Diagnostics requests("sessions");
  EXPECT_FALSE(scenario_from_json(doc, "", requests));
  EXPECT_TRUE(has_problem(requests, "/workload/requests", "turns")) << requests.to_string();

  doc = sessions(true);
  doc["workload"]["max_concurrency"] = 4;
  moesim::Diagnostics closed("sessions");
  EXPECT_FALSE(scenario_from_json(doc, "", closed));
  EXPECT_TRUE(has_problem(closed, "/workload/max_concurrency", "pace themselves")) << closed.to_string();
}

// Serving's attention imbalance comes from the ranks' real queues: 1 with one rank, at least 1
// with several.
TEST(Sessions, ServingReportsTheRanksAttentionImbalance) {
  const Report one = run(sessions(false));
  EXPECT_DOUBLE_EQ(one.serving->attention_imbalance, 1.0);
  auto doc = sessions(false);
  doc["cluster"]["node"]["devices_per_node"] = 2;
  doc["parallelism"] = {{"attention", {{"tp", 1}, {"dp", 2}}}, {"experts", {{"ep", 2}, {"tp", 1}}}};
  const Report two = run(doc);
  EXPECT_GE(two.serving->attention_imbalance, 1.0);
  EXPECT_LE(two.serving->attention_imbalance, 2.0);
}

// Under KV pressure (80% of the memory: room for about 4,600 tokens) idle sessions' prefixes are
// evicted least recently used first: fewer hits, and every request still completes.
TEST(Sessions, KvPressureEvictsCachedPrefixes) {
  const Report roomy = run(sessions(true));
  auto doc = sessions(true);
  doc["workload"]["memory_utilization"] = 0.80;
  const Report tight = run(doc);
  ASSERT_TRUE(tight.feasible) << tight.reason;
  ASSERT_TRUE(tight.serving && roomy.serving);
  EXPECT_LT(tight.serving->kv_capacity_tokens, 0.1 * roomy.serving->kv_capacity_tokens);
  EXPECT_GT(tight.serving->evicted_tokens, 0);
  EXPECT_LT(tight.serving->prefix_hit_rate, roomy.serving->prefix_hit_rate);
  EXPECT_NEAR(tight.output_tokens_per_s * tight.serving->makespan_s, roomy.output_tokens_per_s * roomy.serving->makespan_s, 1e-6);
}

// KV offload: prefixes evicted from device memory go to host memory over PCIe and come back for
// their session's next turn, which waits for them: more prompt tokens are found cached than with
// eviction alone, and each restored turn waits at least its own transfer.
TEST(Sessions, KvOffloadBringsEvictedPrefixesBackOverTheLink) {
  auto doc = sessions(true);
  doc["workload"]["sessions"]["count"] = 24;
  doc["workload"]["memory_utilization"] = 0.80;
  const Report evict = run(doc);
  doc["workload"]["kv_offload"] = {{"host_memory", "256GiB"}, {"link", "pcie-gen5"}};
  const Report offload = run(doc);
  ASSERT_TRUE(offload.feasible && evict.feasible) << offload.reason << evict.reason;
  ASSERT_TRUE(offload.serving->kv_offload);
  EXPECT_GT(offload.serving->offload_bytes_to_host, 0);
  EXPECT_GT(offload.serving->offload_restored_turns, 0);
  EXPECT_LE(offload.serving->offload_bytes_from_host, offload.serving->offload_bytes_to_host);
  EXPECT_GT(offload.serving->prefix_hit_rate, evict.serving->prefix_hit_rate);
  const double link = scenario_of_link_bandwidth("pcie-gen5");
  EXPECT_GE(offload.serving->offload_mean_wait_s * static_cast<double>(offload.serving->offload_restored_turns) * (1 + 1e-9),
            offload.serving->offload_bytes_from_host / link);
  EXPECT_NEAR(offload.output_tokens_per_s * offload.serving->makespan_s, evict.output_tokens_per_s * evict.serving->makespan_s, 1e-6);
}

// Grace's LPDDR5X over NVLink-C2C as the tier (GB200/GB300): the same bytes come back 3.6x
// faster than over PCIe Gen5, so restored turns wait less.
TEST(Sessions, NvlinkC2cIsAFasterKvTier) {
  auto doc = sessions(true);
  doc["workload"]["sessions"]["count"] = 24;
  doc["workload"]["memory_utilization"] = 0.80;
  doc["workload"]["kv_offload"] = {{"host_memory", "256GiB"}, {"link", "pcie-gen5"}};
  const Report pcie = run(doc);
  doc["workload"]["kv_offload"]["link"] = "nvlink-c2c";
  const Report c2c = run(doc);
  ASSERT_TRUE(pcie.feasible && c2c.feasible) << pcie.reason << c2c.reason;
  ASSERT_GT(c2c.serving->offload_restored_turns, 0);
  EXPECT_LT(c2c.serving->offload_mean_wait_s, pcie.serving->offload_mean_wait_s);
  EXPECT_NEAR(scenario_of_link_bandwidth("nvlink-c2c") / scenario_of_link_bandwidth("pcie-gen5"), 225.0 / 63.0, 1e-9);
}

TEST(Sessions, BadKvOffloadIsRefusedAtItsPointer) {
  auto doc = sessions(true);
  doc["workload"]["kv_offload"] = {{"host_memory", "256GiB"}, {"link", "pcie-gen9"}};
  moesim::Diagnostics link("sessions");
  EXPECT_FALSE(scenario_from_json(doc, "", link));
  EXPECT_TRUE(has_problem(link, "/workload/kv_offload/link", "unknown link 'pcie-gen9'")) << link.to_string();
  doc = sessions(false);
  doc["workload"]["kv_offload"] = {{"host_memory", "256GiB"}, {"link", "pcie-gen5"}};
  moesim::Diagnostics no_cache("sessions");
  EXPECT_FALSE(scenario_from_json(doc, "", no_cache));
  EXPECT_TRUE(has_problem(no_cache, "/workload/kv_offload", "needs the prefix cache")) << no_cache.to_string();
  doc = sessions(true);
  doc["workload"]["kv_offload"] = {{"host_memory", "256GiB"}, {"link", "pcie-gen5"}, {"ssd", {{"capacity", "2TB"}}}};
  moesim::Diagnostics ssd("sessions");
  EXPECT_FALSE(scenario_from_json(doc, "", ssd));
  EXPECT_TRUE(has_problem(ssd, "/workload/kv_offload/ssd/bandwidth", "missing")) << ssd.to_string();
}

// With little host memory, what it evicts goes to the SSD tier and comes back through host
// memory: more hits than host memory alone, and the SSD's bytes reported.
TEST(Sessions, AnSsdTierKeepsWhatHostMemoryEvicts) {
  auto doc = sessions(true);
  doc["workload"]["sessions"]["count"] = 24;
  doc["workload"]["memory_utilization"] = 0.80;
  doc["workload"]["kv_offload"] = {{"host_memory", "200MB"}, {"link", "pcie-gen5"}};
  const Report host = run(doc);
  doc["workload"]["kv_offload"]["ssd"] = {{"capacity", "2TB"}, {"bandwidth", "12GB/s"}};
  const Report ssd = run(doc);
  ASSERT_TRUE(host.feasible && ssd.feasible) << host.reason << ssd.reason;
  EXPECT_EQ(host.serving->offload_bytes_to_ssd, 0.0);
  EXPECT_GT(ssd.serving->offload_bytes_to_ssd, 0);
  EXPECT_GT(ssd.serving->offload_bytes_from_ssd, 0);
  EXPECT_LE(ssd.serving->offload_bytes_from_ssd, ssd.serving->offload_bytes_from_host);
  EXPECT_GT(ssd.serving->prefix_hit_rate, host.serving->prefix_hit_rate);
}
