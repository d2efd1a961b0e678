#include "report/trace.hpp"

namespace moesim::sim {
namespace {

constexpr int kDevicesPid = 1;
constexpr int kLinksPid = 2;
constexpr int kScaleUpTid = 0;
constexpr int kScaleOutTid = 1;

nlohmann::json metadata(const char* what, int pid, int tid, const std::string& name) {
  return {{"ph", "M"}, {"name", what}, {"pid", pid}, {"tid", tid}, {"ts", 0}, {"args", {{"name", name}}}};
}

std::string task_name(const Task& t) {
  std::string name = phase_name(t.phase);
  if (t.layer >= 0) name += " L" + std::to_string(t.layer);
  return name;
}

}  // namespace

nlohmann::json chrome_trace(const StepGraph& g, const Timeline& tl, const std::string& title) {
  using nlohmann::json;
  json events = json::array();
  events.push_back(metadata("process_name", kDevicesPid, 0, "devices"));
  events.push_back(metadata("process_name", kLinksPid, 0, "links"));
  for (int d = 0; d < g.num_devices; ++d) {
    events.push_back(metadata("thread_name", kDevicesPid, d, "device " + std::to_string(d)));
  }
  events.push_back(metadata("thread_name", kLinksPid, kScaleUpTid, "scale-up (" + g.fabric.spec.scale_up.name + ")"));
  if (g.fabric.num_nics() > 0) {
    events.push_back(metadata("thread_name", kLinksPid, kScaleOutTid, "scale-out (" + g.fabric.spec.scale_out.name + ")"));
  }
  auto complete = [&](const Task& t, std::size_t i, int pid, int tid, json args) {
    events.push_back({{"ph", "X"},
                      {"name", task_name(t)},
                      {"cat", phase_name(t.phase)},
                      {"pid", pid},
                      {"tid", tid},
                      {"ts", tl.start[i] * 1e6},
                      {"dur", (tl.finish[i] - tl.start[i]) * 1e6},
                      {"args", std::move(args)}});
  };
  for (std::size_t i = 0; i < g.tasks.size(); ++i) {
    const Task& t = g.tasks[i];
    if (!t.is_collective()) {
      for (int d = t.device; d < t.device + t.device_count; ++d) {
        complete(t, i, kDevicesPid, d, {{"flops", t.flops}, {"bytes", t.bytes}});
      }
      continue;
    }
    // Split the collective's bytes by network, and show it on every device that moves bytes.
    double up = 0, out = 0;
    for (int p = 0; p < t.traffic->n; ++p) {
      const double sent = t.traffic->sent_by(p);
      (g.fabric.is_nic(p) ? out : up) += sent;
    }
    for (int d = 0; d < g.num_devices; ++d) {
      const bool active = t.traffic->sent_by(d) > 0 || t.traffic->received_by(d) > 0 ||
                          (g.fabric.num_nics() > 0 &&
                           (t.traffic->sent_by(g.fabric.nic_port(d)) > 0 ||
                            t.traffic->received_by(g.fabric.nic_port(d)) > 0));
      if (active) complete(t, i, kDevicesPid, d, {{"bytes_sent", t.traffic->sent_by(d)}});
    }
    if (up > 0) complete(t, i, kLinksPid, kScaleUpTid, {{"bytes", up}});
    if (out > 0) complete(t, i, kLinksPid, kScaleOutTid, {{"bytes", out}});
  }
  return {{"traceEvents", std::move(events)},
          {"displayTimeUnit", "ms"},
          {"otherData", {{"title", title}, {"generator", "moesim"}}}};
}

}  // namespace moesim::sim
