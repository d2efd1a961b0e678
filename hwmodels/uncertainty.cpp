#include "uncertainty.hpp"

#include <cmath>

#include "catalog.hpp"
#include "engines.hpp"
#include "hw_profile.hpp"

namespace moesim::hw {
namespace {

constexpr const char* kClassNames[] = {"measured", "derived", "transferred", "assumed"};

double factor_of(const std::map<std::string, double>& factor, const std::string& key) {
  auto it = factor.find(key);
  return it == factor.end() ? 1.0 : it->second;
}

void scale_engine(ComputeEngine& e, double peak, double efficiency) {
  for (auto& [dt, v] : e.peak_flops) v *= peak;
  for (auto& [dt, v] : e.matmul_efficiency) v *= efficiency;
}

}  // namespace

std::optional<UncertaintyClass> uncertainty_class_from_name(const std::string& name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kClassNames[i]) return static_cast<UncertaintyClass>(i);
  }
  return std::nullopt;
}

std::string uncertainty_class_name(UncertaintyClass c) { return kClassNames[static_cast<int>(c)]; }

std::vector<std::string> uncertainty_class_names() { return {std::begin(kClassNames), std::end(kClassNames)}; }

bool is_structural_figure(const std::string& key) {
  return key == "architecture" || key == "max_domain" || key == "engines";
}

void read_uncertainty(ObjectReader& item, const std::vector<std::string>& keys,
                      std::map<std::string, Uncertainty>& out) {
  std::vector<std::string> wanted;
  for (const auto& k : keys) {
    if (!is_structural_figure(k)) wanted.push_back(k);
  }
  ObjectReader u = item.object("uncertainty", !wanted.empty());
  if (!u.valid()) return;
  for (const auto& key : wanted) {
    if (!u.has(key)) {
      u.diagnostics().error(u.pointer_to(key), "figure '" + key + "' has no uncertainty",
                            "give {\"class\": one of " + join_names(uncertainty_class_names()) +
                                ", \"spread\": a relative spread in (0, 1]}");
      continue;
    }
    ObjectReader e = u.object(key);
    Uncertainty x;
    if (auto c = e.choice("class", uncertainty_class_names(), true)) x.cls = *uncertainty_class_from_name(*c);
    const auto spread = e.number("spread", true);
    if (spread && (*spread <= 0 || *spread > 1)) {
      e.diagnostics().error(e.pointer_to("spread"), "a spread must be in (0, 1]",
                            "a relative spread, e.g. 0.05 for +-5%");
    } else if (spread) {
      x.spread = *spread;
    }
    x.why = e.string("why").value_or("");
    e.finish();
    if (x.spread > 0) out[key] = x;
  }
  u.finish();
}

nlohmann::json uncertainty_to_json(const std::map<std::string, Uncertainty>& u) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, x] : u) {
    nlohmann::json e{{"class", uncertainty_class_name(x.cls)}, {"spread", x.spread}};
    if (!x.why.empty()) e["why"] = x.why;
    j[key] = e;
  }
  return j;
}

Device scaled(const Device& d, const std::map<std::string, double>& f) {
  Device s = d;
  const double peak = factor_of(f, "peak"), eff = factor_of(f, "matmul_efficiency");
  scale_engine(s.compute, peak, eff);
  for (auto& [name, e] : s.engines) scale_engine(e, peak, eff);
  s.memory_bandwidth *= factor_of(f, "memory");
  const double power = factor_of(f, "power");
  s.tdp_w *= power;
  s.idle_w *= power;
  for (auto& p : s.pstates) p.busy_w *= power;
  if (s.active_idle_w) *s.active_idle_w *= power;
  s.kernel_launch_s *= factor_of(f, "kernel_launch");
  if (s.price_per_hour) *s.price_per_hour *= factor_of(f, "price_per_hour");
  if (s.flash_read_bandwidth) *s.flash_read_bandwidth *= factor_of(f, "flash");
  const double radio = factor_of(f, "radio");
  if (s.radio_tx_w) *s.radio_tx_w *= radio;
  if (s.radio_rx_w) *s.radio_rx_w *= radio;
  return s;
}

Link scaled(const Link& l, const std::map<std::string, double>& f) {
  Link s = l;
  s.bandwidth *= factor_of(f, "bandwidth");
  s.efficiency *= factor_of(f, "efficiency");
  s.latency_s *= factor_of(f, "latency");
  if (s.message_efficiency) *s.message_efficiency *= factor_of(f, "message_efficiency");
  s.message_overhead_s *= factor_of(f, "message_overhead");
  return s;
}

EngineProfile scaled(const EngineProfile& e, const std::map<std::string, double>& f) {
  EngineProfile s = e;
  if (s.memory_efficiency) *s.memory_efficiency *= factor_of(f, "memory_efficiency");
  s.layer_overhead_s *= factor_of(f, "layer_overhead");
  s.step_overhead_s *= factor_of(f, "step_overhead");
  s.sequence_overhead_s *= factor_of(f, "sequence_overhead");
  return s;
}

HwProfile scaled(const HwProfile& p, const std::map<std::string, double>& f) {
  HwProfile s = p;
  for (auto& [dt, g] : s.gemm) {
    const double x = factor_of(f, "gemm." + dtype_name(dt));
    g.eff_max *= x;
    if (g.memory_efficiency) *g.memory_efficiency *= x;
  }
  if (s.memory_efficiency) *s.memory_efficiency *= factor_of(f, "memory");
  if (s.kernel_launch_s) *s.kernel_launch_s *= factor_of(f, "launch");
  for (auto& [name, l] : s.links) l.efficiency *= factor_of(f, "links." + name);
  for (auto& [name, c] : s.kernel_classes) {
    const double x = factor_of(f, "kernel_classes." + name);
    if (c.bandwidth_efficiency) *c.bandwidth_efficiency *= x;
    if (c.compute_efficiency) *c.compute_efficiency *= x;
    if (c.overlapped_sm_fraction) *c.overlapped_sm_fraction = std::min(1.0, *c.overlapped_sm_fraction * x);
  }
  const double power = factor_of(f, "power");
  if (s.idle_power_w) *s.idle_power_w *= power;
  for (auto& st : s.power_states) st.power_w *= power;
  return s;
}

}  // namespace moesim::hw
