#include "workloads/validated.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "embedded.hpp"

// Generated at build time from data/validation/cases.json (cmake/embed.cmake).
std::vector<moesim::EmbeddedFile> moesim_builtin_validation_cases();

namespace moesim::sim {
namespace {

struct Covered {
  std::string id, device_class, family, workload;
  double error = 0;
};

// Every counted end-to-end metric of the compiled-in cases. The file is the project's own data,
// checked by its tests; a malformed one is a build defect, so parsing does not throw on it but
// yields nothing.
const std::vector<Covered>& covered() {
  static const std::vector<Covered> all = [] {
    std::vector<Covered> out;
    for (const auto& f : moesim_builtin_validation_cases()) {
      const auto doc = nlohmann::json::parse(f.text, nullptr, false);
      if (!doc.is_object() || !doc.contains("cases")) continue;
      for (const auto& c : doc["cases"]) {
        const auto m = c.find("moesim");
        if (m == c.end() || !m->is_array()) continue;
        for (const auto& e : *m) {
          out.push_back({c.value("id", std::string()), e.value("class", std::string()), e.value("family", std::string()),
                         e.value("workload", std::string()), e.value("error", 0.0)});
        }
      }
    }
    return out;
  }();
  return all;
}

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100 * x);
  return buf;
}

}  // namespace

Report::Validation validation_of(const Scenario& s) {
  const hw::Device& dev = *s.cluster.device;
  const std::string device_class = !dev.architecture.empty() ? dev.architecture : dev.kind;
  const std::string workload = workload_kind_name(s.workload.kind);
  const std::string& family = s.model.config.family;
  Report::Validation v;
  std::vector<const Covered*> same, near;
  for (const Covered& c : covered()) {
    const int shared = (c.device_class == device_class) + (c.family == family) + (c.workload == workload);
    if (shared == 3) same.push_back(&c);
    if (shared == 2) near.push_back(&c);
  }
  const auto& shown = same.empty() ? near : same;
  for (const Covered* c : shown) v.cases.emplace_back(c->id, c->error);
  if (!same.empty()) {
    double worst = 0;
    std::string list;
    for (const Covered* c : same) {
      worst = std::max(worst, std::abs(c->error));
      list += (list.empty() ? "" : ", ") + c->id + " " + percent(c->error);
    }
    char head[96];
    std::snprintf(head, sizeof head, "validated: within %.0f%% on %zu similar case%s (", 100 * worst, same.size(),
                  same.size() == 1 ? "" : "s");
    v.label = head + list + ")";
    return v;
  }
  // What no case shares: say which of the three is new.
  std::vector<std::string> missing;
  auto any = [&](auto pred) { return std::any_of(covered().begin(), covered().end(), pred); };
  if (!any([&](const Covered& c) { return c.device_class == device_class; })) missing.push_back("device class " + device_class);
  if (!any([&](const Covered& c) { return c.family == family; })) missing.push_back("model family " + family);
  if (!any([&](const Covered& c) { return c.workload == workload; })) missing.push_back("workload " + workload);
  std::string what;
  for (const auto& m : missing) what += (what.empty() ? "" : ", ") + m;
  v.label = "extrapolated: no validated case on this " + device_class + " / " + family + " / " + workload +
            (what.empty() ? " combination" : " (none at all for " + what + ")");
  if (!near.empty()) v.label += "; " + std::to_string(near.size()) + " share two of the three";
  return v;
}

}  // namespace moesim::sim
