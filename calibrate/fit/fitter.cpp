#include "fitter.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "nelder_mead.hpp"
#include "units.hpp"

namespace moesim::calibrate {
namespace {

// Bandwidth samples count once they stream well past the L2 cache.
constexpr double kLargeOverL2 = 4.0;
constexpr double kLargeFallbackBytes = 256.0 * 1024 * 1024;
// A GEMM fit whose typical error exceeds this is reported (exp(0.2) - 1 = 22 %).
constexpr double kPoorFitRmsLog = 0.2;

// Driver-reported names -> catalog devices. Every listed word must appear (as a word of the
// name, case-insensitive), and none of the excluded ones: "H100 PCIe" or "H100 NVL" are other
// boards than the catalog's SXM part.
struct NameRule {
  std::vector<std::string> all;
  std::vector<std::string> none;
  const char* device;
};
const std::vector<NameRule> kNameRules{
    {{"H100"}, {"PCIE", "NVL"}, "h100-sxm"},
    {{"H800"}, {"PCIE", "NVL"}, "h800-sxm"},
    {{"H200"}, {"NVL"}, "h200-sxm"},
    {{"H20"}, {}, "h20"},
    {{"B200"}, {}, "b200"},
    {{"A100", "80GB"}, {"PCIE"}, "a100-sxm-80g"},
    {{"MI300X"}, {}, "mi300x"},
};

// The links a device usually sits on, for when the user does not name them.
struct DefaultLinks {
  const char* device;
  const char* scale_up;
  const char* host;
};
const std::vector<DefaultLinks> kDefaultLinks{
    {"h100-sxm", "nvlink4", "pcie-gen5"},   {"h200-sxm", "nvlink4", "pcie-gen5"},
    {"h800-sxm", "nvlink-h800", "pcie-gen5"}, {"h20", "nvlink4", "pcie-gen5"},
    {"b200", "nvlink5", "pcie-gen5"},       {"a100-sxm-80g", "nvlink3", ""},
    {"mi300x", "xgmi-mi300x", "pcie-gen5"},
};

std::vector<std::string> words_of(const std::string& name) {
  std::vector<std::string> out(1);
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out.back() += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else if (!out.back().empty()) {
      out.emplace_back();
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

// "did you mean" for a catalog name: one that contains it ("h100" -> "h100-sxm"), else the
// closest by edit distance.
std::string suggestion(const std::string& name, const std::vector<std::string>& choices) {
  for (const auto& c : choices) {
    if (!name.empty() && c.find(name) != std::string::npos) return c;
  }
  return closest_name(name, choices);
}

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

std::string fmt(double x, int digits = 4) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, x);
  return buf;
}

double sigmoid(double u) { return 1.0 / (1.0 + std::exp(-u)); }
double logit(double p) { return std::log(p / (1.0 - p)); }

double out_bytes(hw::DType dtype) {
  return dtype == hw::DType::fp32 || dtype == hw::DType::tf32 ? 4.0 : 2.0;
}

// ---- GEMM --------------------------------------------------------------------------------

struct Curve {
  double eff_max, m_half, mem_eff;
  double k_half = 0;  // 0: no dependence on the reduction depth

  double efficiency(double m, double k) const {
    const double e = eff_max * m / (m + m_half);
    return k_half > 0 ? e * k / (k + k_half) : e;
  }
};

// The roofline without launch overhead: what one timed GEMM kernel costs (docs/calibration.md).
double gemm_model(const Curve& c, double peak, double bw, hw::DType dtype, double m, double n, double k) {
  return std::max(2.0 * m * n * k / (peak * c.efficiency(m, k)), gemm_bytes(dtype, m, n, k) / (bw * c.mem_eff));
}

struct GemmFit {
  Curve curve;
  double rms = 0;
  int compute_bound = 0, memory_bound = 0;
};

// Least squares on log time over (eff_max, m_half, mem_eff) and, with `with_k`, k_half, searched
// in unconstrained coordinates (logit, log, logit, log) by Nelder-Mead from a few starting values.
GemmFit fit_gemm_curve(const std::vector<const GemmSample*>& s, double peak, double bw, bool with_k) {
  double eff0 = 0.05, mem0 = 0.05;
  for (const GemmSample* g : s) {
    eff0 = std::max(eff0, 2.0 * g->m * g->n * g->k / (g->seconds * peak));
    mem0 = std::max(mem0, gemm_bytes(g->dtype, g->m, g->n, g->k) / (g->seconds * bw));
  }
  eff0 = std::clamp(eff0, 0.05, 0.99);
  mem0 = std::clamp(mem0, 0.05, 0.99);
  auto unpack = [](const std::vector<double>& u) {
    Curve c{sigmoid(u[0]), std::exp(u[1]), sigmoid(u[2])};
    if (u.size() > 3) c.k_half = std::exp(u[3]);
    return c;
  };
  auto objective = [&](const std::vector<double>& u) {
    const Curve c = unpack(u);
    double sum = 0;
    for (const GemmSample* g : s) {
      const double r = std::log(gemm_model(c, peak, bw, g->dtype, g->m, g->n, g->k) / g->seconds);
      sum += r * r;
    }
    return std::isfinite(sum) ? sum : std::numeric_limits<double>::infinity();
  };
  Minimum best{{}, std::numeric_limits<double>::infinity(), 0};
  for (double m_half0 : {2.0, 16.0, 128.0, 1024.0}) {
    for (double k_half0 : {64.0, 512.0}) {
      std::vector<double> start{logit(eff0), std::log(m_half0), logit(mem0)};
      std::vector<double> step{0.3, 1.0, 0.3}, fine{0.05, 0.2, 0.05};
      if (with_k) {
        start.push_back(std::log(k_half0));
        step.push_back(1.0);
        fine.push_back(0.2);
      }
      Minimum m = nelder_mead(objective, start, step);
      m = nelder_mead(objective, m.x, fine);  // restart: escapes a collapsed simplex
      if (m.value < best.value) best = m;
      if (!with_k) break;
    }
  }
  GemmFit out;
  out.curve = unpack(best.x);
  out.rms = std::sqrt(best.value / static_cast<double>(s.size()));
  for (const GemmSample* g : s) {
    const double tc = 2.0 * g->m * g->n * g->k / (peak * out.curve.efficiency(g->m, g->k));
    const double tm = gemm_bytes(g->dtype, g->m, g->n, g->k) / (bw * out.curve.mem_eff);
    ++(tc >= tm ? out.compute_bound : out.memory_bound);
  }
  return out;
}

// The cost model's estimate of a grouped GEMM before its relative efficiency: one roofline over
// the experts that receive tokens, at the curve's efficiency for their mean rows.
double grouped_model(const Curve& c, double peak, double bw, const GroupedGemmSample& g) {
  double total = 0, active = 0;
  for (double t : g.tokens) {
    total += t;
    active += t > 0 ? 1 : 0;
  }
  const double rows = total / active;
  const double eff = c.efficiency(rows, g.k);
  const double flops = 2.0 * total * g.n * g.k;
  const double bytes = hw::dtype_bytes(g.dtype) * (total * g.k + active * g.n * g.k) + out_bytes(g.dtype) * total * g.n;
  return std::max(flops / (peak * eff), bytes / (bw * c.mem_eff));
}

void fit_gemms(const RawRun& run, const hw::Device& dev, hw::HwProfile& p, Diagnostics& diag) {
  std::map<hw::DType, std::vector<const GemmSample*>> by_dtype;
  for (const auto& g : run.gemm) by_dtype[g.dtype].push_back(&g);
  for (const auto& [dtype, samples] : by_dtype) {
    const std::string where = samples.front()->pointer;
    const auto peak = dev.peak(dtype);
    if (!peak) {
      diag.warning(where, "device '" + dev.name + "' has no " + hw::dtype_name(dtype) +
                              " peak in the catalog: its GEMM samples are not fitted");
      continue;
    }
    std::set<double> rows;
    for (const GemmSample* g : samples) rows.insert(g->m);
    if (samples.size() < 4 || rows.size() < 3) {
      diag.warning(where, "too few " + hw::dtype_name(dtype) + " GEMM samples to fit (" +
                              std::to_string(samples.size()) + " samples, " + std::to_string(rows.size()) +
                              " distinct m)", "a sweep needs at least 4 samples over 3 values of m");
      continue;
    }
    // The reduction depth enters the curve only where the samples span it (3 or more depths, a
    // factor 4 or more apart) and it removes at least 5% of the error left by rows alone.
    std::set<double> depths;
    for (const GemmSample* g : samples) depths.insert(g->k);
    GemmFit fit = fit_gemm_curve(samples, *peak, dev.memory_bandwidth, false);
    if (depths.size() >= 3 && *depths.rbegin() >= 4 * *depths.begin()) {
      const GemmFit with_k = fit_gemm_curve(samples, *peak, dev.memory_bandwidth, true);
      if (with_k.rms < 0.95 * fit.rms) fit = with_k;
    }
    hw::GemmCalibration cal;
    cal.eff_max = fit.curve.eff_max;
    cal.m_half = fit.curve.m_half;
    cal.k_half = fit.curve.k_half;
    cal.samples = static_cast<int>(samples.size());
    cal.rms_log_error = fit.rms;
    if (fit.memory_bound >= 2) {
      cal.memory_efficiency = fit.curve.mem_eff;
    } else {
      diag.warning(where, "fewer than 2 memory-bound " + hw::dtype_name(dtype) +
                              " GEMM samples: their bandwidth fraction is not fitted",
                   "add skinny shapes (m of 1 to 64) to the sweep");
    }
    if (fit.compute_bound < 3) {
      diag.warning(where, "fewer than 3 compute-bound " + hw::dtype_name(dtype) +
                              " GEMM samples: eff_max and m_half are poorly determined",
                   "add large shapes (m of 1024 and more) to the sweep");
    }
    if (fit.rms > kPoorFitRmsLog) {
      diag.warning(where, "the " + hw::dtype_name(dtype) + " GEMM curve fits poorly (typical error " +
                              fmt(100.0 * (std::exp(fit.rms) - 1.0), 3) + " %)",
                   "check for throttling or a shared GPU; the profile keeps the best fit");
    }
    // Grouped GEMMs of the same dtype: the dense curve's estimate over the measured time.
    std::vector<double> ratios;
    std::string grouped_where;
    for (const auto& g : run.grouped_gemm) {
      if (g.dtype != dtype) continue;
      const Curve c{cal.eff_max, cal.m_half, fit.curve.mem_eff, cal.k_half};
      ratios.push_back(grouped_model(c, *peak, dev.memory_bandwidth, g) / g.seconds);
      if (grouped_where.empty()) grouped_where = g.pointer;
    }
    if (!ratios.empty()) {
      const double rel = median(ratios);
      if (rel > 10.0 || rel < 1e-3) {
        diag.error(grouped_where, "grouped " + hw::dtype_name(dtype) + " GEMMs run " + fmt(1.0 / rel, 3) +
                                      "x the time the dense curve predicts: the samples are inconsistent");
      } else {
        cal.grouped_relative_efficiency = rel;
      }
    }
    p.gemm[dtype] = cal;
  }
  std::set<hw::DType> fitted;
  for (const auto& [dtype, c] : p.gemm) fitted.insert(dtype);
  for (const auto& g : run.grouped_gemm) {
    if (!fitted.contains(g.dtype)) {
      diag.warning(g.pointer, "grouped " + hw::dtype_name(g.dtype) +
                                  " GEMM samples need a dense GEMM sweep of the same dtype; they are not fitted");
      fitted.insert(g.dtype);  // say it once
    }
  }
}

// ---- memory, launch ----------------------------------------------------------------------

void fit_memory(const RawRun& run, const hw::Device& dev, hw::HwProfile& p, Diagnostics& diag) {
  std::map<std::string, std::vector<const MemorySample*>> by_op;
  for (const auto& m : run.memory) by_op[m.op].push_back(&m);
  for (const auto& [op, samples] : by_op) {
    double largest = 0;
    for (const MemorySample* m : samples) largest = std::max(largest, m->bytes);
    const double threshold =
        std::min(largest, run.l2_bytes ? kLargeOverL2 * *run.l2_bytes : kLargeFallbackBytes);
    std::vector<double> fractions;
    const MemorySample* fastest = nullptr;
    for (const MemorySample* m : samples) {
      if (m->bytes < threshold) continue;
      const double moved = op == "copy" ? 2.0 * m->bytes : m->bytes;
      fractions.push_back(moved / m->seconds / dev.memory_bandwidth);
      if (fastest == nullptr || m->bytes / m->seconds > fastest->bytes / fastest->seconds) fastest = m;
    }
    const double eff = median(fractions);
    if (eff > 1.0) {
      diag.error(fastest->pointer,
                 "memory " + op + " reaches " + format_quantity(eff * dev.memory_bandwidth, Dimension::bandwidth) +
                     ", above the catalog peak " + format_quantity(dev.memory_bandwidth, Dimension::bandwidth) +
                     " of '" + dev.name + "'",
                 "the samples come from another device variant (pass --device) or the buffers stayed in cache");
      continue;
    }
    if (op == "read") p.memory_efficiency = eff;
    if (op == "write") p.memory_write_efficiency = eff;
    if (op == "copy") p.memory_copy_efficiency = eff;
  }
}

void fit_launch(const RawRun& run, hw::HwProfile& p) {
  std::vector<double> b2b, sync;
  for (const auto& l : run.launch) (l.kind == "back_to_back" ? b2b : sync).push_back(l.seconds);
  if (!b2b.empty()) p.kernel_launch_s = median(b2b);
  if (!sync.empty()) p.launch_sync_s = median(sync);
}

// ---- links -------------------------------------------------------------------------------

// Median bandwidth of the largest transfers (within 4x of the largest size).
template <class Sample>
std::pair<double, const Sample*> large_bandwidth(const std::vector<const Sample*>& samples,
                                                 double (*bw_of)(const Sample&)) {
  double largest = 0;
  for (const Sample* s : samples) largest = std::max(largest, s->bytes);
  std::vector<double> bws;
  const Sample* first = nullptr;
  for (const Sample* s : samples) {
    if (s->bytes * 4 < largest) continue;
    bws.push_back(bw_of(*s));
    if (first == nullptr) first = s;
  }
  return {median(bws), first};
}

const hw::Link* resolve_link(const std::string& given, const char* fallback, const char* role,
                             Diagnostics& diag) {
  const auto& cat = hw::Catalog::builtin();
  const std::string name = given.empty() ? std::string(fallback ? fallback : "") : given;
  if (name.empty()) return nullptr;
  const hw::Link* l = cat.find_link(name);
  if (l == nullptr) {
    std::string hint = "valid: " + join_names(cat.link_names());
    if (auto near = suggestion(name, cat.link_names()); !near.empty()) hint = "did you mean '" + near + "'? " + hint;
    diag.error("", "unknown " + std::string(role) + " link '" + name + "' (--" + role + "-link)", hint);
  }
  return l;
}

void set_link(hw::HwProfile& p, const hw::Link& link, double bw, const std::string& method,
              const std::string& where, Diagnostics& diag) {
  double eff = bw / link.bandwidth;
  if (eff > 1.0) {
    diag.warning(where, method + " measured " + format_quantity(bw, Dimension::bandwidth) + ", above the nominal " +
                            format_quantity(link.bandwidth, Dimension::bandwidth) + " of '" + link.name +
                            "'; its efficiency is capped at 1",
                 "in-switch reduction (NVLS) or a wrong --scale-up-link");
    eff = 1.0;
  }
  p.links[link.name] = hw::LinkCalibration{eff, bw, method};
}

double a2a_busbw(const CollectiveSample& s) { return s.bytes / s.seconds * (s.ranks - 1) / s.ranks; }
double allreduce_busbw(const CollectiveSample& s) { return s.bytes / s.seconds * 2.0 * (s.ranks - 1) / s.ranks; }
double copy_bw(const CopySample& s) { return s.bytes / s.seconds; }

void fit_links(const RawRun& run, const hw::Device& dev, const FitOptions& opt, hw::HwProfile& p,
               Diagnostics& diag) {
  const DefaultLinks* defaults = nullptr;
  for (const auto& d : kDefaultLinks) {
    if (dev.name == d.device) defaults = &d;
  }
  std::vector<const CollectiveSample*> a2a, ar;
  for (const auto& s : run.nccl) (s.collective == "all_to_all" ? a2a : ar).push_back(&s);
  std::vector<const CopySample*> p2p, h2d, d2h;
  for (const auto& s : run.copy) {
    if (s.kind == "p2p") p2p.push_back(&s);
    if (s.kind == "h2d" && s.pinned) h2d.push_back(&s);
    if (s.kind == "d2h" && s.pinned) d2h.push_back(&s);
  }
  if (!a2a.empty() || !ar.empty() || !p2p.empty()) {
    const hw::Link* link = resolve_link(opt.scale_up_link, defaults ? defaults->scale_up : nullptr, "scale-up", diag);
    if (link == nullptr && opt.scale_up_link.empty()) {
      diag.warning("/benchmarks", "device-to-device samples are present, but '" + dev.name +
                                      "' has no usual scale-up link: they are not fitted",
                   "name the link with --scale-up-link");
    } else if (link != nullptr) {
      // All-to-all is what dispatch and combine do; all-reduce and copies stand in without it.
      if (!a2a.empty()) {
        auto [bw, s] = large_bandwidth<CollectiveSample>(a2a, a2a_busbw);
        set_link(p, *link, bw, "nccl all_to_all bus bandwidth", s->pointer, diag);
      } else if (!ar.empty()) {
        auto [bw, s] = large_bandwidth<CollectiveSample>(ar, allreduce_busbw);
        set_link(p, *link, bw, "nccl all_reduce bus bandwidth", s->pointer, diag);
      } else {
        auto [bw, s] = large_bandwidth<CopySample>(p2p, copy_bw);
        set_link(p, *link, bw, "peer-to-peer copy bandwidth", s->pointer, diag);
      }
    }
  }
  if (!h2d.empty() || !d2h.empty()) {
    const hw::Link* link = resolve_link(opt.host_link, defaults ? defaults->host : nullptr, "host", diag);
    if (link == nullptr && opt.host_link.empty()) {
      diag.warning("/benchmarks/copy", "'" + dev.name + "' has no usual host link in the catalog: host copies are not fitted",
                   "name the link with --host-link");
    } else if (link != nullptr) {
      std::vector<double> bws;
      std::string where;
      for (const auto* dir : {&h2d, &d2h}) {
        if (dir->empty()) continue;
        auto [bw, s] = large_bandwidth<CopySample>(*dir, copy_bw);
        bws.push_back(bw);
        if (where.empty()) where = s->pointer;
      }
      double mean = 0;
      for (double b : bws) mean += b / static_cast<double>(bws.size());
      set_link(p, *link, mean, "pinned host<->device copy bandwidth", where, diag);
    }
  }
}

// ---- power -------------------------------------------------------------------------------

void fit_power(const RawRun& run, hw::HwProfile& p) {
  std::vector<double> idle;
  for (const auto& s : run.power) {
    if (s.kind == "idle") {
      idle.push_back(s.power_w);
      continue;
    }
    hw::PowerState st;
    st.limit_w = s.limit_w;
    st.power_w = s.power_w;
    st.sm_clock_hz = s.sm_clock_hz;
    st.mem_clock_hz = s.mem_clock_hz;
    st.gemm_flops = s.gemm_flops;
    p.power_states.push_back(st);
  }
  if (!idle.empty()) p.idle_power_w = median(idle);
  std::sort(p.power_states.begin(), p.power_states.end(),
            [](const hw::PowerState& a, const hw::PowerState& b) { return a.limit_w > b.limit_w; });
}

}  // namespace

std::string catalog_device_for(const std::string& driver_name) {
  const auto words = words_of(driver_name);
  auto has = [&](const std::string& w) { return std::find(words.begin(), words.end(), w) != words.end(); };
  for (const NameRule& r : kNameRules) {
    if (std::all_of(r.all.begin(), r.all.end(), has) && std::none_of(r.none.begin(), r.none.end(), has)) {
      return r.device;
    }
  }
  return "";
}

double gemm_bytes(hw::DType dtype, double m, double n, double k) {
  return hw::dtype_bytes(dtype) * (m * k + n * k) + out_bytes(dtype) * m * n;
}

std::optional<hw::HwProfile> fit_profile(const RawRun& run, const FitOptions& opt, Diagnostics& diag) {
  const auto& cat = hw::Catalog::builtin();
  std::string name = opt.device;
  if (name.empty()) {
    name = catalog_device_for(run.device_name);
    if (name.empty()) {
      diag.error("/device/name", "unknown device '" + run.device_name + "': no catalog device matches it",
                 "pass --device with one of: " + join_names(cat.device_names()) +
                     " (only if it is the same board), or add the device to hwmodels/data/devices.json");
      return std::nullopt;
    }
  }
  const hw::Device* dev = cat.find_device(name);
  if (dev == nullptr) {
    std::string hint = "valid: " + join_names(cat.device_names());
    if (auto near = suggestion(name, cat.device_names()); !near.empty()) hint = "did you mean '" + near + "'? " + hint;
    diag.error("", "unknown device '" + name + "' (--device)", hint);
    return std::nullopt;
  }
  const std::size_t before = diag.problems().size();
  hw::HwProfile p;
  p.device = dev->name;
  p.measured_name = run.device_name;
  p.driver = run.driver;
  p.measured_at = run.started;
  p.raw_file = opt.raw_file;
  p.tool = run.tool;
  fit_gemms(run, *dev, p, diag);
  fit_memory(run, *dev, p, diag);
  fit_launch(run, p);
  fit_links(run, *dev, opt, p, diag);
  fit_power(run, p);
  for (std::size_t i = before; i < diag.problems().size(); ++i) {
    if (diag.problems()[i].severity == Problem::Severity::error) return std::nullopt;
  }
  // How sure each fitted section is (docs/uncertainty.md): a GEMM curve by its residual over the
  // samples, the rest by the suite's repeat medians.
  for (const std::string& section : hw::profile_sections(p)) {
    p.uncertainty[section] = {hw::UncertaintyClass::measured, 0.05, "measured by moesim-calibrate (medians of repeats)"};
  }
  for (const auto& [dtype, g] : p.gemm) {
    p.uncertainty["gemm." + hw::dtype_name(dtype)] = {
        hw::UncertaintyClass::measured, std::clamp(std::exp(g.rms_log_error) - 1.0, 0.02, 1.0),
        "measured; the spread is the fit's rms error over its samples"};
  }
  if (p.gemm.empty()) {
    diag.warning("/benchmarks/gemm", "no GEMM curve was fitted: the profile keeps the catalog's matmul efficiencies");
  }
  return p;
}

std::optional<hw::HwProfile> fit_profile(const nlohmann::json& raw, const FitOptions& opt, Diagnostics& diag) {
  auto run = read_raw_run(raw, diag);
  if (!run) return std::nullopt;
  return fit_profile(*run, opt, diag);
}

std::string fit_summary(const hw::HwProfile& p) {
  const hw::Device* dev = hw::Catalog::builtin().find_device(p.device);
  std::string out = "hardware profile for " + p.device + " (measured on '" + p.measured_name + "')\n";
  auto row = [&](const std::string& what, const std::string& catalog, const std::string& measured) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-40s %14s %14s\n", what.c_str(), catalog.c_str(), measured.c_str());
    out += buf;
  };
  row("parameter", "catalog", "profile");
  for (const auto& [dtype, c] : p.gemm) {
    const std::string d = hw::dtype_name(dtype);
    row("gemm " + d + " eff_max", dev ? fmt(dev->matmul_efficiency(dtype), 3) : "-", fmt(c.eff_max, 3));
    row("gemm " + d + " m_half (rows)", "-", fmt(c.m_half, 4));
    if (c.k_half > 0) row("gemm " + d + " k_half (depth)", "-", fmt(c.k_half, 4));
    row("gemm " + d + " eff at 16 / 128 / 1024 rows", "-",
        fmt(c.efficiency(16), 2) + "/" + fmt(c.efficiency(128), 2) + "/" + fmt(c.efficiency(1024), 2));
    row("gemm " + d + " memory-bound bandwidth frac.", dev ? fmt(dev->memory_efficiency, 3) : "-",
        c.memory_efficiency ? fmt(*c.memory_efficiency, 3) : "-");
    row("gemm " + d + " grouped relative eff.", "1", c.grouped_relative_efficiency ? fmt(*c.grouped_relative_efficiency, 3) : "-");
    row("gemm " + d + " fit: samples, rms error", "-",
        std::to_string(c.samples) + ", " + fmt(100.0 * (std::exp(c.rms_log_error) - 1.0), 2) + "%");
  }
  if (p.memory_efficiency) row("memory read efficiency", dev ? fmt(dev->memory_efficiency, 3) : "-", fmt(*p.memory_efficiency, 3));
  if (p.memory_write_efficiency) row("memory write efficiency", "-", fmt(*p.memory_write_efficiency, 3));
  if (p.memory_copy_efficiency) row("memory copy efficiency", "-", fmt(*p.memory_copy_efficiency, 3));
  if (p.kernel_launch_s) {
    row("kernel launch", dev ? format_quantity(dev->kernel_launch_s, Dimension::time) : "-",
        format_quantity(*p.kernel_launch_s, Dimension::time));
  }
  if (p.launch_sync_s) row("launch + sync round trip", "-", format_quantity(*p.launch_sync_s, Dimension::time));
  for (const auto& [name, l] : p.links) {
    const hw::Link* link = hw::Catalog::builtin().find_link(name);
    row("link " + name + " efficiency", link ? fmt(link->efficiency, 3) : "-", fmt(l.efficiency, 3));
  }
  if (p.idle_power_w) row("idle power", dev ? format_quantity(dev->idle_w, Dimension::power) : "-", format_quantity(*p.idle_power_w, Dimension::power));
  for (const auto& s : p.power_states) {
    row("power at limit " + format_quantity(s.limit_w, Dimension::power), "-",
        format_quantity(s.power_w, Dimension::power) +
            (s.sm_clock_hz ? " @" + format_quantity(*s.sm_clock_hz, Dimension::frequency) : std::string()));
  }
  return out;
}

}  // namespace moesim::calibrate
