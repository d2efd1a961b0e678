#include "compare_trace.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "step/step.hpp"
#include "workloads/workloads.hpp"

namespace moesim::tools {
namespace {

using calibrate::KernelClass;

// The trace classes moesim predicts, each with the phases that do its work. The router GEMM is a
// GEMM in the trace's rules, so `gate` counts there; `loss` (training's cross-entropy) is
// elementwise work.
struct ClassMap {
  KernelClass trace;
  std::vector<sim::Phase> phases;
  const char* profile_class;  // the profile's kernel class it calibrates ("" for none)
};

const std::vector<ClassMap>& class_map() {
  using P = sim::Phase;
  using K = KernelClass;
  static const std::vector<ClassMap> map{
      {K::gemm, {P::attention_proj, P::gate, P::shared_expert, P::dense_mlp, P::lm_head}, ""},
      {K::grouped_gemm, {P::experts}, ""},
      {K::attention_fwd, {P::attention}, ""},
      {K::rmsnorm, {P::rmsnorm}, "rmsnorm"},
      {K::rotary, {P::rotary}, "rotary"},
      {K::activation, {P::activation}, "activation"},
      {K::router, {P::router}, "router"},
      {K::permute_unpermute, {P::permute_unpermute}, "permute_unpermute"},
      {K::cast_transpose, {P::cast_transpose}, "cast_transpose"},
      {K::kv_cache_write, {P::kv_write}, "kv_write"},
      {K::sampling, {P::sampling}, "sampling"},
      {K::elementwise, {P::residual, P::loss}, "residual"},
  };
  return map;
}

bool is_moe_layer(const sim::ModelConfig& m, int layer) {
  return layer >= 0 && layer < m.num_layers && m.layers[static_cast<std::size_t>(layer)].moe;
}

double relative(double predicted, double measured) { return measured > 0 ? predicted / measured - 1 : 0; }

std::string ms(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", s * 1e3);
  return b;
}

std::string pct(double predicted, double measured) {
  if (measured <= 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100 * relative(predicted, measured));
  return b;
}

}  // namespace

std::expected<TraceComparison, std::string> compare_trace(const sim::Scenario& s, const calibrate::TraceSummary& trace,
                                                           int layers) {
  const sim::ModelConfig& m = s.model.config;
  if (!m.is_moe()) return std::unexpected("model '" + m.name + "' has no MoE layer: the comparison is per MoE layer");
  TraceComparison out;
  out.has_backward = s.workload.kind == sim::WorkloadKind::training;
  if (out.has_backward && !trace.has_phases) {
    return std::unexpected(
        "the trace has no forward/backward annotations ((F)/(B)/(W) or forward/backward user annotations), "
        "so a training scenario cannot be compared pass by pass");
  }
  out.layers = layers;
  if (out.layers <= 0) {
    out.layers = static_cast<int>(trace.classes[static_cast<std::size_t>(KernelClass::attention_fwd)].kernels);
    out.layers_from_trace = true;
    if (out.layers <= 0) {
      return std::unexpected("the trace has no forward attention kernel to count its layers by: give --layers N");
    }
  }

  // One forward step: a training micro-batch's forward pass, else the scenario's own step.
  const sim::Deployment d = sim::resolve_deployment(s);
  const sim::DeploymentStep step = out.has_backward ? sim::training_forward_step(d, s.workload.training)
                                                    : sim::build_step(d, sim::step_shape_of(s.workload),
                                                                      sim::TrafficDetail::port_sums);
  const sim::Timeline tl = sim::evaluate_analytic(step.graph);
  // Per-phase time and bytes on one device, summed over the MoE layers, then scaled to `layers`.
  std::vector<double> phase_s(sim::kNumPhases, 0.0), phase_bytes(sim::kNumPhases, 0.0), phase_flops(sim::kNumPhases, 0.0);
  double comm_s = 0;
  for (std::size_t i = 0; i < step.graph.tasks.size(); ++i) {
    const sim::Task& t = step.graph.tasks[i];
    if (!is_moe_layer(m, t.layer)) continue;
    if (t.is_collective()) {
      if (t.phase == sim::Phase::dispatch || t.phase == sim::Phase::combine) comm_s += tl.finish[i] - tl.start[i];
      continue;
    }
    if (t.device != 0) continue;  // the first stage's devices (all do the same)
    phase_s[static_cast<std::size_t>(t.phase)] += t.seconds;
    phase_bytes[static_cast<std::size_t>(t.phase)] += t.bytes;
    phase_flops[static_cast<std::size_t>(t.phase)] += t.flops;
  }
  const double scale = static_cast<double>(out.layers) / m.num_moe_layers();
  // moesim prices the backward pass phase by phase (sim::backward_factor, docs/training.md).
  for (const ClassMap& cm : class_map()) {
    ClassComparison c;
    c.trace_class = calibrate::kernel_class_name(cm.trace);
    for (sim::Phase p : cm.phases) {
      c.phases.emplace_back(sim::phase_name(p));
      const double fwd = phase_s[static_cast<std::size_t>(p)] * scale;
      c.predicted_forward_s += fwd;
      if (out.has_backward && p != sim::Phase::attention) c.predicted_backward_s += sim::backward_factor(p, d.hw_profile.get()) * fwd;
      c.forward_bytes += phase_bytes[static_cast<std::size_t>(p)] * scale;
      c.forward_flops += phase_flops[static_cast<std::size_t>(p)] * scale;
    }
    const calibrate::ClassTotals& t = trace.classes[static_cast<std::size_t>(cm.trace)];
    c.measured_forward_s = trace.has_phases ? t.forward_s : t.seconds;
    c.measured_backward_s = out.has_backward ? t.backward_s : 0.0;
    out.classes.push_back(c);
  }
  // The trace's backward-only classes: weight-gradient GEMMs and attention backward; then the
  // GEMMs of both passes together (a summary row, not counted in the totals).
  std::size_t summary_rows = 0;
  if (out.has_backward) {
    const auto& wgrad = trace.classes[static_cast<std::size_t>(KernelClass::wgrad_gemm)];
    ClassComparison w;
    w.trace_class = "wgrad_gemm";
    w.measured_backward_s = wgrad.backward_s;
    out.classes.push_back(w);
    out.notes.emplace_back("the GEMM rows' predicted backward holds both the data and the weight gradient; the trace "
                           "puts the weight-gradient GEMMs its rules tell apart in wgrad_gemm, so compare the three "
                           "GEMM rows' backward together (all_gemms)");
    ClassComparison ab;
    ab.trace_class = "attention_bwd";
    ab.phases = {"attention"};
    ab.measured_backward_s = trace.classes[static_cast<std::size_t>(KernelClass::attention_bwd)].backward_s;
    ab.predicted_backward_s = sim::backward_factor(sim::Phase::attention, d.hw_profile.get()) * out.classes[2].predicted_forward_s;
    out.classes.push_back(ab);
    ClassComparison all;
    all.trace_class = "all_gemms";
    all.phases = {"gemm + grouped_gemm + wgrad_gemm rows"};
    for (const ClassComparison& k : out.classes) {
      if (k.trace_class != "gemm" && k.trace_class != "grouped_gemm" && k.trace_class != "wgrad_gemm") continue;
      all.measured_forward_s += k.measured_forward_s;
      all.predicted_forward_s += k.predicted_forward_s;
      all.measured_backward_s += k.measured_backward_s;
      all.predicted_backward_s += k.predicted_backward_s;
    }
    summary_rows = 1;
    out.classes.push_back(all);
  }
  for (std::size_t i = 0; i + summary_rows < out.classes.size(); ++i) {
    out.predicted_compute_s += out.classes[i].predicted_forward_s + out.classes[i].predicted_backward_s;
  }
  for (int k = 0; k < calibrate::kNumKernelClasses; ++k) {
    const auto kc = static_cast<KernelClass>(k);
    const calibrate::ClassTotals& t = trace.classes[static_cast<std::size_t>(k)];
    double measured = t.seconds;                                // no pass split: everything
    if (out.has_backward) measured = t.forward_s + t.backward_s;  // both passes
    else if (trace.has_phases) measured = t.forward_s;            // one forward step
    if (kc == KernelClass::all_to_all) {
      out.measured_communication_s += measured;
    } else if (kc != KernelClass::collective) {
      out.measured_compute_s += measured;
    }
  }
  out.predicted_communication_s = comm_s * scale * (out.has_backward ? 2.0 : 1.0);
  const double other = trace.classes[static_cast<std::size_t>(KernelClass::other)].seconds;
  if (other > 0) {
    out.notes.push_back(ms(other) + " ms of the trace's kernels matched no rule (class other): in the measured "
                        "compute total, in no class row");
  }
  out.notes.push_back("predicted: moesim's kernel time on one device over " + std::to_string(out.layers) +
                      " MoE layers (the mean of the model's " + std::to_string(m.num_moe_layers()) +
                      "), without launch gaps between kernels of other streams; measured: the trace's kernel time");
  return out;
}

nlohmann::json trace_comparison_to_json(const TraceComparison& c) {
  nlohmann::json j;
  j["layers"] = c.layers;
  j["layers_from_trace"] = c.layers_from_trace;
  j["backward_compared"] = c.has_backward;
  j["classes"] = nlohmann::json::array();
  for (const ClassComparison& k : c.classes) {
    nlohmann::json e{{"class", k.trace_class}, {"phases", k.phases},
                     {"forward_s", {{"measured", k.measured_forward_s}, {"predicted", k.predicted_forward_s}}}};
    if (k.measured_forward_s > 0) e["forward_s"]["error"] = relative(k.predicted_forward_s, k.measured_forward_s);
    if (c.has_backward) {
      e["backward_s"] = {{"measured", k.measured_backward_s}, {"predicted", k.predicted_backward_s}};
      if (k.measured_backward_s > 0) e["backward_s"]["error"] = relative(k.predicted_backward_s, k.measured_backward_s);
    }
    e["forward_bytes"] = k.forward_bytes;
    j["classes"].push_back(e);
  }
  j["compute_s"] = {{"measured", c.measured_compute_s}, {"predicted", c.predicted_compute_s},
                    {"error", relative(c.predicted_compute_s, c.measured_compute_s)}};
  j["all_to_all_s"] = {{"measured", c.measured_communication_s}, {"predicted", c.predicted_communication_s}};
  j["notes"] = c.notes;
  return j;
}

std::string trace_comparison_table(const TraceComparison& c) {
  std::ostringstream o;
  o << "  " << c.layers << " MoE layers" << (c.layers_from_trace ? " (counted from the trace's forward attention kernels)" : "")
    << "\n";
  o << "  class                forward ms: measured  predicted  error";
  if (c.has_backward) o << "   backward ms: measured  predicted  error";
  o << "\n";
  for (const ClassComparison& k : c.classes) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-20s %21s %10s %6s", k.trace_class.c_str(), ms(k.measured_forward_s).c_str(),
                  ms(k.predicted_forward_s).c_str(), pct(k.predicted_forward_s, k.measured_forward_s).c_str());
    o << line;
    if (c.has_backward) {
      std::snprintf(line, sizeof line, " %22s %10s %6s", ms(k.measured_backward_s).c_str(),
                    ms(k.predicted_backward_s).c_str(), pct(k.predicted_backward_s, k.measured_backward_s).c_str());
      o << line;
    }
    o << "\n";
  }
  o << "  compute kernels: measured " << ms(c.measured_compute_s) << " ms, predicted " << ms(c.predicted_compute_s)
    << " ms (" << pct(c.predicted_compute_s, c.measured_compute_s) << ")\n";
  o << "  all-to-all (its own stream, overlapped in the trace): measured " << ms(c.measured_communication_s)
    << " ms, predicted " << ms(c.predicted_communication_s) << " ms\n";
  for (const std::string& n : c.notes) o << "  note: " << n << "\n";
  return o.str();
}

std::map<std::string, hw::KernelClassCalibration> implied_class_calibration(const TraceComparison& c,
                                                                          double peak_bandwidth, double bf16_peak,
                                                                          const std::string& source) {
  std::map<std::string, hw::KernelClassCalibration> out;
  auto row = [&](const std::string& trace_class) -> const ClassComparison* {
    for (const ClassComparison& k : c.classes) {
      if (k.trace_class == trace_class) return &k;
    }
    return nullptr;
  };
  for (const ClassMap& cm : class_map()) {
    if (*cm.profile_class == '\0') continue;
    const ClassComparison* k = row(calibrate::kernel_class_name(cm.trace));
    if (k == nullptr || k->measured_forward_s <= 0 || k->forward_bytes <= 0 || peak_bandwidth <= 0) continue;
    hw::KernelClassCalibration& cal = out[cm.profile_class];
    cal.bandwidth_efficiency = std::min(1.0, k->forward_bytes / k->measured_forward_s / peak_bandwidth);
    if (c.has_backward && k->measured_backward_s > 0) cal.backward_ratio = k->measured_backward_s / k->measured_forward_s;
    cal.source = source;
  }
  const ClassComparison* fwd = row("attention_fwd");
  if (fwd != nullptr && fwd->measured_forward_s > 0 && fwd->forward_flops > 0 && bf16_peak > 0) {
    hw::KernelClassCalibration& cal = out["attention"];
    cal.compute_efficiency = std::min(1.0, fwd->forward_flops / fwd->measured_forward_s / bf16_peak);
    const ClassComparison* bwd = row("attention_bwd");
    if (bwd != nullptr && bwd->measured_backward_s > 0) cal.backward_ratio = bwd->measured_backward_s / fwd->measured_forward_s;
    cal.source = source;
  }
  const ClassComparison* gemms = row("all_gemms");
  if (gemms != nullptr && gemms->measured_forward_s > 0 && gemms->measured_backward_s > 0) {
    hw::KernelClassCalibration& cal = out["gemm"];
    cal.backward_ratio = gemms->measured_backward_s / gemms->measured_forward_s;
    cal.source = source;
  }
  return out;
}

}  // namespace moesim::tools
