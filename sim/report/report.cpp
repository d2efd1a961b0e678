#include "report/report.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>

#include "units.hpp"

namespace moesim::sim {
namespace {

void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else if (j.is_array()) {
    return;  // per-layer/per-device tables live in the JSON report only
  } else if (j.is_string()) {
    out.emplace_back(prefix, j.get<std::string>());
  } else {
    out.emplace_back(prefix, j.dump());
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

nlohmann::json percentiles_json(const Percentiles& p) { return {{"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}}; }

}  // namespace

nlohmann::json Report::to_json() const {
  using nlohmann::json;
  json j = json::object();
  j["report_version"] = 1;
  j["scenario"] = scenario;
  j["model"] = model;
  j["workload"] = workload;
  j["fidelity"] = fidelity;
  j["cluster"] = {{"device", device}, {"devices", devices}, {"nodes", nodes}};
  if (!engine.empty()) {
    j["engine"] = engine;
    j["engine_default"] = engine_default;
    if (!engine_inherited_from.empty()) j["engine_inherited_from"] = engine_inherited_from;
  }
  if (!hw_profile.empty()) {
    j["hw_profile"] = {{"name", hw_profile}, {"measured_on", hw_profile_measured_on}, {"device_default", hw_profile_default}};
    if (!hw_profile_inherited_from.empty()) j["hw_profile"]["inherited_from"] = hw_profile_inherited_from;
  }
  j["feasible"] = feasible;
  if (!feasible) j["reason"] = reason;
  j["memory"]["per_device_bytes"] = {{"weights", memory_weights},
                                     {"kv_cache", memory_kv_cache},
                                     {"activations", memory_activations},
                                     {"buffers", memory_buffers},
                                     {"total", memory_total},
                                     {"capacity", memory_capacity}};
  if (!faults.empty()) j["faults"] = faults;
  if (!simulated) return j;
  j["step_time_s"] = step_time_s;
  const double nodes_d = nodes > 0 ? nodes : 1, devices_d = devices > 0 ? devices : 1;
  j["throughput"] = {{"input_tokens_per_s", input_tokens_per_s},
                     {"output_tokens_per_s", output_tokens_per_s},
                     {"input_tokens_per_s_per_node", input_tokens_per_s / nodes_d},
                     {"output_tokens_per_s_per_node", output_tokens_per_s / nodes_d},
                     {"input_tokens_per_s_per_device", input_tokens_per_s / devices_d},
                     {"output_tokens_per_s_per_device", output_tokens_per_s / devices_d}};
  for (const auto& [k, v] : latency_s) {
    j["latency"][k + "_s"] = percentiles_json(v);
  }
  if (training) {
    const TrainingStats& t = *training;
    j["training"] = {{"step_time_s", step_time_s}, {"mfu", t.mfu}, {"tokens_per_s_per_device", t.tokens_per_s_per_device},
                     {"micro_batches", t.micro_batches}, {"forward_s", t.forward_s}, {"backward_s", t.backward_s},
                     {"recompute_s", t.recompute_s}, {"bubble_fraction", t.bubble_fraction}, {"dp_sync_s", t.dp_sync_s}, {"dp_exposed_s", t.dp_exposed_s},
                     {"optimizer_s", t.optimizer_s}, {"model_flops_per_token", t.model_flops_per_token},
                     {"device_hours_per_trillion_tokens", t.device_hours_per_trillion_tokens}};
  }
  if (serving) {
    const ServingStats& sv = *serving;
    j["serving"] = {{"requests", sv.requests}, {"replicas", sv.replicas}, {"makespan_s", sv.makespan_s},
                    {"iterations", sv.iterations}, {"preemptions", sv.preemptions},
                    {"mean_decode_batch", sv.mean_decode_batch}, {"kv_capacity_tokens", sv.kv_capacity_tokens},
                    {"peak_kv_fraction", sv.peak_kv_fraction}};
    j["serving"]["attention_imbalance"] = sv.attention_imbalance;
    if (!sv.series.empty()) {
      json t = json::array(), run = json::array(), wait = json::array(), kv = json::array(), rate = json::array(),
           pre = json::array();
      for (const auto& p : sv.series) {
        t.push_back(p.t_s);
        run.push_back(p.running);
        wait.push_back(p.waiting);
        kv.push_back(p.kv_fraction);
        rate.push_back(p.decode_tokens_per_s);
        pre.push_back(p.preemptions);
      }
      j["serving"]["series"] = {{"t_s", t}, {"running", run}, {"waiting", wait}, {"kv_fraction", kv},
                                {"decode_tokens_per_s", rate}, {"preemptions", pre}};
    }
    if (!sv.ttft_cdf_s.empty()) {
      json q = json::array();
      for (int i = 0; i <= 20; ++i) q.push_back(5 * i);
      j["serving"]["cdf"] = {{"percent", q}, {"ttft_s", sv.ttft_cdf_s}};
      if (!sv.tpot_cdf_s.empty()) j["serving"]["cdf"]["tpot_s"] = sv.tpot_cdf_s;
    }
    if (sv.sessions > 0) {
      j["sessions"] = {{"count", sv.sessions}, {"ttft_first_turn_s", percentiles_json(sv.ttft_first_turn_s)},
                       {"ttft_later_turns_s", percentiles_json(sv.ttft_later_turns_s)}};
    }
    if (sv.prefix_cache) {
      j["prefix_cache"] = {{"hit_rate", sv.prefix_hit_rate}, {"prefill_tokens_saved", sv.prefill_tokens_saved},
                           {"evicted_tokens", sv.evicted_tokens}};
    }
    if (!sv.prefill_device.empty()) {
      auto pool = [](const std::string& dev, int n, const std::optional<double>& usd) {
        nlohmann::json p = {{"device", dev}, {"devices", n}};
        if (usd) p["usd_per_hour"] = *usd;
        return p;
      };
      j["pools"] = {{"prefill", pool(sv.prefill_device, sv.prefill_devices, sv.prefill_usd_per_hour)},
                    {"decode", pool(sv.decode_device, sv.decode_devices, sv.decode_usd_per_hour)}};
    }
    if (sv.kv_offload) {
      j["kv_offload"] = {{"bytes_to_host_per_device", sv.offload_bytes_to_host},
                         {"bytes_from_host_per_device", sv.offload_bytes_from_host},
                         {"bytes_to_ssd_per_device", sv.offload_bytes_to_ssd},
                         {"bytes_from_ssd_per_device", sv.offload_bytes_from_ssd},
                         {"restored_turns", sv.offload_restored_turns},
                         {"mean_wait_s", sv.offload_mean_wait_s}};
    }
    if (sv.prefill_nodes > 0) {
      j["serving"]["prefill_nodes"] = sv.prefill_nodes;
      j["serving"]["kv_transfer_s"] = sv.kv_transfer_s;
      j["serving"]["kv_bytes_per_decode_step"] = sv.kv_bytes_per_decode_step;
    }
    if (sv.slo_ttft_s || sv.slo_tpot_s) {
      j["slo"] = {{"met", sv.slo_met}, {"goodput_rps", sv.goodput_rps}, {"percentile", sv.slo_percentile}};
      if (sv.slo_ttft_s) j["slo"]["ttft_s"] = *sv.slo_ttft_s;
      if (sv.slo_tpot_s) j["slo"]["tpot_s"] = *sv.slo_tpot_s;
    }
  }
  j["phases_s"] = phases_s;
  auto comm = [](const CommStats& c) {
    return json{{"bytes", c.bytes},
                {"seconds", c.seconds},
                {"bottleneck_bandwidth_Bps", c.bottleneck_bandwidth_Bps}};
  };
  j["comm"] = {{"dispatch", comm(dispatch)}, {"combine", comm(combine)}};
  for (const auto& [cls, st] : links) {
    j["links"][cls] = {{"bytes", st.bytes}, {"utilization", st.utilization}};
  }
  if (!busiest_links.empty()) {
    j["links_busiest"] = json::array();
    for (const LinkBusy& l : busiest_links) {
      j["links_busiest"].push_back({{"link", l.link}, {"class", l.link_class}, {"bytes", l.bytes}, {"busy_s", l.busy_s},
                                    {"share_of_step", step_time_s > 0 ? l.busy_s / step_time_s : 0.0}});
    }
  }
  j["expert_load"] = {{"max_over_mean", expert_load.max_over_mean},
                      {"max_over_mean_contiguous", expert_load.max_over_mean_contiguous},
                      {"worst_layer_max_over_mean", expert_load.worst_layer_max_over_mean},
                      {"dropped_tokens", expert_load.dropped},
                      {"dropped_fraction", expert_load.assignments + expert_load.dropped > 0
                                               ? expert_load.dropped / (expert_load.assignments + expert_load.dropped)
                                               : 0.0},
                      {"skipped_assignments", expert_load.skipped},
                      {"routing", routing},
                      {"placement", placement}};
  if (!expert_load.per_layer_device.empty()) {
    j["expert_load"]["per_layer_device_tokens"] = expert_load.per_layer_device;
  }
  if (energy) {
    const EnergyStats& e = *energy;
    j["energy"] = {{"joules", e.joules}, {"seconds", e.seconds}, {"per", e.per}, {"tokens", e.tokens},
                   {"token_kind", e.token_kind},
                   {"joules_per_token", e.tokens > 0 ? e.joules / e.tokens : 0.0},
                   {"tokens_per_joule", e.joules > 0 ? e.tokens / e.joules : 0.0}, {"source", e.source}};
    if (e.radio_joules > 0) j["energy"]["radio_joules"] = e.radio_joules;
    j["power"] = {{"avg_w_per_device", e.avg_w_per_device}, {"peak_w_per_device", e.peak_w_per_device},
                  {"idle_w_per_device", e.idle_w_per_device}, {"cap_w", e.cap_w}, {"capped", e.capped}};
  }
  if (validation) {
    nlohmann::json cases = nlohmann::json::array();
    for (const auto& [id, error] : validation->cases) cases.push_back({{"id", id}, {"error", error}});
    j["validation"] = {{"label", validation->label}, {"similar_cases", cases}};
  }
  if (uncertainty) {
    const UncertaintyStats& u = *uncertainty;
    json intervals = json::object();
    for (const auto& [key, x] : u.intervals) intervals[key] = {{"p10", x.p10}, {"p50", x.p50}, {"p90", x.p90}};
    j["intervals"] = intervals;
    json bars = json::array();
    for (const TornadoBar& b : u.tornado) {
      bars.push_back({{"figure", b.figure}, {"class", b.cls}, {"spread", b.spread}, {"share", b.share},
                      {"low", b.low}, {"high", b.high}});
    }
    j["uncertainty"] = {{"samples", u.samples}, {"failed", u.failed}, {"figures", u.figures}, {"method", u.method},
                        {"tornado_key", u.tornado_key}, {"tornado", bars}, {"wall_s", u.wall_s}};
  }
  if (attention) {
    j["attention"] = {{"context_cv", attention->context_cv}, {"imbalance", attention->imbalance},
                      {"applied", attention->applied}};
  }
  if (speculative) {
    j["speculative"] = {{"method", speculative->method},
                        {"draft_tokens", speculative->draft_tokens},
                        {"acceptance", speculative->acceptance},
                        {"accepted_tokens_per_step", speculative->accepted_tokens_per_step},
                        {"tokens_per_step", speculative->tokens_per_step},
                        {"step_time_without_s", speculative->step_time_without_s},
                        {"verify_overhead", speculative->verify_overhead}};
  }
  if (stragglers) {
    j["stragglers"] = {{"devices", stragglers->devices}, {"slowdown", stragglers->slowdown},
                       {"added_s", stragglers->added_s}};
  }
  if (contention) {
    j["contention"] = {{"added_s", contention->added_s}, {"by_traffic_class_s", contention->by_traffic_class_s}};
  }
  if (offload) {
    const OffloadStats& o = *offload;
    j["offload"] = {{"flash_bytes_per_device", o.flash_bytes}, {"cache_bytes_per_device", o.cache_bytes},
                    {"experts_per_device", o.experts}, {"cached_experts_per_device", o.cache_experts},
                    {"hit_rate", o.hit_rate}, {"misses_per_step", o.misses_per_step},
                    {"stall_s", o.stall_s}, {"flash_read_Bps", o.flash_read_Bps}};
  }
  if (usd_per_million_output_tokens || usd_per_million_training_tokens) {
    j["cost"] = nlohmann::json::object();
    if (usd_per_million_output_tokens) j["cost"]["usd_per_million_output_tokens"] = *usd_per_million_output_tokens;
    if (usd_per_million_training_tokens)
      j["cost"]["usd_per_million_training_tokens"] = *usd_per_million_training_tokens;
    if (price_per_device_hour) j["cost"]["usd_per_device_hour"] = *price_per_device_hour;
    if (price_electricity_per_j) j["cost"]["usd_per_kwh"] = *price_electricity_per_j * 3.6e6;
  }
  j["simulator"] = {{"events", events}, {"wall_s", wall_s}};
  if (!evaluator.empty()) j["simulator"]["evaluator"] = evaluator;
  return j;
}

void price_report(Report& r) {
  r.usd_per_million_output_tokens.reset();
  r.usd_per_million_training_tokens.reset();
  if (r.training) {
    const double trained_per_s = r.training->tokens_per_s_per_device * r.devices;
    if (r.price_per_device_hour && trained_per_s > 0)
      r.usd_per_million_training_tokens = *r.price_per_device_hour * r.devices / 3600.0 / trained_per_s * 1e6;
    return;
  }
  if (r.output_tokens_per_s <= 0) return;
  const bool electricity = r.price_electricity_per_j && r.energy;
  if (!r.price_per_device_hour && !electricity) return;
  double usd_per_s = r.price_per_device_hour ? *r.price_per_device_hour * r.devices / 3600.0 : 0.0;
  if (electricity) usd_per_s += *r.price_electricity_per_j * r.energy->avg_w_per_device * r.devices;
  r.usd_per_million_output_tokens = usd_per_s / r.output_tokens_per_s * 1e6;
}

void name_hw_profile(const Deployment& d, Report& r) {
  if (d.engine != nullptr) {
    r.engine = d.engine->name;
    r.engine_default = d.engine_default;
    if (d.engine_inherited) r.engine_inherited_from = d.engine->device;
  }
  if (!d.hw_profile) return;
  r.hw_profile = d.hw_profile_name;
  r.hw_profile_measured_on = d.hw_profile->measured_name;
  r.hw_profile_default = d.hw_profile_default;
  if (d.hw_profile_inherited) r.hw_profile_inherited_from = d.hw_profile->device;
}

const nlohmann::json* report_leaf(const nlohmann::json& report, const std::string& dotted) {
  const nlohmann::json* at = &report;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = dotted.find('.', start);
    const std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object() || !at->contains(part)) return nullptr;
    at = &at->at(part);
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters; stderr text may hold some.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string report_to_csv(const nlohmann::json& report) {
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(report, "", rows);
  std::string header, values;
  for (const auto& [k, v] : rows) {
    if (!header.empty()) {
      header += ",";
      values += ",";
    }
    header += csv_field(k);
    values += csv_field(v);
  }
  return header + "\n" + values + "\n";
}

namespace {

// What was run, whether it fits, and memory per device (with flash offload).
void table_header(const Report& r, std::ostringstream& o) {
  o << "moesim report: " << r.scenario << "\n";
  const bool pools = r.serving && !r.serving->prefill_device.empty();
  o << "  model " << r.model << " | " << r.workload << " | "
    << (pools ? std::to_string(r.serving->prefill_devices) + " x " + r.serving->prefill_device + " + " +
                    std::to_string(r.serving->decode_devices) + " x " + r.serving->decode_device
              : std::to_string(r.devices) + " x " + r.device)
    << " (" << r.nodes << " node" << (r.nodes == 1 ? "" : "s") << ") | fidelity " << r.fidelity
    << (r.engine.empty() ? "" : " | engine " + r.engine + (r.engine_default ? " (default" : " (chosen") +
                                    (r.engine_inherited_from.empty() ? "" : ", measured on " + r.engine_inherited_from) + ")")
    << "\n";
  if (!r.hw_profile.empty()) {
    o << "  hw profile " << r.hw_profile << " (measured on " << r.hw_profile_measured_on
      << (r.hw_profile_inherited_from.empty() ? "" : "; inherited from " + r.hw_profile_inherited_from + ", same architecture")
      << (r.hw_profile_default ? "; the device's default, \"hw_profile\": \"catalog\" turns it off)" : ")") << "\n";
  }
  o << "\n";
  o << "  feasible        " << (r.feasible ? "yes" : "NO: " + r.reason) << "\n";
  if (r.validation) o << "  validation      " << r.validation->label << "\n";
  for (const std::string& f : r.faults) o << "  fault           " << f << "\n";
  const double gib = 1024.0 * 1024 * 1024;
  o << "  memory/device   " << fmt("%.1f", r.memory_total / gib) << " of "
    << fmt("%.1f", r.memory_capacity / gib) << " GiB (weights " << fmt("%.1f", r.memory_weights / gib)
    << ", KV " << fmt("%.1f", r.memory_kv_cache / gib) << ", activations "
    << fmt("%.2f", r.memory_activations / gib) << ", buffers " << fmt("%.2f", r.memory_buffers / gib)
    << ")\n";
  if (r.offload) {
    o << "  flash offload   " << fmt("%.0f", r.offload->cache_experts) << " of " << fmt("%.0f", r.offload->experts)
      << " experts cached, hit rate " << fmt("%.1f", 100 * r.offload->hit_rate) << "%, stall "
      << format_quantity(r.offload->stall_s, Dimension::time) << " per step\n";
  }
}

// Step time, throughput and latency percentiles.
void table_timing(const Report& r, std::ostringstream& o) {
  if (!r.feasible) o << "  (timings below assume the deployment fit in memory)\n";
  o << "  step time       " << format_quantity(r.step_time_s, Dimension::time) << "\n";
  if (r.attention) {
    o << "  attention DP    the rank with the most KV holds " << fmt("%.2f", r.attention->imbalance)
      << "x the mean (contexts' CV " << fmt("%.2f", r.attention->context_cv) << ")"
      << (r.attention->applied ? "; the step waits for it\n" : "; not applied (attention_imbalance false)\n");
  }
  if (r.speculative) {
    const SpeculativeStats& sp = *r.speculative;
    o << "  speculative     " << sp.method << ", " << sp.draft_tokens << " draft token" << (sp.draft_tokens > 1 ? "s" : "")
      << ": " << fmt("%.2f", sp.tokens_per_step) << " tokens per sequence and step; verifying makes a step "
      << fmt("%.0f", 100 * sp.verify_overhead) << "% longer than without ("
      << format_quantity(sp.step_time_without_s, Dimension::time) << " in closed form)\n";
  }
  if (r.stragglers) {
    o << "  stragglers      " << r.stragglers->devices.size() << " device" << (r.stragglers->devices.size() == 1 ? "" : "s")
      << " at " << fmt("%.3g", r.stragglers->slowdown) << "x kernel time (";
    for (std::size_t i = 0; i < r.stragglers->devices.size() && i < 8; ++i) {
      o << (i ? ", " : "") << r.stragglers->devices[i];
    }
    o << (r.stragglers->devices.size() > 8 ? ", ..." : "") << "): +"
      << format_quantity(r.stragglers->added_s, Dimension::time) << " per step in closed form\n";
  }
  if (r.contention && r.contention->added_s > 1e-9) {
    // Flow fidelity: link sharing the closed form does not see.
    o << "  contention      +" << format_quantity(r.contention->added_s, Dimension::time)
      << " over the closed form (per traffic class, summed over its collectives: ";
    const char* sep = "";
    for (const auto& [cls, s] : r.contention->by_traffic_class_s) {
      o << sep << cls << " +" << format_quantity(s, Dimension::time);
      sep = ", ";
    }
    o << ")\n";
  }
  if (r.input_tokens_per_s > 0) {
    o << "  input tokens/s  " << fmt("%.0f", r.input_tokens_per_s) << " ("
      << fmt("%.0f", r.input_tokens_per_s / r.devices) << " per device)\n";
  }
  o << "  output tokens/s " << fmt("%.0f", r.output_tokens_per_s) << " ("
    << fmt("%.0f", r.output_tokens_per_s / r.devices) << " per device)\n";
  for (const auto& [k, v] : r.latency_s) {
    o << "  " << k << (k.size() < 4 ? " " : "") << "            p50 " << format_quantity(v.p50, Dimension::time)
      << "  p90 " << format_quantity(v.p90, Dimension::time) << "  p99 " << format_quantity(v.p99, Dimension::time) << "\n";
  }
}

// Training: throughput, MFU and where a step goes.
void table_training(const Report& r, std::ostringstream& o) {
  if (r.training) {
    const TrainingStats& t = *r.training;
    o << "  training        " << fmt("%.0f", t.tokens_per_s_per_device) << " tokens/s per device, MFU "
      << fmt("%.1f", 100 * t.mfu) << "%, " << fmt("%.0f", t.device_hours_per_trillion_tokens)
      << " device-hours per trillion tokens\n";
    o << "                  " << t.micro_batches << " micro-batches: forward " << format_quantity(t.forward_s, Dimension::time)
      << ", backward " << format_quantity(t.backward_s, Dimension::time) << " per stage; bubble "
      << fmt("%.1f", 100 * t.bubble_fraction) << "%, DP sync " << format_quantity(t.dp_sync_s, Dimension::time)
      << " (" << format_quantity(t.dp_exposed_s, Dimension::time) << " exposed), optimizer "
      << format_quantity(t.optimizer_s, Dimension::time) << "\n";
  }
}

// Serving: the run and its SLOs.
void table_serving(const Report& r, std::ostringstream& o) {
  if (r.serving && r.feasible) {
    const ServingStats& sv = *r.serving;
    o << "  serving         " << sv.requests << " requests" << (sv.replicas > 1 ? " per replica (" + std::to_string(sv.replicas) + " replicas)" : "")
      << " in " << format_quantity(sv.makespan_s, Dimension::time) << ", " << sv.iterations << " steps, mean decode batch "
      << fmt("%.1f", sv.mean_decode_batch) << " per rank, " << sv.preemptions << " preemptions, KV peak "
      << fmt("%.0f", 100 * sv.peak_kv_fraction) << "%\n";
    if (sv.sessions > 0) {
      o << "  sessions        " << sv.sessions << "; TTFT p50 first turn " << format_quantity(sv.ttft_first_turn_s.p50, Dimension::time)
        << ", later turns " << format_quantity(sv.ttft_later_turns_s.p50, Dimension::time) << "\n";
    }
    if (sv.prefix_cache) {
      o << "  prefix cache    " << fmt("%.0f", 100 * sv.prefix_hit_rate) << "% of prompt tokens cached, "
        << fmt("%.0f", sv.prefill_tokens_saved) << " not prefilled, " << fmt("%.0f", sv.evicted_tokens) << " evicted\n";
    }
    if (!sv.prefill_device.empty()) {
      o << "  pools           prefill " << sv.prefill_devices << " x " << sv.prefill_device
        << (sv.prefill_usd_per_hour ? " ($" + fmt("%.2f", *sv.prefill_usd_per_hour) + "/h)" : std::string())
        << ", decode " << sv.decode_devices << " x " << sv.decode_device
        << (sv.decode_usd_per_hour ? " ($" + fmt("%.2f", *sv.decode_usd_per_hour) + "/h)" : std::string()) << "\n";
    }
    if (sv.kv_offload) {
      o << "  KV offload      " << format_quantity(sv.offload_bytes_to_host, Dimension::bytes) << " to host, "
        << format_quantity(sv.offload_bytes_from_host, Dimension::bytes) << " back per device; "
        << sv.offload_restored_turns << " turns waited " << format_quantity(sv.offload_mean_wait_s, Dimension::time)
        << " on average for their prefix\n";
    }
    if (sv.prefill_nodes > 0) {
      o << "  disaggregated   " << sv.prefill_nodes << " prefill node" << (sv.prefill_nodes > 1 ? "s" : "")
        << "; a prompt's KV cache moves in " << format_quantity(sv.kv_transfer_s, Dimension::time) << " (mean), "
        << format_quantity(sv.kv_bytes_per_decode_step, Dimension::bytes)
        << " of it arrive per decode step (beside the decode step's own traffic)\n";
    }
    if (sv.slo_ttft_s || sv.slo_tpot_s) {
      o << "  SLO (p" << fmt("%.0f", sv.slo_percentile) << ")        " << (sv.slo_met ? "met" : "NOT met") << ", goodput "
        << fmt("%.2f", sv.goodput_rps) << " requests/s\n";
    }
  }
}

// How evenly the routed assignments fell on devices.
void table_expert_load(const Report& r, std::ostringstream& o) {
  if (!r.expert_load.per_layer_device.empty()) {
    o << "  expert load     busiest device " << fmt("%.2f", r.expert_load.max_over_mean) << "x the mean ("
      << r.placement << "; contiguous EP would give " << fmt("%.2f", r.expert_load.max_over_mean_contiguous)
      << "x), " << r.routing << " routing";
    if (r.expert_load.dropped > 0) o << ", " << fmt("%.0f", r.expert_load.dropped) << " assignments dropped";
    o << "\n";
  }
}

// Energy per step or run, and power per device.
void table_energy(const Report& r, std::ostringstream& o) {
  if (r.energy) {
    const EnergyStats& e = *r.energy;
    o << "  energy          " << format_quantity(e.joules, Dimension::energy) << " per " << e.per << ", "
      << fmt("%.4g", e.tokens > 0 ? e.joules / e.tokens : 0.0) << " J per " << e.token_kind << " token ("
      << fmt("%.4g", e.joules > 0 ? e.tokens / e.joules : 0.0) << " tokens/J)\n";
    o << "  power/device    avg " << format_quantity(e.avg_w_per_device, Dimension::power) << ", peak "
      << format_quantity(e.peak_w_per_device, Dimension::power) << ", idle "
      << format_quantity(e.idle_w_per_device, Dimension::power) << (e.capped ? ", cap " : ", TDP ")
      << format_quantity(e.cap_w, Dimension::power) << "\n";
  }
}

// Cost per million tokens and the prices behind it.
// Intervals and the tornado of an uncertainty run.
void table_uncertainty(const Report& r, std::ostringstream& o) {
  if (!r.uncertainty) return;
  const Report::UncertaintyStats& u = *r.uncertainty;
  o << "\n  uncertainty: " << u.samples << " samples of " << u.figures << " figures (" << u.method << ")";
  if (u.failed > 0) o << ", " << u.failed << " failed";
  o << "\n";
  for (const auto& [key, x] : u.intervals) {
    o << "    " << std::left << std::setw(40) << key << std::right << " p10 " << std::setw(11) << fmt("%.5g", x.p10)
      << "  p50 " << std::setw(11) << fmt("%.5g", x.p50) << "  p90 " << std::setw(11) << fmt("%.5g", x.p90) << "\n";
  }
  if (!u.tornado.empty()) o << "  what moves " << u.tornado_key << " most (share of its spread; alone at low / high):\n";
  for (const auto& b : u.tornado) {
    o << "    " << std::left << std::setw(48) << b.figure << std::right << std::setw(5) << fmt("%.0f", 100 * b.share)
      << "%  " << b.cls << " +-" << fmt("%.0f", 100 * b.spread) << "%  " << fmt("%.5g", b.low) << " / "
      << fmt("%.5g", b.high) << "\n";
  }
}

void table_cost(const Report& r, std::ostringstream& o) {
  if (r.usd_per_million_training_tokens) {
    o << "  cost            $" << fmt("%.3f", *r.usd_per_million_training_tokens) << " per million trained tokens ($"
      << fmt("%.2f", *r.price_per_device_hour) << "/device-hour)\n";
  }
  if (r.usd_per_million_output_tokens) {
    o << "  cost            $" << fmt("%.3f", *r.usd_per_million_output_tokens) << " per million output tokens (";
    if (r.price_per_device_hour) o << "$" << fmt("%.2f", *r.price_per_device_hour) << "/device-hour";
    if (r.price_per_device_hour && r.price_electricity_per_j) o << " + ";
    if (r.price_electricity_per_j) o << "electricity at $" << fmt("%.3f", *r.price_electricity_per_j * 3.6e6) << "/kWh";
    o << ")\n";
  }
}

// Critical-path time per phase.
void table_phases(const Report& r, std::ostringstream& o) {
  if (r.serving) {
    o << "\n  phases, traffic and memory below: a representative decode step (mean batch and context)\n";
  }
  o << "\n  phase (critical path per step)      time     share\n";
  for (const auto& [k, v] : r.phases_s) {
    if (v <= 0) continue;
    double total = 0;
    for (const auto& [name, t] : r.phases_s) total += t;
    char line[128];
    std::snprintf(line, sizeof line, "  %-32s %10s  %5.1f%%\n", k.c_str(),
                  format_quantity(v, Dimension::time).c_str(), 100.0 * v / total);
    o << line;
  }
}

// Dispatch and combine: bytes, time and bottleneck bandwidth per step.
void table_all_to_all(const Report& r, std::ostringstream& o) {
  if (r.dispatch.bytes > 0) {
    o << "\n  all-to-all        bytes/step    time/step   bottleneck bandwidth\n";
    for (const auto& [name, c] : {std::pair<const char*, const CommStats&>{"dispatch", r.dispatch},
                                  std::pair<const char*, const CommStats&>{"combine", r.combine}}) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-12s %14s %12s   %s\n", name,
                    format_quantity(c.bytes, Dimension::bytes).c_str(),
                    format_quantity(c.seconds, Dimension::time).c_str(),
                    format_quantity(c.bottleneck_bandwidth_Bps, Dimension::bandwidth).c_str());
      o << line;
    }
  }
}

// Link classes: bytes and utilisation.
void table_links(const Report& r, std::ostringstream& o) {
  for (const auto& [cls, st] : r.links) {
    o << (cls == r.links.begin()->first ? "\n" : "") << "  link class " << cls << ": "
      << format_quantity(st.bytes, Dimension::bytes) << " per step, busy " << fmt("%.1f", 100 * st.utilization)
      << "% of the step\n";
  }
  if (!r.busiest_links.empty() && r.step_time_s > 0) {
    o << "  busiest links:  ";
    for (std::size_t i = 0; i < r.busiest_links.size() && i < 3; ++i) {
      const LinkBusy& l = r.busiest_links[i];
      o << (i ? ", " : "") << l.link << " " << format_quantity(l.busy_s, Dimension::time) << " ("
        << fmt("%.0f", 100 * l.busy_s / r.step_time_s) << "% of the step)";
    }
    o << "\n";
  }
}

}  // namespace

std::string report_to_table(const Report& r) {
  std::ostringstream o;
  table_header(r, o);
  if (!r.simulated) return o.str();
  table_timing(r, o);
  table_training(r, o);
  table_serving(r, o);
  table_expert_load(r, o);
  table_energy(r, o);
  table_cost(r, o);
  table_phases(r, o);
  table_all_to_all(r, o);
  table_links(r, o);
  table_uncertainty(r, o);
  o << "\n  simulator: " << r.events << " events in " << fmt("%.3f", r.wall_s) << " s"
    << (r.evaluator.empty() ? std::string() : " (" + r.evaluator + ")") << "\n";
  return o.str();
}

}  // namespace moesim::sim
