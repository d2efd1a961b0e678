#include "kineto_trace.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <sstream>

#include "fitter.hpp"
#include "json_reader.hpp"

namespace moesim::calibrate {
namespace {

// Kineto event categories of GPU activity.
bool is_gpu_activity(const std::string& cat) { return cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset"; }

struct CompiledRule {
  KernelClass kernel_class;
  std::regex re;
};

const std::vector<CompiledRule>& compiled_rules() {
  static const std::vector<CompiledRule> rules = [] {
    std::vector<CompiledRule> out;
    for (const KernelClassRule& r : kernel_class_rules()) out.push_back({r.kernel_class, std::regex(r.pattern)});
    return out;
  }();
  return rules;
}

struct GpuEvent {
  std::string name;
  double start_s = 0, dur_s = 0;
  long long device = 0, stream = 0;
  bool kernel = false;  // cat "kernel" (else a memcpy or memset)
  long long correlation = -1;
  KernelClass kernel_class = KernelClass::other;
};

enum class Pass { none, forward, backward };

struct Annotation {
  double start_s = 0, end_s = 0;
  Pass pass = Pass::none;
};

Pass pass_of_annotation(const std::string& name) {
  auto ends_with = [&](const char* s) { return name.size() >= 3 && name.compare(name.size() - 3, 3, s) == 0; };
  const bool forward = ends_with("(F)") || name.find("forward") != std::string::npos;
  const bool backward = ends_with("(B)") || ends_with("(W)") || name.find("backward") != std::string::npos;
  if (forward == backward) return Pass::none;  // neither, or a step-wide name with both
  return forward ? Pass::forward : Pass::backward;
}

// A number at `key` of event `i`; an error at its pointer when it is missing or not a number.
std::optional<double> number_at(const nlohmann::json& e, std::size_t i, const char* key, Diagnostics& diag) {
  const auto it = e.find(key);
  if (it == e.end() || !it->is_number()) {
    diag.error("/traceEvents/" + std::to_string(i) + "/" + key,
               std::string("a GPU event needs a number '") + key + "' (microseconds)",
               "the file is not a complete PyTorch-profiler trace");
    return std::nullopt;
  }
  return it->get<double>();
}

constexpr int kMaxSms = 1 << 20;  ///< a device's streaming multiprocessors, in a trace or a summary

long long integer_or(const nlohmann::json& e, const char* key, long long fallback) {
  const auto it = e.find(key);
  return it != e.end() && it->is_number_integer() ? it->get<long long>() : fallback;
}

// The trace's device, checked against the catalog device the user named.
bool read_device(const nlohmann::json& doc, const std::string& expected, TraceSummary& s, Diagnostics& diag) {
  std::vector<std::string> names;
  if (const auto it = doc.find("deviceProperties"); it != doc.end() && it->is_array()) {
    for (const auto& d : *it) {
      names.push_back(d.is_object() && d.contains("name") && d["name"].is_string() ? d["name"].get<std::string>() : "");
    }
    if (!it->empty() && (*it)[0].is_object()) {
      // (Fuzzing found a count the summary could not read back: both readers bound it alike.)
      const long long sms = integer_or((*it)[0], "numSms", 0);
      if (sms < 0 || sms > kMaxSms) {
        diag.error("/deviceProperties/0/numSms", "a device with " + std::to_string(sms) + " SMs",
                   "a count from 0 to " + std::to_string(kMaxSms));
        return false;
      }
      s.sms = static_cast<int>(sms);
    }
  }
  if (!names.empty()) s.device_name = names[0];
  if (expected.empty()) return true;
  if (s.device_name.empty()) {
    diag.error("/deviceProperties", "the trace names no device, so it cannot be checked against '" + expected + "'",
               "drop --device to read it unchecked");
    return false;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string recognised = catalog_device_for(names[i]);
    if (recognised == expected) continue;
    diag.error("/deviceProperties/" + std::to_string(i) + "/name",
               "the trace was recorded on '" + names[i] + "'" +
                   (recognised.empty() ? std::string(", which is no catalog device") : " (" + recognised + ")") +
                   ", not on " + expected,
               "profile on " + expected + ", or pass the device the trace comes from");
    return false;
  }
  return true;
}

// Every GPU event, and the launch time of every correlation id (its CUDA runtime call).
bool read_events(const nlohmann::json& events, std::vector<GpuEvent>& gpu, std::map<long long, double>& launch,
                 std::vector<Annotation>& annotations, Diagnostics& diag) {
  const std::size_t errors_before = diag.error_count();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const nlohmann::json& e = events[i];
    if (!e.is_object()) continue;
    const std::string cat = e.contains("cat") && e["cat"].is_string() ? e["cat"].get<std::string>() : "";
    const std::string ph = e.contains("ph") && e["ph"].is_string() ? e["ph"].get<std::string>() : "";
    if (ph != "X") continue;
    const long long correlation =
        e.contains("args") && e["args"].is_object() ? integer_or(e["args"], "correlation", -1) : -1;
    if (cat == "cuda_runtime" || cat == "cuda_driver") {
      if (correlation >= 0 && e.contains("ts") && e["ts"].is_number()) launch[correlation] = e["ts"].get<double>() * 1e-6;
      continue;
    }
    if (cat == "user_annotation" && e.contains("name") && e["name"].is_string() && e.contains("ts") &&
        e.contains("dur") && e["ts"].is_number() && e["dur"].is_number()) {
      const Pass p = pass_of_annotation(e["name"].get<std::string>());
      const double t0 = e["ts"].get<double>() * 1e-6;
      if (p != Pass::none) annotations.push_back({t0, t0 + e["dur"].get<double>() * 1e-6, p});
      continue;
    }
    if (!is_gpu_activity(cat)) continue;
    GpuEvent g;
    if (!e.contains("name") || !e["name"].is_string()) {
      diag.error("/traceEvents/" + std::to_string(i) + "/name", "a GPU event needs its kernel name");
      continue;
    }
    g.name = e["name"].get<std::string>();
    const auto ts = number_at(e, i, "ts", diag);
    const auto dur = number_at(e, i, "dur", diag);
    if (!ts || !dur) continue;
    if (*dur < 0) {
      diag.error("/traceEvents/" + std::to_string(i) + "/dur", "negative duration " + std::to_string(*dur) + " us");
      continue;
    }
    g.start_s = *ts * 1e-6;
    g.dur_s = *dur * 1e-6;
    g.device = integer_or(e, "pid", 0);
    g.stream = integer_or(e, "tid", 0);
    g.kernel = cat == "kernel";
    g.correlation = correlation;
    g.kernel_class = classify_kernel(g.name);
    gpu.push_back(std::move(g));
  }
  return diag.error_count() == errors_before;
}

// Length of the union of [start, start + dur) intervals.
double union_length(std::vector<std::pair<double, double>> iv) {
  std::sort(iv.begin(), iv.end());
  double total = 0, cur_start = 0, cur_end = -1;
  bool open = false;
  for (const auto& [a, b] : iv) {
    if (!open || a > cur_end) {
      if (open) total += cur_end - cur_start;
      cur_start = a;
      cur_end = b;
      open = true;
    } else {
      cur_end = std::max(cur_end, b);
    }
  }
  if (open) total += cur_end - cur_start;
  return total;
}

// The innermost forward/backward annotation around a launch time.
Pass pass_at(const std::vector<Annotation>& annotations, double t) {
  Pass p = Pass::none;
  double shortest = 0;
  for (const Annotation& a : annotations) {
    if (t < a.start_s || t > a.end_s) continue;
    if (p == Pass::none || a.end_s - a.start_s < shortest) {
      p = a.pass;
      shortest = a.end_s - a.start_s;
    }
  }
  return p;
}

void summarize(const std::vector<GpuEvent>& gpu, const std::map<long long, double>& launch,
               const std::vector<Annotation>& annotations, TraceSummary& s) {
  s.kernels = static_cast<long long>(gpu.size());
  s.has_phases = !annotations.empty();
  double first = gpu.front().start_s, last = gpu.front().start_s + gpu.front().dur_s;
  using StreamKey = std::pair<long long, long long>;  // (device, stream)
  std::map<StreamKey, StreamSummary> streams;
  std::map<StreamKey, std::vector<std::pair<double, double>>> intervals;
  std::map<std::string, UnknownKernel> unknown;
  for (const GpuEvent& g : gpu) {
    first = std::min(first, g.start_s);
    last = std::max(last, g.start_s + g.dur_s);
    const auto c = static_cast<std::size_t>(g.kernel_class);
    ClassTotals& ct = s.classes[c];
    ++ct.kernels;
    ct.seconds += g.dur_s;
    if (const auto it = launch.find(g.correlation); s.has_phases && it != launch.end()) {
      const Pass p = pass_at(annotations, it->second);
      if (p == Pass::forward) ct.forward_s += g.dur_s;
      if (p == Pass::backward) ct.backward_s += g.dur_s;
    }
    const StreamKey key{g.device, g.stream};
    StreamSummary& st = streams[key];
    st.device = g.device;
    st.stream = g.stream;
    ++st.kernels;
    st.class_s[c] += g.dur_s;
    intervals[key].push_back({g.start_s, g.start_s + g.dur_s});
    if (g.kernel_class == KernelClass::other) {
      UnknownKernel& u = unknown[g.name];
      u.name = g.name;
      ++u.count;
      u.seconds += g.dur_s;
    }
  }
  s.span_s = last - first;
  for (auto& [key, st] : streams) {
    st.busy_s = union_length(std::move(intervals[key]));
    if (s.compute_stream < 0 || st.kernels > s.streams[static_cast<std::size_t>(s.compute_stream)].kernels) {
      s.compute_stream = static_cast<int>(s.streams.size());
    }
    s.streams.push_back(st);
  }
  for (auto& [name, u] : unknown) s.unknown.push_back(u);
  std::stable_sort(s.unknown.begin(), s.unknown.end(),
                   [](const UnknownKernel& a, const UnknownKernel& b) { return a.seconds > b.seconds; });
}

std::string ms(double seconds) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f ms", seconds * 1e3);
  return b;
}

}  // namespace

std::string kernel_class_name(KernelClass c) {
  static const std::array<const char*, kNumKernelClasses> names{
      "gemm",        "grouped_gemm", "wgrad_gemm",     "attention_fwd", "attention_bwd", "rmsnorm",
      "rotary",      "activation",   "router",         "permute_unpermute", "cast_transpose", "kv_cache_write",
      "sampling",    "elementwise",  "all_to_all",     "collective",    "optimizer",     "other"};
  return names[static_cast<std::size_t>(c)];
}

// The first matching rule wins, so specific names come before the generic GEMM pattern. Names
// were read from the kernels of DeepSeek's training trace (calibrate/data/deepseek-v3-train-trace)
// and from vLLM's kernel sources (csrc/layernorm_kernels.cu, csrc/cache_kernels.cu,
// csrc/activation_kernels.cu, csrc/pos_encoding_kernels.cu, csrc/moe/, fused_moe.py).
const std::vector<KernelClassRule>& kernel_class_rules() {
  using K = KernelClass;
  static const std::vector<KernelClassRule> rules{
      {K::all_to_all, "dpsk::ep::|deep_ep", "DeepEP dispatch and combine"},
      {K::collective, "nccl|NCCL|cross_device_reduce|all_?reduce|all_?gather|reduce_?scatter",
       "NCCL; vLLM's custom all-reduce"},
      {K::sampling, "[Ss]ampling|argmax|multinomial", "samplers (FlashInfer, PyTorch)"},
      {K::wgrad_gemm, "fp8_dptp128c_acc", "DeepSeek's FP8 weight-gradient GEMM (accumulating)"},
      {K::gemm, "::fp8_ptp128c::", "DeepSeek's dense FP8 GEMM (its namespace is called grouped_gemm)"},
      // Not "grouped_gemm" alone: DeepSeek's dense GEMMs and transposes live in a namespace of that name.
      {K::grouped_gemm, "m_grouped|fill_tensormaps_kernel|fused_moe_kernel|[Gg]roupedGemm|moe_gemm",
       "DeepSeek's grouped GEMMs; vLLM/SGLang fused_moe (Triton); CUTLASS grouped GEMM"},
      {K::kv_cache_write, "reshape_and_cache|concat_and_cache_mla", "vLLM KV-cache writes"},
      {K::router, "topk|TopK|topkGating|unique_group_indices|aux_fi_impl|sigmoid|_scatter_gather_elementwise_kernel",
       "top-k gating (vLLM topk_softmax, DeepSeek's router kernels)"},
      {K::attention_bwd, "FlashAttnBwd|flash_bwd|fmha.*[Bb]wd|attn_bwd", "FlashAttention backward"},
      {K::attention_fwd,
       "compute_attn|Flash_fwd|flash_fwd|FlashAttnFwd|[Ff]lash[Mm][Ll][Aa]|paged_attention|fmha|BatchPrefill|"
       "BatchDecode|attn_fwd",
       "FlashAttention, FlashMLA, FlashInfer, vLLM paged attention"},
      {K::activation, "swiglu|silu|gelu|act_and_mul", "SwiGLU / GELU (vLLM act_and_mul, fused casts)"},
      {K::cast_transpose,
       "cast_to_fp8|cast_and_transpose|cast_back|batched_transpose|utils::transpose|quantize|quant_fp8|"
       "per_token_group_quant",
       "FP8 casts and transposes (Transformer Engine, DeepSeek, vLLM/SGLang quantizers)"},
      {K::gemm, "fp8_ptp128c|[Gg]emm|GEMM|nvjet|cutlass|xmma|cublas", "cuBLAS, CUTLASS, DeepGEMM dense GEMMs"},
      {K::rmsnorm, "layer_norm::ln_|rms_?norm|RMSNorm|RmsNorm|[Ll]ayer_?[Nn]orm", "RMSNorm / LayerNorm"},
      {K::rotary, "rotary|rope|RoPE", "rotary position embedding"},
      {K::permute_unpermute,
       "expand_to_fused|reduce_fused_impl|get_fused_mapping|clean_and_count_expert|permute|moe_align|index_select|"
       "moe_sum",
       "token permutation and its index building (DeepSeek, vLLM moe_align_block_size, moe_sum)"},
      {K::optimizer, "[Aa]dam|multi_tensor_apply|sgd_", "optimizers (PyTorch multi-tensor Adam)"},
      {K::elementwise, "at::native::|elementwise|Memcpy|Memset|_copy_tensor_kernel|reduce_kernel|fill",
       "PyTorch elementwise, copies and fills"},
  };
  return rules;
}

KernelClass classify_kernel(const std::string& name) {
  for (const CompiledRule& r : compiled_rules()) {
    if (std::regex_search(name, r.re)) return r.kernel_class;
  }
  return KernelClass::other;
}

std::optional<TraceSummary> summarize_kineto_trace(const nlohmann::json& doc, const std::string& expected_device,
                                                   Diagnostics& diag) {
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array()) {
    diag.error("/traceEvents", "not a PyTorch-profiler (Kineto) trace: expected an object with a traceEvents array",
               "export with torch.profiler (export_chrome_trace or tensorboard_trace_handler)");
    return std::nullopt;
  }
  TraceSummary s;
  if (!read_device(doc, expected_device, s, diag)) return std::nullopt;
  std::vector<GpuEvent> gpu;
  std::map<long long, double> launch;
  std::vector<Annotation> annotations;
  if (!read_events(doc["traceEvents"], gpu, launch, annotations, diag)) return std::nullopt;
  if (std::none_of(gpu.begin(), gpu.end(), [](const GpuEvent& g) { return g.kernel; })) {
    diag.error("/traceEvents", "the trace has no GPU kernel events (cat \"kernel\")",
               "profile with torch.profiler.ProfilerActivity.CUDA");
    return std::nullopt;
  }
  summarize(gpu, launch, annotations, s);
  return s;
}

nlohmann::json trace_summary_to_json(const TraceSummary& s) {
  nlohmann::json j;
  j["device"] = {{"name", s.device_name}, {"sms", s.sms}};
  j["span_s"] = s.span_s;
  j["kernels"] = s.kernels;
  if (s.compute_stream >= 0) {
    const StreamSummary& c = s.streams[static_cast<std::size_t>(s.compute_stream)];
    j["compute_stream"] = {{"device", c.device}, {"stream", c.stream}};
  }
  j["forward_backward_from_annotations"] = s.has_phases;
  nlohmann::json classes = nlohmann::json::object();
  for (int c = 0; c < kNumKernelClasses; ++c) {
    const ClassTotals& t = s.classes[static_cast<std::size_t>(c)];
    nlohmann::json e{{"kernels", t.kernels}, {"seconds", t.seconds}};
    if (s.has_phases) {
      e["forward_s"] = t.forward_s;
      e["backward_s"] = t.backward_s;
    }
    classes[kernel_class_name(static_cast<KernelClass>(c))] = e;
  }
  j["classes"] = classes;
  j["streams"] = nlohmann::json::array();
  for (const StreamSummary& st : s.streams) {
    nlohmann::json by_class = nlohmann::json::object();
    for (int c = 0; c < kNumKernelClasses; ++c) {
      if (st.class_s[static_cast<std::size_t>(c)] > 0) by_class[kernel_class_name(static_cast<KernelClass>(c))] = st.class_s[static_cast<std::size_t>(c)];
    }
    j["streams"].push_back({{"device", st.device}, {"stream", st.stream}, {"kernels", st.kernels}, {"busy_s", st.busy_s},
                            {"classes_s", by_class}});
  }
  j["unknown"] = nlohmann::json::array();
  for (const UnknownKernel& u : s.unknown) j["unknown"].push_back({{"name", u.name}, {"count", u.count}, {"seconds", u.seconds}});
  return j;
}

bool is_trace_summary(const nlohmann::json& doc) {
  return doc.is_object() && doc.contains("classes") && doc.contains("span_s") && !doc.contains("traceEvents");
}

std::optional<TraceSummary> trace_summary_from_json(const nlohmann::json& doc, Diagnostics& diag) {
  const auto before = diag.error_count();
  ObjectReader top(doc, "", diag);
  if (!top.valid()) return std::nullopt;
  TraceSummary s;
  if (ObjectReader d = top.object("device", true); d.valid()) {
    s.device_name = d.string("name").value_or("");
    s.sms = static_cast<int>(d.integer("sms", false, 0, kMaxSms).value_or(0));
    d.finish();
  }
  s.span_s = top.number("span_s", true, 0.0).value_or(0);
  s.kernels = top.integer("kernels", false, 0).value_or(0);
  s.has_phases = top.boolean("forward_backward_from_annotations").value_or(false);
  if (ObjectReader cs = top.object("compute_stream"); cs.valid()) {
    cs.integer("device");
    cs.integer("stream");
    cs.finish();
  }
  if (ObjectReader classes = top.object("classes", true); classes.valid()) {
    for (int c = 0; c < kNumKernelClasses; ++c) {
      const std::string name = kernel_class_name(static_cast<KernelClass>(c));
      if (!classes.has(name)) continue;
      ObjectReader e = classes.object(name);
      ClassTotals& t = s.classes[static_cast<std::size_t>(c)];
      t.kernels = e.integer("kernels", false, 0).value_or(0);
      t.seconds = e.number("seconds", true, 0.0).value_or(0);
      t.forward_s = e.number("forward_s", s.has_phases, 0.0).value_or(0);
      t.backward_s = e.number("backward_s", s.has_phases, 0.0).value_or(0);
      e.finish();
    }
    classes.finish();
  }
  // Streams: the compute stream is the one with the most kernels, as when the trace was read.
  if (const nlohmann::json* streams = top.raw("streams"); streams != nullptr && streams->is_array()) {
    for (std::size_t i = 0; i < streams->size(); ++i) {
      ObjectReader st((*streams)[i], "/streams/" + std::to_string(i), diag);
      if (!st.valid()) continue;
      StreamSummary ss;
      ss.device = st.integer("device").value_or(0);
      ss.stream = st.integer("stream").value_or(0);
      ss.kernels = st.integer("kernels", false, 0).value_or(0);
      ss.busy_s = st.number("busy_s", true, 0.0).value_or(0);
      if (ObjectReader by = st.object("classes_s"); by.valid()) {
        for (int c = 0; c < kNumKernelClasses; ++c) {
          const std::string name = kernel_class_name(static_cast<KernelClass>(c));
          if (by.has(name)) ss.class_s[static_cast<std::size_t>(c)] = by.number(name, false, 0.0).value_or(0);
        }
        by.finish();
      }
      st.finish();
      if (s.compute_stream < 0 || ss.kernels > s.streams[static_cast<std::size_t>(s.compute_stream)].kernels) {
        s.compute_stream = static_cast<int>(s.streams.size());
      }
      s.streams.push_back(ss);
    }
  }
  top.raw("unknown");
  top.finish();
  if (diag.error_count() > before) return std::nullopt;
  return s;
}

std::string trace_summary_table(const TraceSummary& s) {
  std::ostringstream o;
  const StreamSummary* compute = s.compute_stream >= 0 ? &s.streams[static_cast<std::size_t>(s.compute_stream)] : nullptr;
  o << "  device " << (s.device_name.empty() ? "(not named)" : s.device_name);
  if (s.sms > 0) o << ", " << s.sms << " SMs";
  o << "; span " << ms(s.span_s) << "; " << s.kernels << " GPU kernels (with memcpy and memset) on "
    << s.streams.size() << " stream" << (s.streams.size() == 1 ? "" : "s") << "\n";
  for (const StreamSummary& st : s.streams) {
    o << "  GPU " << st.device << " stream " << st.stream << (&st == compute ? " (compute)" : "") << ": " << st.kernels
      << " kernels, busy " << ms(st.busy_s) << "\n";
  }
  o << "\n  kernel class         kernels        time   of the compute stream's busy time"
    << (s.has_phases ? "   forward    backward" : "") << "\n";
  for (int c = 0; c < kNumKernelClasses; ++c) {
    const ClassTotals& t = s.classes[static_cast<std::size_t>(c)];
    if (t.kernels == 0) continue;
    char line[200];
    // The share counts the class's time on the compute stream only, so the column sums to 100%.
    const double on_compute = compute != nullptr ? compute->class_s[static_cast<std::size_t>(c)] : 0.0;
    std::snprintf(line, sizeof line, "  %-18s %9lld %12s   %6.1f%%", kernel_class_name(static_cast<KernelClass>(c)).c_str(),
                  t.kernels, ms(t.seconds).c_str(),
                  compute != nullptr && compute->busy_s > 0 ? 100 * on_compute / compute->busy_s : 0.0);
    o << line;
    if (s.has_phases) o << "   " << ms(t.forward_s) << "  " << ms(t.backward_s);
    o << "\n";
  }
  if (!s.unknown.empty()) {
    o << "\n  kernels no rule recognises (class other), most time first:\n";
    for (const UnknownKernel& u : s.unknown) {
      o << "    " << u.count << " x " << ms(u.seconds) << "  " << u.name.substr(0, 160) << "\n";
    }
  }
  return o.str();
}

}  // namespace moesim::calibrate
