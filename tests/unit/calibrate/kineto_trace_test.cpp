// calibrate/fit/kineto_trace: kernel names into moesim's kernel classes, and a PyTorch-profiler
// (Kineto) trace summarised by class, stream and pass. The traces here are written by the test
// (small, with known answers); the real one it was designed on is summarised in
// calibrate/data/deepseek-v3-train-trace/.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kineto_trace.hpp"
#include "../run_command.hpp"

using namespace moesim;
using namespace moesim::calibrate;
using nlohmann::json;

namespace {

// Kernel names as they appear in DeepSeek's training trace and in vLLM's and NCCL's kernels.
TEST(KernelClasses, RecogniseTheKernelsOfRealSteps) {
  const std::vector<std::pair<std::string, KernelClass>> cases{
      {"void cutlass::device_kernel<dpsk::grouped_gemm::cuda::m_grouped_fp8_ptp128c::GemmKernel>(Params)",
       KernelClass::grouped_gemm},
      {"void cutlass::device_kernel<dpsk::grouped_gemm::cuda::fp8_ptp128c::GemmKernel>(Params)", KernelClass::gemm},
      {"void cutlass::device_kernel<dpsk::grouped_gemm::cuda::fp8_dptp128c_acc::GemmKernel>(Params)",
       KernelClass::wgrad_gemm},
      {"void dpsk::grouped_gemm::cuda::utils::transpose<512, 128, 4, 4>(unsigned char const*)", KernelClass::cast_transpose},
      {"void flash::compute_attn_ws<Flash_fwd_kernel_traits<192, 128, 128, 12, 2, false, 1, cutlass::bfloat16_t>>",
       KernelClass::attention_fwd},
      {"void cutlass::device_kernel<flash::FlashAttnBwdPreprocess<cute::tuple<cute::C<64>>>>", KernelClass::attention_bwd},
      {"void dpsk::ep::internode::cached_notify<false>(int, int)", KernelClass::all_to_all},
      {"void cuda::per_token_cast_to_fp8_with_channels<__nv_bfloat16, 128, false, 128, false>", KernelClass::cast_transpose},
      {"void cuda::swiglu_and_per_channel_cast_and_transpose<256, 128, false>", KernelClass::activation},
      {"void layer_norm::ln_fwd_kernel<layer_norm::Kernel_traits<__nv_bfloat16>>", KernelClass::rmsnorm},
      {"rotary_kernel", KernelClass::rotary},
      {"cuda::expand_to_fused_with_scales_impl(int4 const*, int4*)", KernelClass::permute_unpermute},
      {"void vllm::rms_norm_kernel<c10::BFloat16>(c10::BFloat16*, c10::BFloat16 const*)", KernelClass::rmsnorm},
      {"void vllm::reshape_and_cache_flash_kernel<__nv_bfloat16, __nv_bfloat16>", KernelClass::kv_cache_write},
      {"void vllm::act_and_mul_kernel<c10::BFloat16, &vllm::silu_kernel<c10::BFloat16>>", KernelClass::activation},
      {"void vllm::rotary_embedding_kernel<c10::BFloat16, true>", KernelClass::rotary},
      {"fused_moe_kernel", KernelClass::grouped_gemm},
      {"void vllm::moe::topkGatingSoftmax<8, 128, 4, 16>", KernelClass::router},
      {"void vllm::moe::moe_align_block_size_kernel<int>", KernelClass::permute_unpermute},
      {"ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", KernelClass::collective},
      {"sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64", KernelClass::gemm},
      {"void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>>",
       KernelClass::elementwise},
      {"Memcpy DtoD (Device -> Device)", KernelClass::elementwise},
      {"void multi_tensor_apply_kernel<TensorListMetadata<4>, AdamFunctor<float>>", KernelClass::optimizer},
      {"my_custom_kernel_nobody_knows", KernelClass::other},
  };
  for (const auto& [name, expected] : cases) {
    EXPECT_EQ(kernel_class_name(classify_kernel(name)), kernel_class_name(expected)) << name;
  }
  EXPECT_EQ(kernel_class_name(KernelClass::other), "other");
  EXPECT_FALSE(kernel_class_rules().empty());
}

json kernel(const std::string& name, double ts_us, double dur_us, int stream, int correlation) {
  return {{"ph", "X"},  {"cat", "kernel"}, {"name", name}, {"pid", 0}, {"tid", stream}, {"ts", ts_us},
          {"dur", dur_us}, {"args", {{"correlation", correlation}}}};
}
json launch(double ts_us, int correlation) {
  return {{"ph", "X"}, {"cat", "cuda_runtime"}, {"name", "cudaLaunchKernel"}, {"pid", 1}, {"tid", 1},
          {"ts", ts_us}, {"dur", 2}, {"args", {{"correlation", correlation}}}};
}
json annotation(const std::string& name, double ts_us, double dur_us) {
  return {{"ph", "X"}, {"cat", "user_annotation"}, {"name", name}, {"pid", 1}, {"tid", 1}, {"ts", ts_us}, {"dur", dur_us}};
}

// Two streams, a forward and a backward stage, a kernel no rule knows, overlapping kernels.
json small_trace() {
  json events = json::array();
  events.push_back(annotation("mlp(F)", 0, 100));
  events.push_back(annotation("mlp(B)", 100, 100));
  events.push_back(launch(10, 1));
  events.push_back(kernel("sm90_xmma_gemm_bf16bf16_bf16f32", 1000, 30, 7, 1));       // forward gemm
  events.push_back(launch(20, 2));
  events.push_back(kernel("void vllm::rms_norm_kernel<c10::BFloat16>", 1030, 10, 7, 2));  // forward norm
  events.push_back(launch(110, 3));
  events.push_back(kernel("sm90_xmma_gemm_bf16bf16_bf16f32", 1040, 60, 7, 3));       // backward gemm
  events.push_back(launch(120, 4));
  events.push_back(kernel("void dpsk::ep::internode::dispatch<true>", 1020, 50, 20, 4));  // backward, other stream
  events.push_back(kernel("my_custom_kernel", 1100, 5, 7, 99));                       // no launch seen
  events.push_back(kernel("my_custom_kernel", 1105, 5, 7, 98));
  return {{"traceEvents", events},
          {"deviceProperties", json::array({{{"id", 0}, {"name", "NVIDIA H100 80GB HBM3"}, {"numSms", 132}}})}};
}

TEST(KinetoTrace, SumsTimePerClassStreamAndPass) {
  Diagnostics diag("small.json");
  const auto s = summarize_kineto_trace(small_trace(), "", diag);
  ASSERT_TRUE(s) << diag.to_string();
  EXPECT_EQ(s->device_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(s->sms, 132);
  EXPECT_EQ(s->kernels, 6);
  EXPECT_NEAR(s->span_s, 110e-6, 1e-12);  // 1000 us to 1110 us
  const ClassTotals& gemm = s->classes[static_cast<std::size_t>(KernelClass::gemm)];
  EXPECT_EQ(gemm.kernels, 2);
  EXPECT_NEAR(gemm.seconds, 90e-6, 1e-12);
  EXPECT_TRUE(s->has_phases);
  EXPECT_NEAR(gemm.forward_s, 30e-6, 1e-12);
  EXPECT_NEAR(gemm.backward_s, 60e-6, 1e-12);
  const ClassTotals& a2a = s->classes[static_cast<std::size_t>(KernelClass::all_to_all)];
  EXPECT_NEAR(a2a.backward_s, 50e-6, 1e-12);
  // Kernels whose launch the trace lacks count in no pass.
  const ClassTotals& other = s->classes[static_cast<std::size_t>(KernelClass::other)];
  EXPECT_EQ(other.kernels, 2);
  EXPECT_EQ(other.forward_s + other.backward_s, 0);
  ASSERT_EQ(s->unknown.size(), 1u);
  EXPECT_EQ(s->unknown[0].name, "my_custom_kernel");
  EXPECT_EQ(s->unknown[0].count, 2);
  // Stream 7 has the most kernels; its busy time is the union of its intervals (1000-1100 and
  // 1100-1110: 110 us), the other stream's is its one kernel.
  ASSERT_EQ(s->streams.size(), 2u);
  ASSERT_EQ(s->compute_stream, 0);
  EXPECT_EQ(s->streams[0].stream, 7);
  EXPECT_NEAR(s->streams[0].busy_s, 110e-6, 1e-12);
  EXPECT_NEAR(s->streams[1].busy_s, 50e-6, 1e-12);
  // The JSON and the table carry the same figures.
  const json j = trace_summary_to_json(*s);
  EXPECT_EQ(j["classes"]["gemm"]["kernels"], 2);
  EXPECT_NEAR(j["classes"]["rmsnorm"]["seconds"].get<double>(), 10e-6, 1e-12);
  EXPECT_EQ(j["unknown"][0]["name"], "my_custom_kernel");
  const std::string table = trace_summary_table(*s);
  EXPECT_NE(table.find("gemm"), std::string::npos);
  EXPECT_NE(table.find("my_custom_kernel"), std::string::npos);
}

TEST(KinetoTrace, OverlappingKernelsOnOneStreamCountOnceInItsBusyTime) {
  json events = json::array({kernel("gemm_a", 0, 100, 3, 1), kernel("gemm_b", 50, 100, 3, 2)});
  Diagnostics diag;
  const auto s = summarize_kineto_trace({{"traceEvents", events}}, "", diag);
  ASSERT_TRUE(s);
  EXPECT_NEAR(s->streams[0].busy_s, 150e-6, 1e-12);
  EXPECT_NEAR(s->classes[static_cast<std::size_t>(KernelClass::gemm)].seconds, 200e-6, 1e-12);
  EXPECT_FALSE(s->has_phases);
}

TEST(KinetoTraceBadInput, NotAKinetoTraceSaysWhatItExpected) {
  for (const json& doc : {json::array({1, 2}), json{{"events", json::array()}}, json{{"traceEvents", 3}}}) {
    Diagnostics diag("t.json");
    EXPECT_FALSE(summarize_kineto_trace(doc, "", diag));
    ASSERT_EQ(diag.problems().size(), 1u);
    EXPECT_EQ(diag.problems()[0].pointer, "/traceEvents");
    EXPECT_NE(diag.problems()[0].message.find("Kineto"), std::string::npos);
  }
}

// Found by fuzz/kineto_trace: a trace's SM count that its own summary could not read back.
TEST(KinetoTraceBadInput, AnSmCountOutOfRangeIsAnErrorAtItsPointer) {
  json doc = small_trace();
  doc["deviceProperties"][0]["numSms"] = 33333132;
  Diagnostics diag("t.json");
  EXPECT_FALSE(summarize_kineto_trace(doc, "", diag));
  ASSERT_EQ(diag.problems().size(), 1u) << diag.to_string();
  EXPECT_EQ(diag.problems()[0].pointer, "/deviceProperties/0/numSms");
  EXPECT_NE(diag.problems()[0].hint.find("1048576"), std::string::npos);
}

TEST(KinetoTrace, StreamsOfDifferentGpusStaySeparate) {
  json k0 = kernel("gemm_a", 0, 100, 7, 1), k1 = kernel("gemm_b", 0, 100, 7, 2);
  k1["pid"] = 1;
  Diagnostics diag;
  const auto s = summarize_kineto_trace({{"traceEvents", json::array({k0, k1})}}, "", diag);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->streams.size(), 2u);
  EXPECT_EQ(s->streams[1].device, 1);
  EXPECT_NEAR(s->streams[0].busy_s, 100e-6, 1e-12);
}

TEST(KinetoTrace, AStepWideAnnotationNamingBothPassesMarksNeither) {
  json events = json::array({annotation("forward_backward_step", 0, 1000), launch(10, 1), kernel("gemm", 100, 10, 7, 1)});
  Diagnostics diag;
  const auto s = summarize_kineto_trace({{"traceEvents", events}}, "", diag);
  ASSERT_TRUE(s);
  const ClassTotals& gemm = s->classes[static_cast<std::size_t>(KernelClass::gemm)];
  EXPECT_EQ(gemm.forward_s + gemm.backward_s, 0);
}

TEST(KinetoTraceBadInput, ATraceWithoutGpuKernelsOrWithBrokenEventsIsAnError) {
  Diagnostics none("t.json");
  EXPECT_FALSE(summarize_kineto_trace({{"traceEvents", json::array({launch(0, 1)})}}, "", none));
  EXPECT_NE(none.to_string().find("no GPU kernel"), std::string::npos);
  json copy = kernel("Memcpy DtoD (Device -> Device)", 0, 5, 7, 1);
  copy["cat"] = "gpu_memcpy";
  Diagnostics copies_only("t.json");
  EXPECT_FALSE(summarize_kineto_trace({{"traceEvents", json::array({copy})}}, "", copies_only));

  json broken = kernel("gemm", 0, 10, 7, 1);
  broken.erase("dur");
  Diagnostics diag("t.json");
  EXPECT_FALSE(summarize_kineto_trace({{"traceEvents", json::array({kernel("gemm", 0, 1, 7, 2), broken})}}, "", diag));
  ASSERT_FALSE(diag.problems().empty());
  EXPECT_EQ(diag.problems()[0].pointer, "/traceEvents/1/dur");
}

TEST(KinetoTraceBadInput, ATraceFromAnotherDeviceIsRefused) {
  Diagnostics same;
  EXPECT_TRUE(summarize_kineto_trace(small_trace(), "h100-sxm", same)) << same.to_string();
  Diagnostics other("t.json");
  EXPECT_FALSE(summarize_kineto_trace(small_trace(), "h800-sxm", other));
  json two = small_trace();
  two["deviceProperties"].push_back({{"id", 1}, {"name", "NVIDIA H800"}});
  Diagnostics mixed("t.json");
  EXPECT_FALSE(summarize_kineto_trace(two, "h100-sxm", mixed));
  ASSERT_FALSE(mixed.problems().empty());
  EXPECT_EQ(mixed.problems()[0].pointer, "/deviceProperties/1/name");
  ASSERT_EQ(other.problems().size(), 1u);
  EXPECT_EQ(other.problems()[0].pointer, "/deviceProperties/0/name");
  EXPECT_NE(other.problems()[0].message.find("NVIDIA H100 80GB HBM3"), std::string::npos);
  EXPECT_NE(other.problems()[0].message.find("h800-sxm"), std::string::npos);
}

// The command line: a summary, its JSON, and a truncated file reported with its position.
TEST(KinetoTraceCommand, SummarisesATraceAndRefusesATruncatedOne) {
  const auto dir = std::filesystem::temp_directory_path() / "moesim-kineto-test";
  std::filesystem::create_directories(dir);
  const std::string text = small_trace().dump();
  std::ofstream(dir / "trace.json") << text;
  std::ofstream(dir / "truncated.json") << text.substr(0, text.size() / 2);

  const auto ok = test::run_command(std::string(MOESIM_BINARY) + " fit --trace " + (dir / "trace.json").string(),
                                    dir / "err1.txt");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("gemm"), std::string::npos);
  EXPECT_NE(ok.out.find("my_custom_kernel"), std::string::npos);

  const auto as_json = test::run_command(
      std::string(MOESIM_BINARY) + " fit --json --trace " + (dir / "trace.json").string(), dir / "err2.txt");
  ASSERT_EQ(as_json.code, 0) << as_json.err;
  EXPECT_EQ(json::parse(as_json.out)["classes"]["gemm"]["kernels"], 2);

  const auto cut = test::run_command(std::string(MOESIM_BINARY) + " fit --trace " + (dir / "truncated.json").string(),
                                     dir / "err3.txt");
  EXPECT_NE(cut.code, 0);
  EXPECT_TRUE(cut.out.empty());
  EXPECT_NE(cut.err.find("truncated.json"), std::string::npos) << cut.err;

  const auto wrong = test::run_command(
      std::string(MOESIM_BINARY) + " fit --device h800-sxm --trace " + (dir / "trace.json").string(), dir / "err4.txt");
  EXPECT_NE(wrong.code, 0);
  EXPECT_NE(wrong.err.find("not on h800-sxm"), std::string::npos) << wrong.err;
}

}  // namespace
