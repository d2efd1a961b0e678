#include "hw_profile.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "json_reader.hpp"

namespace moesim::hw {
namespace {

constexpr const char* kFormat = "moesim-hw-profile";
constexpr long long kVersion = 1;

// A dimensioned literal in a fixed unit that parse_quantity reads back exactly enough
// (9 significant digits).
std::string literal(double value, double scale, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g%s", value / scale, unit);
  return buf;
}

// An efficiency: a fraction in (0, 1].
std::optional<double> read_fraction(ObjectReader& r, const std::string& key, bool required = false) {
  auto v = r.number(key, required, 0.0, 1.0);
  if (v && *v <= 0) {
    r.diagnostics().error(r.pointer_to(key), "an efficiency must be above 0", "a fraction in (0, 1]");
    return std::nullopt;
  }
  return v;
}

// Keys are dtype names; finish() reports any other key with the valid ones.
void read_gemm(ObjectReader g, HwProfile& p) {
  if (!g.valid()) return;
  for (const std::string& name : dtype_names()) {
    if (!g.has(name)) continue;
    ObjectReader c = g.object(name);
    GemmCalibration cal;
    auto eff = read_fraction(c, "eff_max", true);
    auto half = c.number("m_half", true, 0.0, 1e9);
    cal.memory_efficiency = read_fraction(c, "memory_efficiency");
    cal.grouped_relative_efficiency = c.number("grouped_relative_efficiency", false, 1e-3, 10.0);
    cal.samples = static_cast<int>(c.integer("samples", false, 0, 1 << 30).value_or(0));
    cal.rms_log_error = c.number("rms_log_error", false, 0.0).value_or(0.0);
    c.finish();
    if (eff && half) {
      cal.eff_max = *eff;
      cal.m_half = *half;
      p.gemm[*dtype_from_name(name)] = cal;
    }
  }
  g.finish();
}

// Keys are catalog link names; finish() reports any other key with the valid ones.
void read_links(ObjectReader l, HwProfile& p) {
  if (!l.valid()) return;
  const auto& cat = Catalog::builtin();
  for (const std::string& name : cat.link_names()) {
    if (!l.has(name)) continue;
    ObjectReader c = l.object(name);
    LinkCalibration cal;
    auto eff = read_fraction(c, "efficiency", true);
    cal.measured_bandwidth = c.quantity("measured_bandwidth", Dimension::bandwidth);
    cal.method = c.string("method").value_or("");
    c.finish();
    if (eff) {
      cal.efficiency = *eff;
      p.links[name] = cal;
    }
  }
  l.finish();
}

void read_power(ObjectReader pw, HwProfile& p, Diagnostics& diag) {
  if (!pw.valid()) return;
  p.idle_power_w = pw.quantity("idle", Dimension::power);
  if (const nlohmann::json* states = pw.raw("states")) {
    if (!states->is_array()) {
      diag.error(pw.pointer_to("states"), "expected an array, got " + json_type_name(*states));
    } else {
      for (std::size_t i = 0; i < states->size(); ++i) {
        ObjectReader s((*states)[i], pw.pointer_to("states") + "/" + std::to_string(i), diag);
        PowerState st;
        auto limit = s.quantity("limit", Dimension::power, true);
        auto power = s.quantity("power", Dimension::power, true);
        st.sm_clock_hz = s.quantity("sm_clock", Dimension::frequency);
        st.mem_clock_hz = s.quantity("mem_clock", Dimension::frequency);
        st.gemm_flops = s.quantity("gemm_rate", Dimension::flop_rate);
        s.finish();
        if (limit && power) {
          st.limit_w = *limit;
          st.power_w = *power;
          p.power_states.push_back(st);
        }
      }
    }
  }
  pw.finish();
}

}  // namespace

const GemmCalibration* HwProfile::gemm_for(DType dtype) const {
  auto it = gemm.find(dtype);
  return it == gemm.end() ? nullptr : &it->second;
}

double HwProfile::link_efficiency(const Link& link) const {
  auto it = links.find(link.name);
  return it == links.end() ? link.efficiency : it->second.efficiency;
}

std::optional<HwProfile> hw_profile_from_json(const nlohmann::json& doc, Diagnostics& diag) {
  const auto errors = [&] { return diag.error_count(); };
  const auto errors_before = errors();
  ObjectReader top(doc, "", diag);
  if (!top.valid()) return std::nullopt;
  HwProfile p;
  if (auto f = top.string("format", true); f && *f != kFormat) {
    diag.error("/format", "not a moesim hardware profile (format '" + *f + "')",
               std::string("expected \"") + kFormat + "\"; raw samples are turned into a profile by 'moesim fit'");
  }
  if (auto v = top.integer("version", true); v && *v != kVersion) {
    diag.error("/version", "unsupported profile version " + std::to_string(*v),
               "this moesim reads version " + std::to_string(kVersion));
  }
  if (auto d = top.string("device", true)) {
    const auto& cat = Catalog::builtin();
    if (cat.find_device(*d) == nullptr) {
      std::string hint = "valid: " + join_names(cat.device_names());
      if (auto near = closest_name(*d, cat.device_names()); !near.empty()) {
        hint = "did you mean '" + near + "'? " + hint;
      }
      diag.error("/device", "unknown device '" + *d + "'", hint);
    } else {
      p.device = *d;
    }
  }
  if (ObjectReader m = top.object("measured"); m.valid()) {
    p.measured_name = m.string("device_name").value_or("");
    p.driver = m.string("driver").value_or("");
    p.measured_at = m.string("at").value_or("");
    p.raw_file = m.string("raw_file").value_or("");
    p.tool = m.string("tool").value_or("");
    m.finish();
  }
  read_gemm(top.object("gemm"), p);
  if (ObjectReader m = top.object("memory"); m.valid()) {
    p.memory_efficiency = read_fraction(m, "read_efficiency");
    p.memory_write_efficiency = read_fraction(m, "write_efficiency");
    p.memory_copy_efficiency = read_fraction(m, "copy_efficiency");
    m.finish();
  }
  if (ObjectReader l = top.object("launch"); l.valid()) {
    p.kernel_launch_s = l.quantity("kernel", Dimension::time);
    p.launch_sync_s = l.quantity("sync", Dimension::time);
    l.finish();
  }
  read_links(top.object("links"), p);
  read_power(top.object("power"), p, diag);
  top.finish();
  if (errors() > errors_before) return std::nullopt;
  return p;
}

std::optional<HwProfile> load_hw_profile(const std::string& path, Diagnostics& diag) {
  auto doc = read_json_file(path, diag);
  if (!doc) return std::nullopt;
  return hw_profile_from_json(*doc, diag);
}

nlohmann::json hw_profile_to_json(const HwProfile& p) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["device"] = p.device;
  nlohmann::json measured = nlohmann::json::object();
  if (!p.measured_name.empty()) measured["device_name"] = p.measured_name;
  if (!p.driver.empty()) measured["driver"] = p.driver;
  if (!p.measured_at.empty()) measured["at"] = p.measured_at;
  if (!p.raw_file.empty()) measured["raw_file"] = p.raw_file;
  if (!p.tool.empty()) measured["tool"] = p.tool;
  if (!measured.empty()) j["measured"] = measured;
  if (!p.gemm.empty()) {
    nlohmann::json g = nlohmann::json::object();
    for (const auto& [dtype, c] : p.gemm) {
      nlohmann::json e{{"eff_max", c.eff_max}, {"m_half", c.m_half}};
      if (c.memory_efficiency) e["memory_efficiency"] = *c.memory_efficiency;
      if (c.grouped_relative_efficiency) e["grouped_relative_efficiency"] = *c.grouped_relative_efficiency;
      e["samples"] = c.samples;
      e["rms_log_error"] = c.rms_log_error;
      g[dtype_name(dtype)] = e;
    }
    j["gemm"] = g;
  }
  nlohmann::json mem = nlohmann::json::object();
  if (p.memory_efficiency) mem["read_efficiency"] = *p.memory_efficiency;
  if (p.memory_write_efficiency) mem["write_efficiency"] = *p.memory_write_efficiency;
  if (p.memory_copy_efficiency) mem["copy_efficiency"] = *p.memory_copy_efficiency;
  if (!mem.empty()) j["memory"] = mem;
  nlohmann::json launch = nlohmann::json::object();
  if (p.kernel_launch_s) launch["kernel"] = literal(*p.kernel_launch_s, 1e-6, "us");
  if (p.launch_sync_s) launch["sync"] = literal(*p.launch_sync_s, 1e-6, "us");
  if (!launch.empty()) j["launch"] = launch;
  if (!p.links.empty()) {
    nlohmann::json l = nlohmann::json::object();
    for (const auto& [name, c] : p.links) {
      nlohmann::json e{{"efficiency", c.efficiency}};
      if (c.measured_bandwidth) e["measured_bandwidth"] = literal(*c.measured_bandwidth, 1e9, "GB/s");
      if (!c.method.empty()) e["method"] = c.method;
      l[name] = e;
    }
    j["links"] = l;
  }
  if (p.idle_power_w || !p.power_states.empty()) {
    nlohmann::json pw = nlohmann::json::object();
    if (p.idle_power_w) pw["idle"] = literal(*p.idle_power_w, 1, "W");
    nlohmann::json states = nlohmann::json::array();
    for (const auto& s : p.power_states) {
      nlohmann::json e{{"limit", literal(s.limit_w, 1, "W")}, {"power", literal(s.power_w, 1, "W")}};
      if (s.sm_clock_hz) e["sm_clock"] = literal(*s.sm_clock_hz, 1e6, "MHz");
      if (s.mem_clock_hz) e["mem_clock"] = literal(*s.mem_clock_hz, 1e6, "MHz");
      if (s.gemm_flops) e["gemm_rate"] = literal(*s.gemm_flops, 1e12, "TFLOP/s");
      states.push_back(e);
    }
    pw["states"] = states;
    j["power"] = pw;
  }
  return j;
}

std::vector<std::string> missing_profile_fields(const HwProfile& p, DType compute,
                                                const std::vector<const Link*>& links) {
  std::vector<std::string> out;
  const std::string g = "/gemm/" + dtype_name(compute);
  if (const GemmCalibration* c = p.gemm_for(compute)) {
    if (!c->memory_efficiency) out.push_back(g + "/memory_efficiency");
    if (!c->grouped_relative_efficiency) out.push_back(g + "/grouped_relative_efficiency");
  } else {
    out.push_back(g);
  }
  if (!p.memory_efficiency) out.push_back("/memory/read_efficiency");
  if (!p.kernel_launch_s) out.push_back("/launch/kernel");
  for (const Link* l : links) {
    if (l != nullptr && !p.links.contains(l->name)) out.push_back("/links/" + json_pointer_escape(l->name));
  }
  return out;
}

bool check_hw_profile(const HwProfile& p, const Device& device, DType compute,
                      const std::vector<const Link*>& links, const std::string& pointer,
                      Diagnostics& diag) {
  if (p.device != device.name) {
    diag.error(pointer,
               "the hardware profile was measured on '" + p.device + "', but the cluster uses '" +
                   device.name + "'",
               "use a profile fitted for " + device.name + ", or change the cluster's device");
    return false;
  }
  const auto missing = missing_profile_fields(p, compute, links);
  if (!missing.empty()) {
    diag.warning(pointer,
                 "the hardware profile lacks " + join_names(missing) +
                     "; the catalog values of '" + device.name + "' are used for them",
                 "measure them with moesim-calibrate and refit, or ignore this if the catalog is good enough");
  }
  return true;
}

}  // namespace moesim::hw
