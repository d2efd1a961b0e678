#include "raw_samples.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <tuple>

#include "json_reader.hpp"

namespace moesim::calibrate {
namespace {

constexpr const char* kFormat = "moesim-calibrate-raw";
constexpr long long kVersion = 1;
const std::vector<std::string> kGemmDtypes{"bf16", "fp16", "fp8", "tf32", "fp32", "int8"};
const std::vector<std::string> kMemoryOps{"read", "write", "copy"};
const std::vector<std::string> kLaunchKinds{"back_to_back", "launch_sync"};
const std::vector<std::string> kCopyKinds{"h2d", "d2h", "p2p"};
const std::vector<std::string> kCollectives{"all_reduce", "all_to_all"};
const std::vector<std::string> kPowerKinds{"idle", "load"};

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

std::string fmt_time(double s) { return format_quantity(s, Dimension::time); }

// A measured time: a finite, positive number of seconds. NaN (JSON has none: a writer emits
// null), negative and zero times are errors that name the sample.
std::optional<double> read_time(ObjectReader& r, const std::string& key, const std::string& what) {
  Diagnostics& diag = r.diagnostics();
  const nlohmann::json* v = r.raw(key);
  const std::string where = r.pointer_to(key);
  const std::string rerun = "rerun moesim-calibrate for this benchmark, or drop the sample";
  if (v == nullptr) {
    diag.error(where, what + ": missing time '" + key + "'", rerun);
    return std::nullopt;
  }
  if (v->is_null()) {
    diag.error(where, what + ": time is NaN (null)", "the measurement failed; " + rerun);
    return std::nullopt;
  }
  if (v->is_string()) {
    diag.error(where, what + ": time is the string " + v->dump() + ", not a number", rerun);
    return std::nullopt;
  }
  if (!v->is_number()) {
    diag.error(where, what + ": time is " + json_type_name(*v) + ", not a number", rerun);
    return std::nullopt;
  }
  const double t = v->get<double>();
  if (!std::isfinite(t)) {
    diag.error(where, what + ": time is not finite", rerun);
    return std::nullopt;
  }
  if (t < 0) {
    diag.error(where, what + ": negative time " + fmt(t) + " s", rerun);
    return std::nullopt;
  }
  if (t == 0) {
    diag.error(where, what + ": zero time", "below the timer's resolution or not measured; " + rerun);
    return std::nullopt;
  }
  return t;
}

// Spread of the repeats: optional, but when present non-negative numbers.
void read_spread(ObjectReader& r) {
  r.number("min_s", false, 0.0);
  r.number("max_s", false, 0.0);
  r.integer("repeats", false, 1);
}

// The envelope every benchmark family shares; `read_sample` reads one sample's own keys.
void read_family(ObjectReader& benchmarks, const std::string& name, RawRun& run, Diagnostics& diag,
                 const std::function<void(ObjectReader&)>& read_sample) {
  if (!benchmarks.has(name)) return;
  ObjectReader f = benchmarks.object(name);
  if (!f.valid()) return;
  f.string("started");
  f.string("finished");
  f.raw("clocks");    // informational
  f.raw("settings");  // informational
  if (const nlohmann::json* notes = f.raw("notes")) {
    if (!notes->is_array()) {
      diag.error(f.pointer_to("notes"), "expected an array of strings, got " + json_type_name(*notes));
    } else {
      for (const auto& n : *notes) {
        if (n.is_string()) run.notes.push_back(name + ": " + n.get<std::string>());
      }
    }
  }
  const auto skipped = f.string("skipped");
  if (skipped) run.notes.push_back(name + ": skipped: " + *skipped);
  const nlohmann::json* samples = f.raw("samples");
  f.finish();
  const std::string hint = "the benchmark produced nothing; rerun moesim-calibrate, or remove '" +
                           name + "' from the file";
  if (samples == nullptr) {
    if (!skipped) diag.error(f.pointer(), "benchmark '" + name + "' has no samples", hint);
    return;
  }
  if (!samples->is_array()) {
    diag.error(f.pointer_to("samples"), "expected an array, got " + json_type_name(*samples));
    return;
  }
  if (samples->empty() && !skipped) {
    diag.error(f.pointer_to("samples"), "benchmark '" + name + "' has an empty sample list", hint);
    return;
  }
  for (std::size_t i = 0; i < samples->size(); ++i) {
    ObjectReader s((*samples)[i], f.pointer_to("samples") + "/" + std::to_string(i), diag);
    if (!s.valid()) continue;
    read_sample(s);
    s.finish();
  }
}

// One sweep: samples of the same kind ordered by size. A larger one may not be faster by more
// than kMonotonicTolerance than any smaller one.
struct SweepPoint {
  double size;
  double seconds;
  const std::string* pointer;
};

void check_sweep(std::vector<SweepPoint> pts, const std::string& what, const std::string& size_name,
                 Diagnostics& diag) {
  std::stable_sort(pts.begin(), pts.end(), [](const SweepPoint& a, const SweepPoint& b) { return a.size < b.size; });
  const SweepPoint* slowest = nullptr;  // slowest among strictly smaller sizes
  std::size_t i = 0;
  while (i < pts.size()) {
    std::size_t j = i;
    while (j < pts.size() && pts[j].size == pts[i].size) ++j;
    for (std::size_t q = i; q < j; ++q) {
      if (slowest != nullptr && pts[q].seconds < slowest->seconds * (1.0 - kMonotonicTolerance)) {
        diag.error(*pts[q].pointer,
                   "non-monotonic sweep: " + what + " takes " + fmt_time(pts[q].seconds) + " at " +
                       size_name + "=" + fmt(pts[q].size) + " but " + fmt_time(slowest->seconds) +
                       " at the smaller " + size_name + "=" + fmt(slowest->size) + " (" +
                       *slowest->pointer + ")",
                   "a larger problem cannot be that much faster: the clocks dropped, the GPU was "
                   "shared, or the measurement is broken; rerun moesim-calibrate");
      }
    }
    for (std::size_t q = i; q < j; ++q) {
      if (slowest == nullptr || pts[q].seconds > slowest->seconds) slowest = &pts[q];
    }
    i = j;
  }
}

template <class Sample, class Key>
void check_sweeps(const std::vector<Sample>& samples, const std::function<Key(const Sample&)>& key,
                  const std::function<double(const Sample&)>& size,
                  const std::function<std::string(const Sample&)>& describe, const std::string& size_name,
                  Diagnostics& diag) {
  std::map<Key, std::vector<const Sample*>> groups;
  for (const auto& s : samples) groups[key(s)].push_back(&s);
  for (const auto& [k, members] : groups) {
    std::vector<SweepPoint> pts;
    for (const Sample* s : members) pts.push_back({size(*s), s->seconds, &s->pointer});
    check_sweep(std::move(pts), describe(*members.front()), size_name, diag);
  }
}

void read_gemm(ObjectReader& b, RawRun& run, Diagnostics& diag) {
  read_family(b, "gemm", run, diag, [&](ObjectReader& s) {
    GemmSample g;
    g.pointer = s.pointer();
    auto dtype = s.choice("dtype", kGemmDtypes, true);
    auto m = s.integer("m", true, 1);
    auto n = s.integer("n", true, 1);
    auto k = s.integer("k", true, 1);
    read_spread(s);
    const std::string what = "gemm " + dtype.value_or("?") + " m=" + (m ? std::to_string(*m) : "?") +
                             " n=" + (n ? std::to_string(*n) : "?") + " k=" + (k ? std::to_string(*k) : "?");
    auto t = read_time(s, "median_s", what);
    if (dtype && m && n && k && t) {
      g.dtype = *hw::dtype_from_name(*dtype);
      g.m = static_cast<double>(*m);
      g.n = static_cast<double>(*n);
      g.k = static_cast<double>(*k);
      g.seconds = *t;
      run.gemm.push_back(g);
    }
  });
}

void read_grouped(ObjectReader& b, RawRun& run, Diagnostics& diag) {
  read_family(b, "grouped_gemm", run, diag, [&](ObjectReader& s) {
    GroupedGemmSample g;
    g.pointer = s.pointer();
    auto dtype = s.choice("dtype", kGemmDtypes, true);
    auto n = s.integer("n", true, 1);
    auto k = s.integer("k", true, 1);
    g.distribution = s.string("distribution").value_or("");
    bool tokens_ok = false;
    if (const nlohmann::json* tok = s.raw("tokens"); tok == nullptr) {
      diag.error(s.pointer_to("tokens"), "missing required key 'tokens'");
    } else {
      bool valid = tok->is_array() && !tok->empty();
      double total = 0;
      if (valid) {
        for (const auto& x : *tok) {
          if (!x.is_number_integer() || x.get<long long>() < 0) {
            valid = false;
            break;
          }
          g.tokens.push_back(x.get<double>());
          total += g.tokens.back();
        }
      }
      tokens_ok = valid && total > 0;
      if (!tokens_ok) {
        diag.error(s.pointer_to("tokens"),
                   "expected a non-empty array of token counts per expert (integers >= 0, not all 0)");
      }
    }
    read_spread(s);
    const std::string what = "grouped_gemm " + dtype.value_or("?") + " n=" + (n ? std::to_string(*n) : "?") +
                             " k=" + (k ? std::to_string(*k) : "?") + " (" +
                             std::to_string(g.tokens.size()) + " experts)";
    auto t = read_time(s, "median_s", what);
    if (dtype && n && k && tokens_ok && t) {
      g.dtype = *hw::dtype_from_name(*dtype);
      g.n = static_cast<double>(*n);
      g.k = static_cast<double>(*k);
      g.seconds = *t;
      run.grouped_gemm.push_back(g);
    }
  });
}

void read_memory(ObjectReader& b, RawRun& run, Diagnostics& diag) {
  read_family(b, "memory", run, diag, [&](ObjectReader& s) {
    MemorySample m;
    m.pointer = s.pointer();
    auto op = s.choice("op", kMemoryOps, true);
    auto bytes = s.integer("bytes", true, 1);
    read_spread(s);
    auto t = read_time(s, "median_s", "memory " + op.value_or("?") + " of " +
                                          (bytes ? format_quantity(static_cast<double>(*bytes), Dimension::bytes) : "?"));
    if (op && bytes && t) {
      m.op = *op;
      m.bytes = static_cast<double>(*bytes);
      m.seconds = *t;
      run.memory.push_back(m);
    }
  });
}

void read_launch(ObjectReader& b, RawRun& run, Diagnostics& diag) {
  read_family(b, "launch", run, diag, [&](ObjectReader& s) {
    LaunchSample l;
    l.pointer = s.pointer();
    auto kind = s.choice("kind", kLaunchKinds, true);
    s.integer("kernels", false, 1);
    read_spread(s);
    auto t = read_time(s, "median_s", "launch " + kind.value_or("?"));
    if (kind && t) {
      l.kind = *kind;
      l.seconds = *t;
      run.launch.push_back(l);
    }
  });
}

void read_copy(ObjectReader& b, RawRun& run, Diagnostics& diag) {
  read_family(b, "copy", run, diag, [&](ObjectReader& s) {
    CopySample c;
    c.pointer = s.pointer();
    auto kind = s.choice("kind", kCopyKinds, true);
    c.pinned = s.boolean("pinned").value_or(true);
    auto bytes = s.integer("bytes", true, 1);
    c.src = static_cast<int>(s.integer("src", false, 0, 1 << 16).value_or(0));
    c.dst = static_cast<int>(s.integer("dst", false, 0, 1 << 16).value_or(0));
    s.boolean("peer_access");
    read_spread(s);
    auto t = read_time(s, "median_s", "copy " + kind.value_or("?") + " of " +
                                          (bytes ? format_quantity(static_cast<double>(*bytes), Dimension::bytes) : "?"));
    if (kind && bytes && t) {
      c.kind = *kind;
      c.bytes = static_cast<double>(*bytes);
      c.seconds = *t;
      run.copy.push_back(c);
    }
  });
}

void read_nccl(ObjectReader& b, RawRun& run, Diagnostics& diag) {
  read_family(b, "nccl", run, diag, [&](ObjectReader& s) {
    CollectiveSample c;
    c.pointer = s.pointer();
    auto coll = s.choice("collective", kCollectives, true);
    auto ranks = s.integer("ranks", true, 2, 1 << 16);
    auto bytes = s.integer("bytes", true, 1);
    s.string("dtype");
    read_spread(s);
    auto t = read_time(s, "median_s", "nccl " + coll.value_or("?") + " of " +
                                          (bytes ? format_quantity(static_cast<double>(*bytes), Dimension::bytes) : "?"));
    if (coll && ranks && bytes && t) {
      c.collective = *coll;
      c.ranks = static_cast<int>(*ranks);
      c.bytes = static_cast<double>(*bytes);
      c.seconds = *t;
      run.nccl.push_back(c);
    }
  });
}

// Power samples carry watts, not times: the same rules (finite, positive) apply to the power.
void read_power(ObjectReader& b, RawRun& run, Diagnostics& diag) {
  read_family(b, "power", run, diag, [&](ObjectReader& s) {
    PowerSample p;
    p.pointer = s.pointer();
    auto kind = s.choice("kind", kPowerKinds, true);
    auto limit = s.number("limit_w", true, 1.0, 1e5);
    s.boolean("limit_set");
    s.number("duration_s", false, 0.0);
    if (auto sm = s.number("sm_clock_mhz", false, 0.0)) p.sm_clock_hz = *sm * 1e6;
    if (auto mem = s.number("mem_clock_mhz", false, 0.0)) p.mem_clock_hz = *mem * 1e6;
    p.gemm_flops = s.number("gemm_flops_per_s", false, 0.0);
    const nlohmann::json* w = s.raw("power_w");
    std::optional<double> watts;
    if (w == nullptr) {
      diag.error(s.pointer_to("power_w"), "power sample without 'power_w'");
    } else if (!w->is_number() || !std::isfinite(w->get<double>()) || w->get<double>() <= 0) {
      diag.error(s.pointer_to("power_w"), "power " + w->dump() + " is not a positive number of watts");
    } else {
      watts = w->get<double>();
    }
    if (kind && limit && watts) {
      p.kind = *kind;
      p.limit_w = *limit;
      p.power_w = *watts;
      run.power.push_back(p);
    }
  });
}

}  // namespace

std::optional<RawRun> read_raw_run(const nlohmann::json& doc, Diagnostics& diag) {
  const auto errors = [&] { return diag.error_count(); };
  const auto errors_before = errors();
  ObjectReader top(doc, "", diag);
  if (!top.valid()) return std::nullopt;
  RawRun run;
  if (auto f = top.string("format", true); f && *f != kFormat) {
    diag.error("/format", "not a moesim-calibrate raw samples file (format '" + *f + "')",
               std::string("expected \"") + kFormat + "\"");
  }
  if (auto v = top.integer("version", true); v && *v != kVersion) {
    diag.error("/version", "unsupported raw samples version " + std::to_string(*v),
               "this moesim reads version " + std::to_string(kVersion));
  }
  run.tool = top.string("tool").value_or("");
  top.choice("mode", {"full", "quick", "custom"});
  run.started = top.string("started").value_or("");
  top.string("finished");
  top.string("host");
  if (ObjectReader d = top.object("driver"); d.valid()) {
    run.driver = d.string("version").value_or("");
    d.integer("cuda_driver");
    d.integer("cuda_runtime");
    d.integer("cublas");
    d.integer("nccl");
    d.finish();
  }
  if (ObjectReader d = top.object("device", true); d.valid()) {
    run.device_name = d.string("name", true).value_or("");
    d.integer("index", false, 0);
    d.string("uuid");
    d.string("pci_bus_id");
    d.string("compute_capability");
    d.integer("sms", false, 1);
    d.number("memory_bytes", false, 0.0);
    if (auto l2 = d.number("l2_bytes", false, 0.0); l2 && *l2 > 0) run.l2_bytes = *l2;
    d.number("sm_clock_max_mhz", false, 0.0);
    d.number("mem_clock_max_mhz", false, 0.0);
    d.number("power_limit_w", false, 0.0);
    d.finish();
  }
  run.gpu_count = static_cast<int>(top.integer("gpu_count", false, 1, 1 << 16).value_or(1));
  if (ObjectReader b = top.object("benchmarks", true); b.valid()) {
    read_gemm(b, run, diag);
    read_grouped(b, run, diag);
    read_memory(b, run, diag);
    read_launch(b, run, diag);
    read_copy(b, run, diag);
    read_nccl(b, run, diag);
    read_power(b, run, diag);
    b.finish();
    const bool any = !run.gemm.empty() || !run.grouped_gemm.empty() || !run.memory.empty() ||
                     !run.launch.empty() || !run.copy.empty() || !run.nccl.empty() || !run.power.empty();
    if (!any && errors() == errors_before) {
      diag.error("/benchmarks", "the file holds no samples at all",
                 "run moesim-calibrate on a GPU (without --only, or with benchmarks that apply)");
    }
  }
  top.finish();

  using GemmKey = std::tuple<int, double, double>;
  check_sweeps<GemmSample, GemmKey>(
      run.gemm, [](const GemmSample& s) { return GemmKey{static_cast<int>(s.dtype), s.n, s.k}; },
      [](const GemmSample& s) { return s.m; },
      [](const GemmSample& s) {
        return "gemm " + hw::dtype_name(s.dtype) + " n=" + fmt(s.n) + " k=" + fmt(s.k);
      },
      "m", diag);
  using GroupedKey = std::tuple<int, double, double, std::size_t, std::string>;
  check_sweeps<GroupedGemmSample, GroupedKey>(
      run.grouped_gemm,
      [](const GroupedGemmSample& s) {
        return GroupedKey{static_cast<int>(s.dtype), s.n, s.k, s.tokens.size(), s.distribution};
      },
      [](const GroupedGemmSample& s) {
        double total = 0;
        for (double t : s.tokens) total += t;
        return total;
      },
      [](const GroupedGemmSample& s) {
        return "grouped_gemm " + hw::dtype_name(s.dtype) + " n=" + fmt(s.n) + " k=" + fmt(s.k) + " over " +
               std::to_string(s.tokens.size()) + " experts (" + s.distribution + ")";
      },
      "tokens", diag);
  check_sweeps<MemorySample, std::string>(
      run.memory, [](const MemorySample& s) { return s.op; }, [](const MemorySample& s) { return s.bytes; },
      [](const MemorySample& s) { return "memory " + s.op; }, "bytes", diag);
  using CopyKey = std::tuple<std::string, bool, int, int>;
  check_sweeps<CopySample, CopyKey>(
      run.copy, [](const CopySample& s) { return CopyKey{s.kind, s.pinned, s.src, s.dst}; },
      [](const CopySample& s) { return s.bytes; },
      [](const CopySample& s) { return "copy " + s.kind + (s.pinned ? "" : " (pageable)"); }, "bytes", diag);
  using CollKey = std::tuple<std::string, int>;
  check_sweeps<CollectiveSample, CollKey>(
      run.nccl, [](const CollectiveSample& s) { return CollKey{s.collective, s.ranks}; },
      [](const CollectiveSample& s) { return s.bytes; },
      [](const CollectiveSample& s) { return "nccl " + s.collective + " over " + std::to_string(s.ranks) + " ranks"; },
      "bytes", diag);

  if (errors() > errors_before) return std::nullopt;
  return run;
}

}  // namespace moesim::calibrate
