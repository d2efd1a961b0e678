#include "input/uncertain_figures.hpp"

#include <algorithm>
#include <map>

namespace moesim::sim {
namespace {

using Owner = UncertainFigure::Owner;

const char* owner_name(Owner o) {
  switch (o) {
    case Owner::device: return "device";
    case Owner::link: return "link";
    case Owner::engine: return "engine";
    case Owner::profile: return "profile";
  }
  return "";
}

// Every device and link object the scenario points at, each once.
std::vector<const hw::Device*> devices_of(const Scenario& s) {
  std::vector<const hw::Device*> out{s.cluster.device};
  if (const auto& pool = s.workload.serving.prefill_pool; pool && pool->cluster.device != s.cluster.device) {
    out.push_back(pool->cluster.device);
  }
  return out;
}

std::vector<const hw::Link*> links_of(const Scenario& s) {
  std::vector<const hw::Link*> out;
  auto add = [&](const hw::Link* l) {
    if (l != nullptr && std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  };
  auto add_cluster = [&](const ClusterSpec& c) {
    add(c.scale_up);
    if (c.scale_out) add(c.scale_out->link);
  };
  add_cluster(s.cluster);
  if (s.workload.serving.prefill_pool) add_cluster(s.workload.serving.prefill_pool->cluster);
  if (s.workload.serving.kv_offload) add(s.workload.serving.kv_offload->link);
  return out;
}

void add_all(std::vector<UncertainFigure>& out, Owner owner, const std::string& name,
             const std::map<std::string, hw::Uncertainty>& u, bool transferred) {
  for (const auto& [key, x] : u) {
    hw::Uncertainty v = x;
    if (transferred && v.cls != hw::UncertaintyClass::assumed) {
      v.cls = hw::UncertaintyClass::transferred;
      v.spread = std::max(v.spread, kTransferredSpread);
    }
    out.push_back({owner, name, key, v});
  }
}

// The factors of the figures of one owner, by figure key.
std::map<std::string, double> factors_for(const std::vector<UncertainFigure>& figures,
                                          const std::vector<double>& factors, Owner owner,
                                          const std::string& name) {
  std::map<std::string, double> out;
  for (std::size_t i = 0; i < figures.size(); ++i) {
    if (figures[i].owner == owner && figures[i].name == name) out[figures[i].key] = factors[i];
  }
  return out;
}

}  // namespace

std::string UncertainFigure::id() const { return std::string(owner_name(owner)) + " " + name + ": " + key; }

std::vector<UncertainFigure> uncertain_figures(const Scenario& s) {
  std::vector<UncertainFigure> out;
  for (const hw::Device* d : devices_of(s)) add_all(out, Owner::device, d->name, d->uncertainty, false);
  for (const hw::Link* l : links_of(s)) add_all(out, Owner::link, l->name, l->uncertainty, false);
  if (s.engine != nullptr) add_all(out, Owner::engine, s.engine->name, s.engine->uncertainty, s.engine_inherited);
  if (s.hw_profile) {
    add_all(out, Owner::profile, s.hw_profile_file, s.hw_profile->uncertainty, s.hw_profile_inherited);
  }
  return out;
}

ScaledScenario scale_figures(const Scenario& s, const std::vector<UncertainFigure>& figures,
                             const std::vector<double>& factors) {
  ScaledScenario out{s, {}};
  Scenario& x = out.scenario;
  std::map<const hw::Device*, const hw::Device*> devices;
  for (const hw::Device* d : devices_of(s)) {
    auto copy = std::make_shared<const hw::Device>(hw::scaled(*d, factors_for(figures, factors, Owner::device, d->name)));
    devices[d] = copy.get();
    out.owned.push_back(copy);
  }
  std::map<const hw::Link*, const hw::Link*> links;
  for (const hw::Link* l : links_of(s)) {
    auto copy = std::make_shared<const hw::Link>(hw::scaled(*l, factors_for(figures, factors, Owner::link, l->name)));
    links[l] = copy.get();
    out.owned.push_back(copy);
  }
  auto relink = [&](ClusterSpec& c) {
    c.device = devices.at(c.device);
    c.scale_up = links.at(c.scale_up);
    if (c.scale_out) c.scale_out->link = links.at(c.scale_out->link);
  };
  relink(x.cluster);
  if (auto& pool = x.workload.serving.prefill_pool) relink(pool->cluster);
  if (auto& kv = x.workload.serving.kv_offload; kv && kv->link != nullptr) kv->link = links.at(kv->link);
  if (s.engine != nullptr) {
    auto copy = std::make_shared<const hw::EngineProfile>(
        hw::scaled(*s.engine, factors_for(figures, factors, Owner::engine, s.engine->name)));
    x.engine = copy.get();
    out.owned.push_back(copy);
  }
  if (s.hw_profile) {
    x.hw_profile = std::make_shared<const hw::HwProfile>(
        hw::scaled(*s.hw_profile, factors_for(figures, factors, Owner::profile, s.hw_profile_file)));
  }
  return out;
}

}  // namespace moesim::sim
