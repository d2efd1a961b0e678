#include "plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <thread>

#include "file_io.hpp"
#include "catalog.hpp"
#include "flat_json.hpp"
#include "json_reader.hpp"
#include "process_pool.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"
#include "units.hpp"

namespace fs = std::filesystem;

namespace moesim::tools {
namespace {

using nlohmann::json;

const std::vector<std::string> kOverlaps{"none", "compute-comm", "two-microbatch"};
const std::vector<std::string> kAllToAll{"deepep-normal", "deepep-low-latency", "direct"};

std::vector<int> read_ints(ObjectReader& r, const std::string& key, std::vector<int> fallback, long long lo) {
  const json* v = r.raw(key);
  if (v == nullptr) return fallback;
  std::vector<int> out;
  if (!v->is_array() || v->empty()) {
    r.diagnostics().error(r.pointer_to(key), "expected a non-empty list of integers");
    return out;
  }
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& x = (*v)[i];
    if (!x.is_number_integer() || x.get<long long>() < lo || x.get<long long>() > 1000000) {
      r.diagnostics().error(r.pointer_to(key) + "/" + std::to_string(i),
                            "expected an integer >= " + std::to_string(lo) + ", got " + x.dump());
    } else {
      out.push_back(x.get<int>());
    }
  }
  return out;
}

std::vector<std::string> read_names(ObjectReader& r, const std::string& key, std::vector<std::string> fallback,
                                    const std::vector<std::string>& valid) {
  const json* v = r.raw(key);
  if (v == nullptr) return fallback;
  std::vector<std::string> out;
  if (!v->is_array() || v->empty()) {
    r.diagnostics().error(r.pointer_to(key), "expected a non-empty list", "valid: " + join_names(valid));
    return out;
  }
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& x = (*v)[i];
    if (!x.is_string() || std::find(valid.begin(), valid.end(), x.get<std::string>()) == valid.end()) {
      r.diagnostics().error(r.pointer_to(key) + "/" + std::to_string(i), "unknown value " + x.dump(),
                            "valid: " + join_names(valid));
    } else {
      out.push_back(x.get<std::string>());
    }
  }
  return out;
}


std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}


// Groups thousands: 12096 -> "12,096".
std::string count_text(std::size_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

}  // namespace

json candidate_json(const PlanSpec& spec, const Candidate& c) {
  const HardwareOption& h = spec.hardware[c.hardware];
  const int d = c.devices(spec);
  json j = {{"device", h.device}, {"nodes", c.nodes}, {"devices_per_node", h.devices_per_node}, {"devices", d},
            {"attention_tp", c.attention_tp}, {"attention_dp", d / std::max(1, c.attention_tp * c.pp)},
            {"ep", c.ep(spec)}, {"expert_tp", c.expert_tp ? c.attention_tp : 1}, {"pp", c.pp},
            {"redundant_experts", c.redundant_experts}, {"batch_per_device", c.batch_per_device},
            {"draft_tokens", c.draft_tokens}, {"overlap", c.overlap}, {"all_to_all", c.all_to_all},
            {"prefix_cache", c.prefix_cache}, {"prefill", c.prefill < 0 ? std::string("colocated") : spec.hardware[static_cast<std::size_t>(c.prefill)].device},
            {"status", c.status}, {"reason", c.reason}};
  if (c.status == "ok" || c.status == "slo") {
    j.update({{"tpot_s", c.tpot_s}, {"instance_output_tokens_per_s", c.instance_tokens_per_s},
              {"replicas", c.replicas}, {"total_devices", c.replicas * d}, {"usd_per_hour", c.usd_per_hour},
              {"usd_per_million_output_tokens", c.usd_per_million_tokens},
              {"joules_per_token_tdp_bound", c.joules_per_token}, {"memory_fraction", c.memory_fraction},
              {"phases_s", c.phases_s}});
    j["ttft_s"] = c.ttft_s >= 0 ? json(c.ttft_s) : json(nullptr);
    if (c.prefill_share > 0) j["prefill_share"] = c.prefill_share;
    if (c.pool.devices > 0) {
      j["prefill_pool"] = {{"nodes", c.pool.nodes}, {"devices", c.pool.devices}, {"attention_tp", c.pool.attention_tp},
                           {"overlap", c.pool.overlap}, {"step_s", c.pool.step_s}, {"replicas", c.pool.replicas},
                           {"kv_transfer_s", c.pool.kv_transfer_s}, {"usd_per_hour", c.pool.usd_per_hour}};
    }
  }
  if (c.flow_tpot_s) j["flow_tpot_s"] = *c.flow_tpot_s;
  if (!c.flow_difference.empty()) j["flow_difference"] = c.flow_difference;
  if (c.intervals) j["intervals"] = intervals_json(*c.intervals);
  if (!c.interval_error.empty()) j["intervals_error"] = c.interval_error;
  return j;
}

namespace {

std::string candidates_csv(const PlanSpec& spec, const std::vector<Candidate>& all) {
  const std::vector<std::string> cols{"device", "nodes", "devices", "attention_tp", "attention_dp", "ep", "expert_tp", "pp",
                                      "redundant_experts", "batch_per_device", "draft_tokens", "overlap", "all_to_all",
                                      "prefix_cache", "prefill", "prefill_devices", "prefill_replicas", "status",
                                      "tpot_s", "ttft_s", "instance_output_tokens_per_s", "replicas",
                                      "total_devices", "usd_per_hour", "usd_per_million_output_tokens",
                                      "joules_per_token_tdp_bound", "memory_fraction", "flow_tpot_s", "reason"};
  std::vector<json> head(cols.begin(), cols.end());
  std::string out = csv_line(head);
  for (const auto& c : all) {
    const json j = candidate_json(spec, c);
    std::vector<json> cells;
    for (const auto& k : cols) {
      if (k == "prefill_devices" || k == "prefill_replicas") {
        cells.push_back(j.contains("prefill_pool") ? j["prefill_pool"][k.substr(8)] : json(nullptr));
      } else {
        cells.push_back(j.value(k, json(nullptr)));
      }
    }
    out += csv_line(cells);
  }
  return out;
}

// The plot: every candidate that meets the SLOs (grey), the Pareto front coloured by energy,
// the winner marked. gnuplot (Debian gnuplot-nox) draws it; without it there is no PNG.
bool plot_front(const PlanSpec& spec, const std::vector<Candidate>& all, const std::vector<std::size_t>& front,
                std::size_t winner, const fs::path& dir, std::string& error) {
  const fs::path data = dir / "plot-data.tsv", script = dir / "plot.gp", png = dir / "front.png";
  std::string tsv;
  auto row = [&](const Candidate& c) {
    return fmt("%.6g", c.usd_per_million_tokens) + "\t" + fmt("%.6g", c.tpot_s * 1e3) + "\t" +
           fmt("%.6g", c.joules_per_token) + "\n";
  };
  for (const auto& c : all) {
    if (c.status == "ok") tsv += row(c);
  }
  tsv += "\n\n";
  std::vector<std::size_t> sorted_front = front;
  std::sort(sorted_front.begin(), sorted_front.end(),
            [&](std::size_t a, std::size_t b) { return all[a].usd_per_million_tokens < all[b].usd_per_million_tokens; });
  for (auto i : sorted_front) tsv += row(all[i]);
  tsv += "\n\n" + row(all[winner]);
  std::string title = spec.model_name + " at " + count_text(static_cast<std::size_t>(spec.output_tokens_per_s)) +
                      " output tokens/s";
  if (spec.slo_tpot_s) title += ", TPOT <= " + ms_text(*spec.slo_tpot_s);
  if (spec.slo_ttft_s) title += ", TTFT <= " + ms_text(*spec.slo_ttft_s);
  std::string gp = "set terminal pngcairo size 1100,700 font 'DejaVu Sans,12'\n"
                   "set output '" + png.string() + ".tmp'\n"  // renamed once whole (a full disk leaves no half PNG)
                   "set title '" + title + "'\n"
                   "set xlabel 'cost (USD per million output tokens, at the required rate)'\n"
                   "set ylabel 'TPOT (ms, analytic)'\n"
                   "set cblabel 'energy per token (J, TDP bound)'\n"
                   "set logscale x\nset grid\nset key bottom left box opaque\nset palette rgb 33,13,10\n";
  if (spec.slo_tpot_s) {
    const std::string slo = fmt("%.6g", *spec.slo_tpot_s * 1e3);
    gp += "set yrange [0:" + fmt("%.6g", *spec.slo_tpot_s * 1e3 * 1.12) + "]\n"
          "set arrow from graph 0, first " + slo + " to graph 1, first " + slo + " nohead dt 2 lw 2 lc rgb 'red'\n"
          "set label 'TPOT SLO' at graph 0.01, first " + slo + " offset 0,0.6 tc rgb 'red'\n";
  }
  gp += "plot '" + data.string() + "' index 0 using 1:2 with points pt 7 ps 0.4 lc rgb '#c8c8c8' title 'meets the SLOs', \\\n"
        "     '' index 1 using 1:2:3 with points pt 7 ps 1.3 lc palette title 'Pareto front (colour: J/token)', \\\n"
        "     '' index 2 using 1:2 with points pt 6 ps 3 lw 3 lc rgb 'black' title 'winner (cheapest)'\n";
  if (!write_file_atomic(data.string(), tsv) || !write_file_atomic(script.string(), gp)) {
    error = "cannot write the plot's files";
    return false;
  }
  Job job;
  job.argv = {"/usr/bin/gnuplot", script.string()};
  job.stderr_path = (dir / "gnuplot.stderr").string();
  job.timeout_s = 60;
  bool ok = false;
  run_pool(1, 1, [&](std::size_t) { return job; }, [&](std::size_t, const JobResult& r) {
    ok = r.ok();
    if (!ok) error = "gnuplot: " + r.describe() + " " + read_text((dir / "gnuplot.stderr").string());
  });
  fs::remove(dir / "gnuplot.stderr");
  std::error_code ec;
  if (ok) fs::rename(png.string() + ".tmp", png, ec);
  if (ok && ec) {
    ok = false;
    error = "cannot put " + png.string() + " in place: " + ec.message();
  }
  fs::remove(png.string() + ".tmp", ec);
  if (!ok && error.find("cannot start") != std::string::npos) {
    error = "no gnuplot (Debian package gnuplot-nox; scripts/setup.sh installs it): no PNG";
  }
  return ok;
}

// What the prefill side of the search needs from the workload.
void check_prefill_inputs(PlanSpec& spec, Diagnostics& diag) {
  const bool cache_on = std::find(spec.prefix_cache.begin(), spec.prefix_cache.end(), "on") != spec.prefix_cache.end();
  const bool pools = std::any_of(spec.prefill.begin(), spec.prefill.end(), [](int p) { return p >= 0; });
  if (cache_on && spec.prefix_hit < 0) {
    diag.error("/search/prefix_cache", "the prefix cache needs the share of each prompt it holds",
               "\"workload\": {..., \"prefix_hit\": 0.6} (0.6: the first 60% of each prompt is cached)");
  }
  spec.prefix_hit = std::max(0.0, spec.prefix_hit);
  if (pools && spec.output_tokens == 0) {
    diag.error("/workload/output_tokens", "a prefill pool is sized to the request rate, which needs each request's output length",
               "\"output_tokens\": 512");
  }
  if ((cache_on || pools || spec.output_tokens > 0) && spec.input_tokens == 0) {
    diag.error("/workload/input_tokens", "the prefill side of the plan (prefix cache, prefill pools, prefill load) needs the prompt length",
               "\"input_tokens\": 2048");
  }
}

}  // namespace

std::string ms_text(double seconds) { return fmt("%.1f ms", seconds * 1e3); }

std::optional<PlanSpec> plan_spec_from_json(const json& doc, const std::string& path, Diagnostics& diag) {
  const std::size_t errors = diag.error_count();
  PlanSpec spec;
  spec.file = path;
  ObjectReader r(doc, "", diag);
  if (!r.valid()) return std::nullopt;
  if (const json* m = r.raw("model")) {
    spec.model = *m;
    // The model alone, checked through a one-device scenario (its problems name /model/...).
    const json probe = {{"model", *m},
                        {"cluster", {{"nodes", 1}, {"node", {{"device", "h100-sxm"}, {"devices_per_node", 1}, {"scale_up", "nvlink4"}}}}},
                        {"workload", {{"kind", "decode"}, {"batch_per_device", 1}, {"context_tokens", 1}}}};
    Diagnostics md(path);
    auto s = sim::scenario_from_json(probe, fs::path(path).parent_path().string(), md);
    for (const auto& p : md.problems()) {
      if (p.pointer.rfind("/model", 0) == 0) diag.error(p.pointer, p.message, p.hint);
    }
    if (s) spec.model_name = s->model.config.name;
  } else {
    diag.error("/model", "missing the model", "e.g. {\"preset\": \"deepseek-v3\", \"weights_dtype\": \"fp8\"}");
  }
  ObjectReader w = r.object("workload", true);
  if (w.valid()) {
    spec.output_tokens_per_s = w.number("output_tokens_per_s", true, 1e-9).value_or(0);
    spec.context_tokens = static_cast<int>(w.integer("context_tokens", true, 1, 10000000).value_or(1));
    spec.input_tokens = static_cast<int>(w.integer("input_tokens", false, 1, 10000000).value_or(0));
    if (const json* sp = w.raw("speculative")) spec.speculative = *sp;  // checked with each candidate's scenario
    spec.output_tokens = static_cast<int>(w.integer("output_tokens", false, 1, 10000000).value_or(0));
    spec.prefix_hit = w.number("prefix_hit", false, 0.0, 1.0).value_or(-1);
    w.finish();
  }
  ObjectReader slo = r.object("slo");
  if (slo.valid()) {
    spec.slo_tpot_s = slo.quantity("tpot_p99", Dimension::time);
    spec.slo_ttft_s = slo.quantity("ttft_p99", Dimension::time);
    slo.finish();
    if (spec.slo_ttft_s && spec.input_tokens == 0) {
      diag.error("/workload/input_tokens", "a TTFT SLO needs the prompt length", "\"input_tokens\": 2048");
    }
  }
  const json* hw = r.raw("hardware");
  const auto& cat = hw::Catalog::builtin();
  if (hw == nullptr || !hw->is_array() || hw->empty()) {
    diag.error("/hardware", "expected a non-empty list of hardware options",
               "[{\"device\": \"h100-sxm\", \"devices_per_node\": 8, \"scale_up\": \"nvlink4\", "
               "\"scale_out\": {\"link\": \"ib-ndr400\", \"nics_per_node\": 8}, \"price_per_device_hour\": \"$2.5/h\"}]");
  } else {
    for (std::size_t i = 0; i < hw->size(); ++i) {
      ObjectReader h((*hw)[i], "/hardware/" + std::to_string(i), diag);
      if (!h.valid()) continue;
      HardwareOption o;
      o.device = h.string("device", true).value_or("");
      o.devices_per_node = static_cast<int>(h.integer("devices_per_node", true, 1, 1024).value_or(1));
      o.scale_up = h.string("scale_up", true).value_or("");
      if (const json* so = h.raw("scale_out")) o.scale_out = *so;
      o.max_nodes = static_cast<int>(h.integer("max_nodes", false, 1, 100000).value_or(0));
      const auto price = h.quantity("price_per_device_hour", Dimension::price_per_hour);
      if (h.has("price_per_device_hour")) o.price_text = *h.raw("price_per_device_hour");
      h.finish();
      const hw::Device* dev = cat.find_device(o.device);
      if (dev == nullptr && !o.device.empty()) {
        std::string hint = "valid: " + join_names(cat.device_names());
        if (auto near = closest_name(o.device, cat.device_names()); !near.empty()) hint = "did you mean '" + near + "'? " + hint;
        diag.error(h.pointer_to("device"), "unknown device '" + o.device + "'", hint);
        continue;
      }
      if (dev == nullptr) continue;
      o.tdp_w = dev->tdp_w;
      if (price) {
        o.price_per_device_hour = *price;
      } else if (dev->price_per_hour) {
        o.price_per_device_hour = *dev->price_per_hour;
      } else if (!h.has("price_per_device_hour")) {
        diag.error(h.pointer(), "the catalog has no price for " + o.device + ": a plan needs one",
                   "\"price_per_device_hour\": \"$2/h\"");
      }
      spec.hardware.push_back(std::move(o));
    }
  }
  ObjectReader s = r.object("search");
  spec.nodes = read_ints(s, "nodes", {1, 2, 4, 8}, 1);
  spec.attention_tp = read_ints(s, "attention_tp", {1}, 1);
  spec.pp = read_ints(s, "pp", {1}, 1);
  spec.batch_per_device = read_ints(s, "batch_per_device", {8, 16, 32, 64, 128}, 1);
  spec.redundant_experts = read_ints(s, "redundant_experts", {0}, 0);
  spec.overlap = read_names(s, "overlap", {"none"}, kOverlaps);
  spec.all_to_all = read_names(s, "all_to_all", {"deepep-normal"}, kAllToAll);
  spec.expert_tp = read_names(s, "expert_tp", {"off"}, {"off", "attention"});
  spec.draft_tokens = read_ints(s, "draft_tokens", {0}, 0);
  if (spec.speculative.is_null() &&
      std::any_of(spec.draft_tokens.begin(), spec.draft_tokens.end(), [](int k) { return k > 0; })) {
    diag.error("/search/draft_tokens", "draft tokens need the speculative method and its acceptance",
               "\"workload\": {..., \"speculative\": {\"method\": \"mtp\", \"acceptance\": 0.85}}");
  }
  spec.prefix_cache = read_names(s, "prefix_cache", {"off"}, {"off", "on"});
  std::vector<std::string> places{"colocated"};
  for (const auto& h : spec.hardware) {
    if (std::find(places.begin(), places.end(), h.device) == places.end()) places.push_back(h.device);
  }
  for (const auto& p : read_names(s, "prefill", {"colocated"}, places)) {
    int index = -1;
    for (std::size_t i = 0; i < spec.hardware.size() && index < 0 && p != "colocated"; ++i) {
      if (spec.hardware[i].device == p) index = static_cast<int>(i);
    }
    if (index >= 0 && spec.hardware[static_cast<std::size_t>(index)].scale_out.is_null()) {
      diag.error("/search/prefill", "a prefill pool sends each prompt's KV cache over the scale-out network, and " + p +
                 " has no scale_out", "give that hardware option a \"scale_out\"");
    }
    spec.prefill.push_back(index);
  }
  spec.prefill_nodes = read_ints(s, "prefill_nodes", {1, 2, 4}, 1);
  check_prefill_inputs(spec, diag);
  if (s.valid()) {
    if (s.has("power_cap")) {
      diag.error(s.pointer_to("power_cap"), "power caps are not searched in this version",
                 "the scenario validator accepts a cap only at the device TDP, so every candidate runs at TDP");
    }
    s.finish();
  }
  ObjectReader c = r.object("confirm");
  if (c.valid()) {
    spec.confirm_top = static_cast<int>(c.integer("top", false, 0, 100).value_or(3));
    c.finish();
  }
  r.string("name");
  r.string("description");
  r.finish();
  if (diag.error_count() != errors) return std::nullopt;
  return spec;
}

std::optional<PlanSpec> load_plan_spec(const std::string& path, Diagnostics& diag) {
  auto doc = read_json_file(path, diag);
  if (!doc) return std::nullopt;
  return plan_spec_from_json(*doc, path, diag);
}

std::string Candidate::describe(const PlanSpec& spec) const {
  const HardwareOption& h = spec.hardware[hardware];
  const int d = devices(spec);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%dx%d %s, attention TP%d x DP%d, EP%d%s, PP%d, %d redundant experts, batch %d/device, %s, %s",
                nodes, h.devices_per_node, h.device.c_str(), attention_tp, d / std::max(1, attention_tp * pp), ep(spec),
                expert_tp && attention_tp > 1 ? (" x expert TP" + std::to_string(attention_tp)).c_str() : "", pp,
                redundant_experts, batch_per_device, overlap.c_str(), all_to_all.c_str());
  std::string out = buf;
  if (draft_tokens > 0) out += ", " + std::to_string(draft_tokens) + " draft token" + (draft_tokens > 1 ? "s" : "");
  if (prefix_cache) out += ", prefix cache";
  if (prefill >= 0) {
    out += ", prefill pool of " + spec.hardware[static_cast<std::size_t>(prefill)].device;
    if (pool.devices > 0) {
      out += " (" + std::to_string(pool.replicas) + " x " + std::to_string(pool.nodes) + "x" +
             std::to_string(spec.hardware[static_cast<std::size_t>(prefill)].devices_per_node) + ", TP" +
             std::to_string(pool.attention_tp) + ", " + pool.overlap + ")";
    }
  }
  return out;
}

std::vector<Candidate> enumerate_candidates(const PlanSpec& spec) {
  std::vector<Candidate> out;
  for (int h = 0; h < static_cast<int>(spec.hardware.size()); ++h) {
    for (int n : spec.nodes) {
      if (spec.hardware[h].max_nodes > 0 && n > spec.hardware[h].max_nodes) continue;
      if (n > 1 && spec.hardware[h].scale_out.is_null()) continue;  // one node only
      for (int pp : spec.pp)
        for (int tp : spec.attention_tp)
          for (int red : spec.redundant_experts)
            for (int b : spec.batch_per_device)
              for (const auto& o : spec.overlap)
                for (const auto& a : spec.all_to_all)
                  for (const auto& etp : spec.expert_tp)
                    for (int k : spec.draft_tokens)
                      for (const auto& cache : spec.prefix_cache)
                        for (int place : spec.prefill) {
                  if (etp == "attention" && tp == 1 && spec.expert_tp.size() > 1) continue;  // the same as "off"
                  Candidate c;
                  c.prefix_cache = cache == "on";
                  c.prefill = place;
                  c.expert_tp = etp == "attention";
                  c.draft_tokens = k;
                  c.hardware = h;
                  c.nodes = n;
                  c.pp = pp;
                  c.attention_tp = tp;
                  c.redundant_experts = red;
                  c.batch_per_device = b;
                  c.overlap = o;
                  c.all_to_all = a;
                  out.push_back(std::move(c));
                }
    }
  }
  return out;
}

json candidate_scenario(const PlanSpec& spec, const Candidate& c, bool prefill, const std::string& fidelity) {
  const HardwareOption& h = spec.hardware[c.hardware];
  const int d = c.devices(spec);
  json s = {{"name", spec.model_name + (prefill ? " prefill, " : " decode, ") + c.describe(spec)},
            {"model", spec.model},
            {"cluster", {{"nodes", c.nodes},
                         {"node", {{"device", h.device}, {"devices_per_node", h.devices_per_node}, {"scale_up", h.scale_up}}}}},
            {"parallelism", {{"attention", {{"tp", c.attention_tp}, {"dp", d / std::max(1, c.attention_tp * c.pp)}}},
                             {"experts", {{"ep", c.ep(spec)}, {"tp", c.expert_tp ? c.attention_tp : 1}}},
                             {"pp", c.pp},
                             {"redundant_experts", c.redundant_experts}}},
            {"routing", {{"distribution", "uniform"}, {"seed", 1}}},
            {"communication", {{"all_to_all", c.all_to_all}}},
            {"overlap", c.overlap},
            {"fidelity", fidelity}};
  if (c.nodes > 1) s["cluster"]["scale_out"] = h.scale_out;
  if (!h.price_text.is_null()) s["price"] = {{"per_device_hour", h.price_text}};
  s["workload"] = prefill ? json{{"kind", "prefill"}, {"batch_per_device", 1}, {"input_tokens", spec.input_tokens}}
                          : json{{"kind", "decode"}, {"batch_per_device", c.batch_per_device},
                                 {"context_tokens", spec.context_tokens}};
  if (prefill && c.prefix_cache && cached_prompt_tokens(spec, true) > 0) {
    s["workload"]["cached_tokens"] = cached_prompt_tokens(spec, true);
  }
  if (!prefill && c.draft_tokens > 0) {
    s["workload"]["speculative"] = spec.speculative;
    s["workload"]["speculative"]["draft_tokens"] = c.draft_tokens;
  }
  return s;
}

std::expected<sim::Timeline, std::string> no_flow(const sim::StepGraph&) {
  return std::unexpected(std::string("moesim plan evaluates candidates at analytic fidelity"));
}

std::expected<sim::Report, std::string> run_analytic(const PlanSpec& spec, const json& scenario) {
  Diagnostics diag;
  auto s = sim::scenario_from_json(scenario, fs::path(spec.file).parent_path().string(), diag);
  if (!s) {
    for (const auto& p : diag.problems()) {
      if (p.severity == Problem::Severity::error) return std::unexpected(p.pointer + ": " + p.message);
    }
    return std::unexpected(std::string("the scenario is invalid"));
  }
  auto r = sim::simulate(*s, no_flow);
  if (!r) return std::unexpected("simulation failed: " + r.error());
  return r;
}

void evaluate_candidate(const PlanSpec& spec, Candidate& c, const std::vector<PrefillOption>& pools) {
  const HardwareOption& h = spec.hardware[c.hardware];
  const int d = c.devices(spec);
  if (d % c.pp != 0 || d % (c.attention_tp * c.pp) != 0) {
    c.status = "invalid";
    c.reason = "the split does not divide " + std::to_string(d) + " devices";
    return;
  }
  auto r = run_analytic(spec, candidate_scenario(spec, c, false, "analytic"));
  if (!r) {
    c.status = "invalid";
    c.reason = r.error();
    return;
  }
  c.tpot_s = candidate_tpot(*r);
  c.instance_tokens_per_s = c.decode_tokens_per_s = r->output_tokens_per_s;
  c.memory_fraction = r->memory_capacity > 0 ? r->memory_total / r->memory_capacity : 0;
  c.phases_s = r->phases_s;
  if (r->feasible && c.instance_tokens_per_s > 0) {
    c.status = "ok";
    if (spec.slo_tpot_s && c.tpot_s > *spec.slo_tpot_s) {
      c.status = "slo";
      c.reason = "TPOT " + ms_text(c.tpot_s) + " > " + ms_text(*spec.slo_tpot_s);
    } else {
      evaluate_prefill(spec, c, pools);
    }
  } else {
    c.status = "memory";
    c.reason = r->reason;
  }
  if (c.instance_tokens_per_s > 0) {
    c.usd_per_million_tokens = usd_per_million_at(spec, c, c.instance_tokens_per_s, &c.replicas, &c.usd_per_hour);
    c.joules_per_token += d * h.tdp_w / c.instance_tokens_per_s;  // after the prefill pool's share, if any
  }
}

std::vector<std::size_t> pareto_front(const std::vector<std::array<double, 3>>& points) {
  std::vector<std::size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return points[a] < points[b]; });
  std::vector<std::size_t> front;
  for (std::size_t i : order) {
    // Sorted lexicographically: only an earlier point can dominate this one.
    const bool dominated = std::any_of(front.begin(), front.end(), [&](std::size_t f) {
      const auto& p = points[f];
      const auto& q = points[i];
      return p[0] <= q[0] && p[1] <= q[1] && p[2] <= q[2];
    });
    if (!dominated) front.push_back(i);
  }
  return front;
}

namespace {

// One progress line for front ends (--progress jsonl).
void progress_line(const char* phase, double fraction) {
  std::fprintf(stderr, "%s\n", json{{"event", "phase"}, {"name", phase}, {"fraction", fraction}}.dump().c_str());
  std::fflush(stderr);
}


// The SLO a fitting candidate misses by the largest factor, and that factor.
std::pair<std::string, double> worst_slo(const PlanSpec& spec, const Candidate& c) {
  std::pair<std::string, double> worst{"", 0};
  if (spec.slo_tpot_s) worst = {"TPOT", c.tpot_s / *spec.slo_tpot_s};
  if (spec.slo_ttft_s && c.ttft_s >= 0 && c.ttft_s / *spec.slo_ttft_s > worst.second) {
    worst = {"TTFT", c.ttft_s / *spec.slo_ttft_s};
  }
  return worst;
}

std::string constraint_of(const Candidate& c) {
  if (c.status == "memory") return "memory";
  if (c.status == "invalid") return "invalid split";
  if (c.reason.rfind("TPOT", 0) == 0) return "TPOT";
  return "TTFT";
}

// Why a flow confirmation differs from the closed form, from the flow report's contention
// (docs/models.md, "Flow against the closed form").
std::string contention_text(const json& report) {
  const auto c = report.find("contention");
  if (c == report.end() || !c->is_object()) return "the flow report states no contention";
  const double added = c->value("added_s", 0.0);
  std::string by;
  if (const auto it = c->find("by_traffic_class_s"); it != c->end() && it->is_object()) {
    std::vector<std::pair<double, std::string>> classes;
    for (const auto& [k, v] : it->items()) classes.emplace_back(v.get<double>(), k);
    std::sort(classes.rbegin(), classes.rend());
    for (const auto& [v, k] : classes) by += (by.empty() ? "" : ", ") + k + " +" + ms_text(v);
  }
  if (added <= 0 && by.empty()) return "no link is shared unevenly (non-blocking fabric, one collective at a time)";
  return "link sharing adds " + ms_text(added) + " per step" + (by.empty() ? "" : " (" + by + ", summed over collectives)");
}

std::string bottleneck_text(const Candidate& c) {
  double total = 0;
  for (const auto& [k, v] : c.phases_s) total += v;
  std::vector<std::pair<double, std::string>> phases;
  for (const auto& [k, v] : c.phases_s) {
    if (v > 0) phases.emplace_back(v, k);
  }
  std::sort(phases.rbegin(), phases.rend());
  std::string out;
  for (std::size_t i = 0; i < std::min<std::size_t>(phases.size(), 4); ++i) {
    out += (i == 0 ? "" : i == 1 ? " (then " : ", ") + phases[i].second + " " + fmt("%.0f%%", 100 * phases[i].first / total);
  }
  return out + (phases.size() > 1 ? " of the summed phase times)" : "");
}

}  // namespace

int cmd_plan(const PlanOptions& options) {
  Diagnostics diag(options.spec_path);
  auto spec = load_plan_spec(options.spec_path, diag);
  for (const auto& p : diag.problems()) std::cerr << p.to_string() << "\n";
  if (!spec) return 1;
  const fs::path dir = options.out_dir.empty() ? fs::path(fs::path(options.spec_path).stem().string() + ".plan")
                                               : fs::path(options.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << dir.string() << ": cannot create the plan folder: " << ec.message() << "\n";
    return 1;
  }

  auto all = enumerate_candidates(*spec);
  if (all.empty()) {
    std::cerr << options.spec_path << ":/search: the search space is empty (no node count fits the hardware options)\n";
    return 1;
  }
  // Keep freed memory in the heap rather than returning it to the kernel after every candidate
  // (a third of the time otherwise). glibc refuses an mmap threshold above 32 MiB: the 256 MiB
  // asked for here before was silently ignored.
  keep_freed_memory();
  // Candidates are independent and the core library keeps no mutable global state: threads.
  const int threads = std::min<int>(parallel_slots(options.jobs), static_cast<int>(all.size()));
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<PrefillOption> pools = evaluate_prefill_pools(*spec);
  std::atomic<std::size_t> next{0}, done{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < all.size(); i = next++) {
        evaluate_candidate(*spec, all[i], pools);
        ++done;
      }
    });
  }
  if (options.progress) {
    while (done < all.size()) {
      progress_line("evaluating", 0.8 * static_cast<double>(done) / static_cast<double>(all.size()));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  for (auto& t : pool) t.join();
  const double eval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::map<std::string, std::size_t> by_status;
  for (const auto& c : all) ++by_status[c.status];

  std::string slo_text;
  if (spec->slo_tpot_s) slo_text += ", TPOT p99 <= " + ms_text(*spec->slo_tpot_s);
  if (spec->slo_ttft_s) slo_text += ", TTFT p99 <= " + ms_text(*spec->slo_ttft_s);
  std::printf("moesim plan: %s at %s output tokens/s%s\n", spec->model_name.c_str(),
              count_text(static_cast<std::size_t>(spec->output_tokens_per_s)).c_str(), slo_text.c_str());
  std::printf("searched %s candidates in %.2f s (%.0f/s, analytic, %d thread%s): %zu meet the SLOs, %zu miss an SLO, "
              "%zu do not fit in memory, %zu are invalid splits\n",
              count_text(all.size()).c_str(), eval_s, static_cast<double>(all.size()) / eval_s, threads,
              threads == 1 ? "" : "s", by_status["ok"],
              by_status["slo"], by_status["memory"], by_status["invalid"]);

  json plan = {{"spec", options.spec_path}, {"model", spec->model_name},
               {"required_output_tokens_per_s", spec->output_tokens_per_s},
               {"candidates", all.size()}, {"evaluation_s", eval_s}, {"threads", threads}, {"by_status", by_status}};
  std::vector<std::size_t> ok;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].status == "ok") ok.push_back(i);
  }
  int rc = 0;
  if (ok.empty()) {
    // Unsatisfiable: the closest candidates, by how far they miss.
    std::vector<std::size_t> close;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].status == "slo") close.push_back(i);
    }
    std::string binding;
    if (!close.empty()) {
      std::sort(close.begin(), close.end(),
                [&](std::size_t a, std::size_t b) { return worst_slo(*spec, all[a]).second < worst_slo(*spec, all[b]).second; });
      binding = worst_slo(*spec, all[close[0]]).first;
      std::printf("NO candidate meets the SLOs. Closest (the binding constraint is %s):\n", binding.c_str());
    } else {
      for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].status == "memory") close.push_back(i);
      }
      std::sort(close.begin(), close.end(),
                [&](std::size_t a, std::size_t b) { return all[a].memory_fraction < all[b].memory_fraction; });
      binding = close.empty() ? "invalid split" : "memory";
      std::printf("NO candidate fits: the binding constraint is %s. Closest:\n", binding.c_str());
    }
    json closest = json::array();
    for (std::size_t k = 0; k < std::min<std::size_t>(close.size(), 5); ++k) {
      const Candidate& c = all[close[k]];
      std::printf("  %s\n    %s; $%.3f per million tokens\n", c.describe(*spec).c_str(), c.reason.c_str(),
                  c.usd_per_million_tokens);
      closest.push_back(candidate_json(*spec, c));
    }
    if (close.empty()) std::printf("  (every candidate is an invalid split; first: %s)\n", all[0].reason.c_str());
    if (options.uncertainty > 0) {
      std::printf("intervals: none sampled (no candidate meets the SLOs at the nominal figures)\n");
      plan["uncertainty"] = {{"samples", options.uncertainty}, {"candidates_sampled", 0},
                             {"explanation", "no candidate meets the SLOs at the nominal figures: nothing to sample"}};
    }
    plan["feasible"] = false;
    plan["binding_constraint"] = binding;
    plan["closest"] = closest;
    rc = 3;
  } else {
    std::vector<std::array<double, 3>> objectives;
    for (auto i : ok) objectives.push_back({all[i].usd_per_million_tokens, all[i].tpot_s, all[i].joules_per_token});
    std::vector<std::size_t> front;
    for (auto k : pareto_front(objectives)) front.push_back(ok[k]);
    std::sort(front.begin(), front.end(), [&](std::size_t a, std::size_t b) {
      return std::tie(all[a].usd_per_hour, all[a].tpot_s) < std::tie(all[b].usd_per_hour, all[b].tpot_s);
    });

    // Every front member's scenario, for a front end to open (plan.json's front[].scenario_file).
    fs::create_directories(dir / "front", ec);
    std::vector<std::string> front_files;
    for (std::size_t k = 0; k < front.size(); ++k) {
      const fs::path file = dir / "front" / ("candidate-" + std::to_string(k + 1) + ".json");
      if (std::string why; !write_file_atomic(file.string(), candidate_scenario(*spec, all[front[k]], false, "flow").dump(2) + "\n", &why)) {
        std::cerr << file.string() << ": cannot write the file (" << why << ")\n";
        return 1;
      }
      front_files.push_back(fs::absolute(file).string());
    }
    if (options.progress) progress_line("confirming", 0.8);
    // Flow confirmation of the cheapest on the front, in child processes.
    const std::size_t top = options.confirm ? std::min<std::size_t>(front.size(), static_cast<std::size_t>(spec->confirm_top)) : 0;
    fs::create_directories(dir / "confirm", ec);
    auto make_run = [&](std::size_t k) {
      const fs::path file = dir / "confirm" / ("candidate-" + std::to_string(k + 1) + ".json");
      write_file_atomic(file.string(), candidate_scenario(*spec, all[front[k]], false, "flow").dump(2) + "\n");
      return ScenarioRun{file.string(), "flow", (dir / "confirm" / ("candidate-" + std::to_string(k + 1))).string(), 600};
    };
    std::vector<std::string> confirm_errors(top);
    const auto t1 = std::chrono::steady_clock::now();
    run_scenarios(top, parallel_slots(options.jobs), make_run, [&](std::size_t k, const ScenarioOutcome& o) {
      if (o.report && lookup(*o.report, "latency.tpot_s.p99")) {
        all[front[k]].flow_tpot_s = lookup(*o.report, "latency.tpot_s.p99")->get<double>();
        all[front[k]].flow_difference = contention_text(*o.report);
      } else {
        confirm_errors[k] = o.error.empty() ? o.status : o.error;
      }
    });
    const double confirm_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    // The winner: the cheapest that flow confirms (or the cheapest, without confirmation).
    std::size_t winner = front[0];
    for (std::size_t k = 0; k < top; ++k) {
      const Candidate& c = all[front[k]];
      if (c.flow_tpot_s && (!spec->slo_tpot_s || *c.flow_tpot_s <= *spec->slo_tpot_s)) {
        winner = front[k];
        break;
      }
    }
    const Candidate& w = all[winner];
    std::map<std::string, std::size_t> cheaper;
    std::size_t n_cheaper = 0;
    for (const auto& c : all) {
      if (c.status != "ok" && c.status != "invalid" && c.usd_per_million_tokens < w.usd_per_million_tokens) {
        ++cheaper[constraint_of(c)];
        ++n_cheaper;
      }
    }
    // Nothing cheaper failed a constraint: the search's own bounds hold the winner.
    std::string binding = "none of the SLOs: it is the cheapest candidate evaluated";
    const auto edge = [&](const std::vector<int>& v, int x, const char* key, bool up) {
      if (x == (up ? *std::max_element(v.begin(), v.end()) : *std::min_element(v.begin(), v.end())) && v.size() > 0) {
        binding += std::string("; its ") + key + " (" + std::to_string(x) + ") is the " + (up ? "largest" : "smallest") +
                   " searched";
      }
    };
    std::string cheaper_text;
    if (n_cheaper == 0) {
      edge(spec->batch_per_device, w.batch_per_device, "batch_per_device", true);
      edge(spec->nodes, w.nodes, "node count", false);
    } else {
      binding = std::max_element(cheaper.begin(), cheaper.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; })->first;
      for (const auto& [k, v] : cheaper) cheaper_text += (cheaper_text.empty() ? "" : ", ") + std::to_string(v) + " " + k;
    }
    const HardwareOption& h = spec->hardware[w.hardware];
    std::printf("Pareto front (cost per million tokens, TPOT, energy per token): %zu candidates\n", front.size());
    std::printf("winner: %s\n", w.describe(*spec).c_str());
    std::printf("  $%.4f per million output tokens: %d replica%s of %d devices = %d %s at $%.2f/h = $%.0f/h",
                w.usd_per_million_tokens, w.replicas, w.replicas == 1 ? "" : "s", w.devices(*spec),
                w.replicas * w.devices(*spec), h.device.c_str(), h.price_per_device_hour, w.usd_per_hour - w.pool.usd_per_hour);
    if (w.pool.devices > 0) {
      const HardwareOption& ph = spec->hardware[static_cast<std::size_t>(w.prefill)];
      std::printf(", and a prefill pool of %d replica%s of %d = %d %s at $%.2f/h = $%.0f/h; $%.0f/h in all",
                  w.pool.replicas, w.pool.replicas == 1 ? "" : "s", w.pool.devices, w.pool.replicas * w.pool.devices,
                  ph.device.c_str(), ph.price_per_device_hour, w.pool.usd_per_hour, w.usd_per_hour);
    }
    std::printf("\n");
    std::printf("  TPOT %s", ms_text(w.tpot_s).c_str());
    if (spec->slo_tpot_s) std::printf(" (%.0f%% of the SLO)", 100 * w.tpot_s / *spec->slo_tpot_s);
    if (w.ttft_s >= 0) {
      std::printf(", TTFT %s (%s, no queueing)", ms_text(w.ttft_s).c_str(),
                  w.prefill >= 0 ? ("prefill pool " + ms_text(w.pool.step_s) + " + KV transfer " + ms_text(w.pool.kv_transfer_s)).c_str()
                                 : "one prompt per rank");
    }
    if (w.prefill_share > 0) std::printf(", %.0f%% of its time prefilling", 100 * w.prefill_share);
    std::printf(", memory %.0f%% of capacity, %.3f J/token (devices at TDP: an upper bound)\n",
                100 * w.memory_fraction, w.joules_per_token);
    std::printf("  binding constraint: %s", binding.c_str());
    if (n_cheaper > 0) std::printf(" (of %zu cheaper candidates: %s)", n_cheaper, cheaper_text.c_str());
    std::printf("\n  bottleneck phase: %s\n", bottleneck_text(w).c_str());
    for (std::size_t k = 0; k < top; ++k) {
      const Candidate& c = all[front[k]];
      if (c.flow_tpot_s) {
        std::printf("  flow check #%zu: TPOT %s at flow fidelity vs %s analytic (%+.1f%%)%s; %s\n", k + 1,
                    ms_text(*c.flow_tpot_s).c_str(), ms_text(c.tpot_s).c_str(), 100 * (*c.flow_tpot_s / c.tpot_s - 1),
                    spec->slo_tpot_s && *c.flow_tpot_s > *spec->slo_tpot_s ? ": MISSES the TPOT SLO" : "",
                    c.flow_difference.c_str());
      } else {
        std::printf("  flow check #%zu: failed: %s\n", k + 1, confirm_errors[k].c_str());
      }
    }
    if (top > 0) std::printf("  (%zu flow runs in %.1f s; their scenarios are in %s)\n", top, confirm_s,
                             (dir / "confirm").string().c_str());
    if (options.uncertainty > 0) {
      if (options.progress) progress_line("intervals", 0.85);
      const PlanUncertainty u = sample_plan(*spec, all, front, options.uncertainty, threads);
      plan["uncertainty"] = report_plan_uncertainty(*spec, all, winner, u);
    }
    json front_json = json::array();
    for (std::size_t k = 0; k < front.size(); ++k) {
      json c = candidate_json(*spec, all[front[k]]);
      c["scenario_file"] = front_files[k];
      front_json.push_back(c);
    }
    std::vector<Candidate> front_rows;
    for (auto i : front) front_rows.push_back(all[i]);
    plan["feasible"] = true;
    plan["winner"] = candidate_json(*spec, w);
    plan["explanation"] = {{"binding_constraint", binding}, {"cheaper_candidates", cheaper},
                           {"bottleneck_phase", bottleneck_text(w)},
                           {"ttft_basis", w.ttft_s < 0 ? "not estimated (no TTFT SLO, no prefill load)"
                                          : w.prefill >= 0 ? "the prefill pool's prefill of one prompt per attention rank and the KV transfer, no queueing"
                                                           : "prefill of one prompt per attention rank, no queueing"},
                           {"energy_basis", "devices at TDP over the output rate: an upper bound"}};
    plan["front"] = front_json;
    if (!write_file_atomic((dir / "front.csv").string(), candidates_csv(*spec, front_rows))) rc = 1;
    std::string error;
    if (plot_front(*spec, all, front, winner, dir, error)) {
      std::printf("plot: %s\n", (dir / "front.png").string().c_str());
    } else {
      std::cerr << "moesim plan: " << error << "\n";
    }
  }
  if (options.progress) progress_line("writing", 0.95);
  if (std::string why; !write_file_atomic((dir / "plan.json").string(), plan.dump(2) + "\n", &why) ||
                        !write_file_atomic((dir / "candidates.csv").string(), candidates_csv(*spec, all), &why)) {
    std::cerr << dir.string() << ": cannot write the plan (" << why << ")\n";
    return 1;
  }
  std::printf("results: %s (plan.json, front.csv, candidates.csv)\n", dir.string().c_str());
  return rc;
}

}  // namespace moesim::tools
