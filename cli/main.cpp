// moesim: the command-line front end. It parses arguments, prints problems and reports; all
// modelling lives in the libraries.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <ranges>

#include "allocator.hpp"
#include "file_io.hpp"
#include "catalog.hpp"
#include "compare_trace.hpp"
#include "fitter.hpp"
#include "kineto_trace.hpp"
#include "hw_profile.hpp"
#include "json_reader.hpp"
#include "model/model.hpp"
#include "process_pool.hpp"
#include "run_point.hpp"
#include "input/input.hpp"
#include "workloads/workloads.hpp"
#include "tools.hpp"
#include "topology.hpp"
#include "report/report.hpp"
#include "units.hpp"

namespace {

using namespace moesim;

// Exit codes (docs/cli.md).
constexpr int kExitOk = 0;
constexpr int kExitInputError = 1;     // invalid scenario, missing file, bad options
constexpr int kExitInfeasible = 3;     // the run worked: the deployment does not fit
constexpr int kExitSimFailure = 4;     // the simulator itself failed

void print_problems(const Diagnostics& diag) {
  for (const auto& p : diag.problems()) std::cerr << p.to_string() << "\n";
}

int write_output(const std::string& text, const std::string& out_path) {
  if (out_path.empty()) {
    std::cout << text;
    return kExitOk;
  }
  if (std::string why; !write_file_atomic(out_path, text, &why)) {  // a temporary file, then a rename
    std::cerr << out_path << ": cannot write the file (" << why << ")\n";
    return kExitInputError;
  }
  return kExitOk;
}

// A command never writes over what it reads: true (and says so) when an output names the same
// file as one of the inputs. Outputs that do not exist yet cannot be one.
bool overwrites_an_input(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs) {
  for (const std::string& out : outputs) {
    for (const std::string& in : inputs) {
      std::error_code ec;
      if (out.empty() || in.empty() || !std::filesystem::equivalent(out, in, ec) || ec) continue;
      std::cerr << out << ": is an input of this command (" << in << "); refusing to write over it: choose another output file\n";
      return true;
    }
  }
  return false;
}

// Checks before a run that `path` can be written, so a long simulation never ends in a lost
// result. Leaves no file behind.
bool writable(const std::string& path) {
  const std::string probe = path + ".tmp";
  std::ofstream f(probe, std::ios::binary);
  const bool ok = static_cast<bool>(f);
  f.close();
  std::remove(probe.c_str());
  return ok;
}

// `moesim run --progress jsonl`: one JSON object per line on standard error, so a front end (the
// GUI runs each simulation as a child process) can show where a run is. Other stderr lines are
// plain-text problems. Events: start, phase {name, fraction}, done {exit}.
class RunProgress {
 public:
  explicit RunProgress(bool enabled) : enabled_(enabled) {}
  void event(nlohmann::json e) const {
    if (enabled_) std::cerr << e.dump() << std::endl;  // flushed: the reader is live
  }
  void phase(const char* name, double fraction) const {
    event({{"event", "phase"}, {"name", name}, {"fraction", fraction}});
  }

 private:
  bool enabled_;
};

// `moesim run --power-cap 400W,500W,...`: the scenario once per cap, side by side (docs/power.md).
int run_power_caps(const sim::Scenario& base, const std::string& caps_text, const std::string& format,
                   const std::string& out_path) {
  Diagnostics diag("--power-cap");
  std::vector<sim::Scenario> runs;
  std::size_t at = 0;
  while (at <= caps_text.size()) {
    const std::size_t comma = std::min(caps_text.find(',', at), caps_text.size());
    const std::string item = caps_text.substr(at, comma - at);
    at = comma + 1;
    auto cap = parse_quantity(item, Dimension::power);
    if (!cap) {
      diag.error("", "'" + item + "': " + cap.error().message, "a comma-separated list of powers, e.g. 400W,500W,700W");
      continue;
    }
    sim::Scenario s = base;
    if (sim::set_power_cap(s, *cap, "", diag)) runs.push_back(std::move(s));
  }
  print_problems(diag);
  if (diag.has_errors()) return kExitInputError;
  nlohmann::json rows = nlohmann::json::array();
  bool all_feasible = true;
  for (const auto& s : runs) {
    auto report = sim::simulate(s, tools::flow_engine(s.limits));
    if (!report) {
      std::cerr << "moesim: simulation failed at cap " << format_quantity(*s.power_cap_w, Dimension::power) << ": "
                << report.error() << "\n";
      return kExitSimFailure;
    }
    all_feasible = all_feasible && report->feasible;
    rows.push_back({{"cap_w", *s.power_cap_w}, {"report", report->to_json()}});
  }
  auto num = [](const nlohmann::json& j, const char* ptr) {
    const auto p = nlohmann::json::json_pointer(ptr);
    return j.contains(p) && j.at(p).is_number() ? j.at(p).get<double>() : 0.0;
  };
  std::string text;
  if (format == "json") {
    text = nlohmann::json{{"scenario", base.name}, {"power_caps", rows}}.dump(2) + "\n";
  } else {
    const bool csv = format == "csv";
    const bool prefill = base.workload.kind == sim::WorkloadKind::prefill;
    const char* latency = prefill ? "/latency/ttft_s/p50" : "/latency/tpot_s/p50";
    char line[256];
    text = csv ? "cap_w,output_tokens_per_s,input_tokens_per_s,latency_p50_s,avg_w_per_device,peak_w_per_device,tokens_per_joule,joules_per_token\n"
               : "moesim power caps: " + base.name + "\n\n" +
                     "      cap   output tok/s    input tok/s   p50 " + (prefill ? "TTFT" : "TPOT") +
                     "   avg W/dev  peak W/dev   tokens/J\n";
    for (const auto& row : rows) {
      const auto& r = row["report"];
      std::snprintf(line, sizeof line, csv ? "%g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n" : "  %6.0fW %14.1f %14.1f %10.4g s %10.1f %11.1f %10.4g\n",
                    row["cap_w"].get<double>(), num(r, "/throughput/output_tokens_per_s"), num(r, "/throughput/input_tokens_per_s"),
                    num(r, latency), num(r, "/power/avg_w_per_device"), num(r, "/power/peak_w_per_device"),
                    num(r, "/energy/tokens_per_joule"), num(r, "/energy/joules_per_token"));
      text += line;
    }
  }
  if (const int rc = write_output(text, out_path); rc != kExitOk) return rc;
  return all_feasible ? kExitOk : kExitInfeasible;
}

int cmd_run(const std::string& file, const std::string& format, const std::string& out_path,
            const std::string& fidelity, const std::string& trace_path, const std::string& hw_profile,
            const std::string& power_caps, const sim::UncertaintyOptions* uncertainty, const RunProgress& progress,
            bool always_simulate) {
  if (uncertainty != nullptr) {
    if (const std::string problem = sim::uncertainty_samples_problem(uncertainty->samples); !problem.empty()) {
      std::cerr << "moesim: " << problem << "\n";
      return kExitInputError;
    }
  }
  progress.phase("validating", 0.0);
  Diagnostics diag(file.empty() ? "<embedded default>" : file);
  auto scenario = file.empty() ? sim::default_scenario(diag) : sim::load_scenario_file(file, diag);
  print_problems(diag);  // warnings too
  if (!scenario) return kExitInputError;
  if (fidelity == "analytic") scenario->fidelity = sim::Fidelity::analytic;
  if (fidelity == "flow") scenario->fidelity = sim::Fidelity::flow;
  scenario->limits.always_simulate = always_simulate;
  if (!hw_profile.empty()) {
    // --hw-profile replaces the scenario's own "hw_profile", if any.
    Diagnostics pd(hw_profile);
    const bool ok = sim::attach_hw_profile(*scenario, hw_profile, "", pd);
    print_problems(pd);
    if (!ok) return kExitInputError;
  }
  if (overwrites_an_input({out_path, trace_path}, {file, hw_profile})) return kExitInputError;
  for (const std::string& path : {out_path, trace_path}) {
    if (!path.empty() && !writable(path)) {
      std::cerr << path << ": cannot write here (check the folder exists and is writable)\n";
      return kExitInputError;
    }
  }
  if (!power_caps.empty()) return run_power_caps(*scenario, power_caps, format, out_path);
  progress.phase("simulating", 0.1);
  sim::SimulationDetail detail;
  auto report = sim::simulate(*scenario, tools::flow_engine(scenario->limits), trace_path.empty() ? nullptr : &detail);
  if (!report) {
    std::cerr << "moesim: simulation failed: " << report.error() << "\n";
    return kExitSimFailure;
  }
  if (uncertainty != nullptr && report->simulated) {
    progress.phase("sampling", 0.5);
    auto stats = sim::propagate_uncertainty(*scenario, *report, *uncertainty);
    if (!stats) {
      std::cerr << "moesim: uncertainty: " << stats.error() << "\n";
      return kExitSimFailure;
    }
    report->uncertainty = *stats;
  }
  progress.phase("writing", 0.9);
  std::string text;
  if (format == "json") {
    text = report->to_json().dump(2) + "\n";
  } else if (format == "csv") {
    text = sim::report_to_csv(report->to_json());
  } else {
    text = sim::report_to_table(*report);
  }
  if (const int rc = write_output(text, out_path); rc != kExitOk) return rc;
  if (!trace_path.empty()) {
    const auto trace = sim::chrome_trace(detail.graph, detail.timeline, report->scenario);
    if (const int rc = write_output(trace.dump() + "\n", trace_path); rc != kExitOk) return rc;
  }
  if (!report->feasible) {
    std::cerr << "moesim: infeasible: " << report->reason << "\n";
    return kExitInfeasible;
  }
  return kExitOk;
}

int cmd_validate(const std::vector<std::string>& files) {
  int rc = kExitOk;
  for (const auto& f : files) {
    Diagnostics diag(f);
    auto s = sim::load_scenario_file(f, diag);
    print_problems(diag);
    if (!s) {
      rc = kExitInputError;
    } else {
      std::cout << f << ": ok (" << s->name << ")\n";
    }
  }
  return rc;
}

std::string billions(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fB", x / 1e9);
  return buf;
}

int cmd_models() {
  std::printf("%-24s %-12s %10s %10s %8s %6s\n", "preset", "family", "total", "active", "experts", "top-k");
  for (const auto& name : sim::preset_names()) {
    Diagnostics diag;
    auto m = sim::load_preset(name, diag);
    if (!m) {
      print_problems(diag);
      return kExitSimFailure;
    }
    const auto pc = sim::count_parameters(*m);
    std::printf("%-24s %-12s %10s %10s %8d %6d\n", name.c_str(), m->family.c_str(),
                billions(pc.total).c_str(), billions(pc.active).c_str(), m->moe.num_experts,
                m->moe.top_k);
  }
  return kExitOk;
}

int cmd_devices() {
  const auto& cat = hw::Catalog::builtin();
  std::printf("%-24s %-6s %12s %12s %10s %12s %7s %9s  %s\n", "device", "kind", "bf16", "fp8",
              "memory", "bandwidth", "TDP", "price", "description");
  for (const auto& d : cat.devices()) {
    auto peak = [&](hw::DType t) {
      auto p = d.peak(t);
      return p ? format_quantity(*p, Dimension::flop_rate) : std::string("-");
    };
    std::printf("%-24s %-6s %12s %12s %10s %12s %7s %9s  %s\n", d.name.c_str(), d.kind.c_str(),
                peak(hw::DType::bf16).c_str(), peak(hw::DType::fp8).c_str(),
                format_quantity(d.memory_bytes, Dimension::bytes).c_str(),
                format_quantity(d.memory_bandwidth, Dimension::bandwidth).c_str(),
                format_quantity(d.tdp_w, Dimension::power).c_str(),
                d.price_per_hour ? format_quantity(*d.price_per_hour, Dimension::price_per_hour).c_str() : "-",
                d.description.c_str());
  }
  return kExitOk;
}

int cmd_links() {
  const auto& cat = hw::Catalog::builtin();
  // "msg eff." and "msg +": per-token-message efficiency and overhead (low-latency all-to-all,
  // docs/catalog.md); "-" where the link has no such figure and bulk figures apply.
  std::printf("%-14s %-10s %12s %6s %10s %8s %8s  %s\n", "link", "class", "bandwidth", "eff.", "latency",
              "msg eff.", "msg +", "description");
  for (const auto& l : cat.links()) {
    char msg_eff[16] = "-";
    if (l.message_efficiency) std::snprintf(msg_eff, sizeof msg_eff, "%.2f", *l.message_efficiency);
    const std::string msg_over =
        l.message_overhead_s > 0 ? format_quantity(l.message_overhead_s, Dimension::time) : "-";
    std::printf("%-14s %-10s %12s %6.2f %10s %8s %8s  %s\n", l.name.c_str(), l.link_class.c_str(),
                format_quantity(l.bandwidth, Dimension::bandwidth).c_str(), l.efficiency,
                format_quantity(l.latency_s, Dimension::time).c_str(), msg_eff, msg_over.c_str(),
                l.description.c_str());
  }
  return kExitOk;
}

// `moesim fit`: raw samples from moesim-calibrate -> a hardware profile (docs/calibration.md).
// The profile goes to --out (the summary to standard output) or, without it, to standard output
// (the summary to standard error).
int cmd_fit(const std::string& raw_path, const std::string& out_path, const calibrate::FitOptions& options) {
  if (overwrites_an_input({out_path}, {raw_path})) return kExitInputError;
  Diagnostics diag(raw_path);
  std::optional<hw::HwProfile> profile;
  if (auto raw = read_json_file(raw_path, diag)) profile = calibrate::fit_profile(*raw, options, diag);
  print_problems(diag);
  if (!profile) return kExitInputError;
  (out_path.empty() ? std::cerr : std::cout) << calibrate::fit_summary(*profile);
  return write_output(hw::hw_profile_to_json(*profile).dump(2) + "\n", out_path);
}

// `moesim fit --trace`: a Kineto trace -> time per kernel class, stream and pass
// (calibrate/fit/kineto_trace.hpp), as a table or JSON, to standard output or --out.
int cmd_fit_trace(const std::string& path, const std::string& device, bool as_json, const std::string& out_path) {
  if (overwrites_an_input({out_path}, {path})) return kExitInputError;
  Diagnostics diag(path);
  std::optional<calibrate::TraceSummary> summary;
  if (auto doc = read_json_file(path, diag)) summary = calibrate::summarize_kineto_trace(*doc, device, diag);
  print_problems(diag);
  if (!summary) return kExitInputError;
  const std::string text = as_json ? calibrate::trace_summary_to_json(*summary).dump(2) + "\n"
                                   : "moesim trace: " + path + "\n" + calibrate::trace_summary_table(*summary);
  return write_output(text, out_path);
}

// `moesim compare-trace`: a scenario's kernel time per class against a measured trace (or its
// `fit --trace --json` summary); with --fit-profile, the memory-bound classes' achieved
// bandwidth written into a copy of the scenario's hardware profile.
int cmd_compare_trace(const std::string& scenario_file, const std::string& trace_file, int layers, bool as_json,
                      const std::string& fit_profile, const std::string& out_path) {
  if (overwrites_an_input({out_path, fit_profile}, {scenario_file, trace_file})) return kExitInputError;
  Diagnostics diag(scenario_file);
  auto scenario = sim::load_scenario_file(scenario_file, diag);
  print_problems(diag);
  if (!scenario) return kExitInputError;
  Diagnostics tdiag(trace_file);
  std::optional<calibrate::TraceSummary> trace;
  if (auto doc = read_json_file(trace_file, tdiag)) {
    trace = calibrate::is_trace_summary(*doc) ? calibrate::trace_summary_from_json(*doc, tdiag)
                                              : calibrate::summarize_kineto_trace(*doc, scenario->cluster.device->name, tdiag);
  }
  print_problems(tdiag);
  if (!trace) return kExitInputError;
  const auto cmp = tools::compare_trace(*scenario, *trace, layers);
  if (!cmp) {
    std::cerr << trace_file << ": " << cmp.error() << "\n";
    return kExitInputError;
  }
  if (!fit_profile.empty()) {
    hw::HwProfile profile = scenario->hw_profile ? *scenario->hw_profile : hw::HwProfile{};
    profile.device = scenario->cluster.device->name;
    const hw::Device& dev = *scenario->cluster.device;
    const auto implied = tools::implied_class_calibration(
        *cmp, dev.memory_bandwidth, dev.peak(hw::DType::bf16).value_or(0),
        "moesim compare-trace --fit-profile " + scenario_file + " " + trace_file + " (" + std::to_string(cmp->layers) +
            " MoE layers): moesim's counted forward bytes (FLOPs for attention) over the trace's forward kernel time; "
            "backward_ratio = the trace's backward / forward kernel time");
    for (const auto& [name, cal] : implied) {  // the figures the trace gives; others stay
      hw::KernelClassCalibration& k = profile.kernel_classes[name];
      if (cal.bandwidth_efficiency) k.bandwidth_efficiency = cal.bandwidth_efficiency;
      if (cal.compute_efficiency) k.compute_efficiency = cal.compute_efficiency;
      if (cal.backward_ratio) k.backward_ratio = cal.backward_ratio;
      k.source = cal.source;
      profile.uncertainty["kernel_classes." + name] = {
          hw::UncertaintyClass::derived, 0.10, "derived from a measured trace by moesim compare-trace --fit-profile"};
    }
    if (const int rc = write_output(hw::hw_profile_to_json(profile).dump(2) + "\n", fit_profile); rc != kExitOk) return rc;
    std::cerr << "wrote " << implied.size() << " kernel classes' bandwidth to " << fit_profile << "\n";
  }
  const std::string text = as_json ? tools::trace_comparison_to_json(*cmp).dump(2) + "\n"
                                   : "moesim compare-trace: " + scenario_file + " against " + trace_file + "\n" +
                                         tools::trace_comparison_table(*cmp);
  return write_output(text, out_path);
}

// `moesim accuracy`: the validation cases' predictions against their published values. Exit 4
// when a case no longer runs (its row says why); errors beyond the target are reported, not fatal
// (the JUnit form marks them failed).
int cmd_accuracy(const sim::AccuracyOptions& options, const std::string& format, double tolerance, const std::string& out) {
  if (options.samples != 0) {  // 0: no intervals
    if (const std::string problem = sim::uncertainty_samples_problem(options.samples); !problem.empty()) {
      std::cerr << "moesim accuracy: " << problem << "\n";
      return kExitInputError;
    }
  }
  if (!out.empty() && !writable(out)) {
    std::cerr << out << ": cannot write here (check the folder exists and is writable)\n";
    return kExitInputError;
  }
  const auto rows = sim::run_accuracy(options);
  if (rows.empty()) {
    std::cerr << "moesim accuracy: no validation case" << (options.only.empty() ? "" : " '" + options.only + "'")
              << " with a prediction\n";
    return kExitInputError;
  }
  const std::string text = format == "json"    ? sim::accuracy_json(rows).dump(2) + "\n"
                           : format == "junit" ? sim::accuracy_junit(rows, tolerance)
                                               : sim::accuracy_markdown(rows);
  if (const int rc = write_output(text, out); rc != kExitOk) return rc;
  return sim::summarize_accuracy(rows).failed > 0 ? kExitSimFailure : kExitOk;
}

// `moesim topology`: the fabric graph of a scenario's cluster (hwmodels/topology.hpp), its hop
// counts and bisection, and the links a uniform expert-parallel all-to-all loads most.
int cmd_topology(const std::string& file, bool as_json, const std::string& pair_bytes_text) {
  Diagnostics diag(file);
  auto scenario = sim::load_scenario_file(file, diag);
  print_problems(diag);
  if (!scenario) return kExitInputError;
  const hw::FabricSpec spec = sim::fabric_of(*scenario);
  // Beyond this the n x n routing (and the graph itself) stop being a quick look.
  constexpr int kMaxDevices = 16384;
  if (spec.num_devices() > kMaxDevices) {
    std::cerr << file << ":/cluster: " << spec.num_devices()
              << " devices are more than moesim topology analyses (" << kMaxDevices << ")\n";
    return kExitInputError;
  }
  // Uniform routing: each token's top_k copies spread evenly over all devices, fp8 (1 byte per
  // hidden element); a dense model, or --pair-bytes, gives a plain per-pair size.
  const sim::ModelConfig& m = scenario->model.config;
  const double tokens = static_cast<double>(scenario->workload.batch_per_device) *
                        (scenario->workload.kind == sim::WorkloadKind::prefill ? scenario->workload.input_tokens : 1);
  double pair_bytes = 1e6;
  std::string basis = "unit all-to-all: 1 MB per pair (dense model)";
  if (!pair_bytes_text.empty()) {
    auto b = parse_quantity(pair_bytes_text, Dimension::bytes);
    if (!b || !(*b > 0)) {
      std::cerr << "--pair-bytes: " << (b ? std::string("must be above zero") : b.error().message)
                << " (e.g. 1MB)\n";
      return kExitInputError;
    }
    pair_bytes = *b;
    basis = "--pair-bytes " + pair_bytes_text;
  } else if (m.moe.top_k > 0) {
    pair_bytes = tokens * m.moe.top_k * m.hidden / spec.num_devices();
    basis = "fp8 dispatch under uniform routing: " + std::to_string(static_cast<long long>(tokens)) +
            " tokens x top-" + std::to_string(m.moe.top_k) + " x hidden " + std::to_string(m.hidden) +
            " x 1 B / " + std::to_string(spec.num_devices()) + " devices";
  }

  const hw::Topology topo = hw::build_topology(spec);
  const auto links = hw::link_summary(topo);
  const hw::HopStats hops = hw::hop_stats(topo);
  const hw::Bisection bisection = hw::bisection_bandwidth(topo);
  const hw::LinkLoad load = hw::route_traffic(topo, [&](int s, int d) { return s == d ? 0.0 : pair_bytes; });
  std::map<hw::VertexKind, int> kinds;
  for (auto v : boost::make_iterator_range(boost::vertices(topo.graph))) ++kinds[topo.graph[v].kind];
  const int switches = static_cast<int>(boost::num_vertices(topo.graph)) - kinds[hw::VertexKind::device] -
                       kinds[hw::VertexKind::nic];

  if (as_json) {
    nlohmann::json j;
    j["scenario"] = scenario->name;
    j["file"] = file;
    j["fabric"] = {{"nodes", spec.nodes}, {"devices_per_node", spec.devices_per_node},
                   {"devices", spec.num_devices()}, {"scale_up", spec.scale_up.name}, {"scale_out", nullptr}};
    if (spec.has_scale_out) {
      j["fabric"]["scale_out"] = {{"link", spec.scale_out.name}, {"nics_per_node", spec.nics_per_node},
                                  {"topology", spec.topology_label()},
                                  {"nodes_per_leaf", topo.nodes_per_leaf()},
                                  {"oversubscription", spec.oversubscription},
                                  {"path_choice", spec.ecmp ? "ecmp" : "adaptive"},
                                  {"pxn", spec.pxn}};
    }
    j["vertices"] = nlohmann::json::object();
    for (const auto& [kind, count] : kinds) j["vertices"][hw::vertex_kind_name(kind)] = count;
    j["switches"] = switches;
    j["links"] = nlohmann::json::array();
    for (const auto& l : links) {
      j["links"].push_back({{"class", hw::link_role_name(l.role)}, {"link", l.link}, {"links", l.links},
                            {"ports", l.ports}, {"capacity_Bps", l.capacity_Bps},
                            {"total_capacity_Bps", l.total_capacity_Bps}, {"latency_s", l.latency_s}});
    }
    auto hop_json = [](const hw::HopClass& h) {
      return nlohmann::json{{"class", h.name}, {"pairs", h.pairs}, {"min", h.min}, {"max", h.max},
                            {"mean", h.mean}, {"latency_s", h.latency_s}};
    };
    j["hops"] = {{"all", hop_json(hops.all)}, {"by_class", nlohmann::json::array()}};
    for (const auto& h : hops.by_class) j["hops"]["by_class"].push_back(hop_json(h));
    j["bisection"] = {{"bandwidth_Bps", bisection.bandwidth_Bps}, {"split", bisection.split}};
    nlohmann::json a2a = {{"bytes_per_pair", pair_bytes}, {"basis", basis}, {"busiest_seconds", load.max_seconds},
                          {"links_at_busiest", load.edges_at_max},
                          {"by_class", nlohmann::json::array()}, {"busiest", nlohmann::json::array()}};
    for (const auto& r : load.by_role) {
      if (r.edges_used == 0) continue;
      a2a["by_class"].push_back({{"class", hw::link_role_name(r.role)}, {"bytes", r.bytes},
                                 {"edges_used", r.edges_used}, {"max_edge_bytes", r.max_edge_bytes},
                                 {"max_seconds", r.max_seconds}});
    }
    for (const auto& e : load.busiest) {
      a2a["busiest"].push_back({{"edge", topo.edge_name(e.edge)}, {"class", hw::link_role_name(topo.edge(e.edge).role)},
                                {"bytes", e.bytes}, {"capacity_Bps", topo.edge(e.edge).capacity_Bps},
                                {"seconds", e.seconds}});
    }
    j["all_to_all"] = a2a;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }

  auto q = [](double v, Dimension d) { return format_quantity(v, d); };
  std::printf("%s (%s)\n", scenario->name.c_str(), file.c_str());
  std::printf("fabric:     %d node%s x %d %s, scale-up %s", spec.nodes, spec.nodes == 1 ? "" : "s",
              spec.devices_per_node, scenario->cluster.device->name.c_str(), spec.scale_up.name.c_str());
  if (spec.has_scale_out) {
    std::printf(", scale-out %s %s (%d NIC%s per node", spec.scale_out.name.c_str(),
                spec.topology_label().c_str(), spec.nics_per_node, spec.nics_per_node == 1 ? "" : "s");
    if (spec.topology == hw::ScaleOutTopology::fat_tree) {
      std::printf(", %d node%s per leaf", topo.nodes_per_leaf(), topo.nodes_per_leaf() == 1 ? "" : "s");
      if (spec.oversubscription != 1.0) std::printf(", %g:1 oversubscribed", spec.oversubscription);
      if (spec.ecmp) std::printf(", ECMP");
    } else {
      if (spec.oversubscription != 1.0) std::printf(", rails %g:1 oversubscribed", spec.oversubscription);
      if (spec.pxn) std::printf(", PXN");
    }
    std::printf(")");
  }
  std::printf("\nvertices:   %d devices, %d NICs, %d switch%s (", kinds[hw::VertexKind::device],
              kinds[hw::VertexKind::nic], switches, switches == 1 ? "" : "es");
  const char* sep = "";
  for (const auto& [kind, count] : kinds) {
    if (kind == hw::VertexKind::device || kind == hw::VertexKind::nic) continue;
    std::string name = hw::vertex_kind_name(kind);
    if (kind == hw::VertexKind::rail_switch && spec.multi_plane) name = "plane_switch";
    for (char& ch : name) ch = ch == '_' ? ' ' : ch;
    std::printf("%s%d %s%s", sep, count, name.c_str(), count == 1 ? "" : "es");
    sep = ", ";
  }
  std::printf(")\n\nlinks (full duplex; capacity per direction = bandwidth x efficiency)\n");
  std::printf("  %-11s %-12s %6s %6s %14s %14s %10s\n", "class", "link", "links", "ports", "per link",
              "total", "hop lat.");
  for (const auto& l : links) {
    std::printf("  %-11s %-12s %6d %6d %14s %14s %10s\n", hw::link_role_name(l.role).c_str(), l.link.c_str(),
                l.links, l.ports, q(l.capacity_Bps, Dimension::bandwidth).c_str(),
                q(l.total_capacity_Bps, Dimension::bandwidth).c_str(), q(l.latency_s, Dimension::time).c_str());
  }
  std::printf("\nhops between devices (ordered pairs; latency: zero-load, along the route)\n");
  std::printf("  %-13s %10s %4s %4s %6s %10s\n", "class", "pairs", "min", "max", "mean", "latency");
  auto hop_row = [&](const hw::HopClass& h) {
    std::printf("  %-13s %10lld %4d %4d %6.2f %10s\n", h.name.c_str(), static_cast<long long>(h.pairs), h.min,
                h.max, h.mean, q(h.latency_s, Dimension::time).c_str());
  };
  for (const auto& h : hops.by_class) hop_row(h);
  hop_row(hops.all);
  std::printf("\nbisection:  %s per direction (max-flow, %s)\n", q(bisection.bandwidth_Bps, Dimension::bandwidth).c_str(),
              bisection.split.c_str());
  std::printf("\nall-to-all: %s per pair (%s)\n", q(pair_bytes, Dimension::bytes).c_str(), basis.c_str());
  std::printf("  %-11s %12s %6s %14s %12s\n", "class", "bytes", "edges", "busiest edge", "its time");
  for (const auto& r : load.by_role) {
    if (r.edges_used == 0) continue;
    std::printf("  %-11s %12s %6d %14s %12s\n", hw::link_role_name(r.role).c_str(), q(r.bytes, Dimension::bytes).c_str(),
                r.edges_used, q(r.max_edge_bytes, Dimension::bytes).c_str(), q(r.max_seconds, Dimension::time).c_str());
  }
  std::printf("  most loaded links:\n");
  for (const auto& e : load.busiest | std::views::take(6)) {
    std::printf("    %-32s %-11s %12s / %-12s = %s\n", topo.edge_name(e.edge).c_str(),
                hw::link_role_name(topo.edge(e.edge).role).c_str(), q(e.bytes, Dimension::bytes).c_str(),
                q(topo.edge(e.edge).capacity_Bps, Dimension::bandwidth).c_str(), q(e.seconds, Dimension::time).c_str());
  }
  std::printf("  the busiest link needs %s (%d directed links tie at it): a lower bound on the\n"
              "  all-to-all, before latency\n",
              q(load.max_seconds, Dimension::time).c_str(), load.edges_at_max);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moesim: performance simulator and capacity planner for Mixture-of-Experts models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moesim 0.1.0 (allocator: " + moesim::tools::allocator_name() + ")");

  std::string run_file, format = "table", out_path, fidelity, trace_path;
  bool as_json = false, as_csv = false;
  auto* run = app.add_subcommand("run", "Simulate a scenario (the embedded default without a file)");
  run->add_option("scenario", run_file, "Scenario JSON file")->check(CLI::ExistingFile);
  auto* json_flag = run->add_flag("--json", as_json, "Print the report as JSON");
  run->add_flag("--csv", as_csv, "Print the report as CSV")->excludes(json_flag);
  run->add_option("--out", out_path, "Write the report to FILE instead of standard output");
  run->add_option("--fidelity", fidelity, "Override the scenario's fidelity")
      ->check(CLI::IsMember({"analytic", "flow"}));
  run->add_option("--trace", trace_path,
                   "Write a Chrome trace-event JSON of the step (Perfetto, chrome://tracing)");
  std::string hw_profile;
  run->add_option("--hw-profile", hw_profile, "Use this calibrated hardware profile (moesim fit) instead of the catalog's efficiencies")
      ->check(CLI::ExistingFile);
  std::string progress_format;
  run->add_option("--progress", progress_format, "Report progress on standard error as JSON lines (for front ends)")
      ->check(CLI::IsMember({"jsonl"}));

  std::string power_caps;
  auto* power_cap_opt = run->add_option("--power-cap", power_caps, "Run once per power cap (e.g. 400W,500W,700W) and compare them side by side");
  sim::UncertaintyOptions uncertainty;
  std::string uncertainty_text;
  auto* uncertainty_opt =
      run->add_option("--uncertainty", uncertainty_text,
                      "Sample the hardware figures' uncertainty N times (default 32) and report p10/p50/p90 "
                      "intervals and the figures that matter most (docs/uncertainty.md)")
          ->expected(0, 1)
          ->default_str("32")
          ->excludes(power_cap_opt);
  run->add_option("--jobs", uncertainty.jobs, "With --uncertainty: worker threads (default: every core)");
  bool always_simulate = false;
  run->add_flag("--always-simulate", always_simulate,
                "At flow fidelity, run SimGrid even where no link or device is shared, where the closed form "
                "gives the same timeline and stands in for it (docs/models.md)");

  std::vector<std::string> validate_files;
  auto* validate = app.add_subcommand("validate", "Check scenario files and list every problem");
  validate->add_option("files", validate_files, "Scenario JSON files")->required();

  auto* models = app.add_subcommand("models", "List built-in model presets with parameter counts");
  auto* devices = app.add_subcommand("devices", "List the devices of the hardware catalog");
  auto* links = app.add_subcommand("links", "List the links of the hardware catalog");

  std::string fit_raw, fit_out, fit_trace;
  bool fit_json = false;
  calibrate::FitOptions fit_options;
  auto* fit = app.add_subcommand("fit", "Fit a hardware profile to the raw samples of moesim-calibrate, or summarise a "
                                        "PyTorch-profiler trace by kernel class (--trace)");
  auto* fit_raw_opt = fit->add_option("raw", fit_raw, "Raw samples JSON written by moesim-calibrate")->check(CLI::ExistingFile);
  auto* fit_trace_opt = fit->add_option("--trace", fit_trace,
                                        "A PyTorch-profiler (Kineto) Chrome trace: every GPU kernel classified into "
                                        "moesim's kernel classes, time per class and stream")
                            ->check(CLI::ExistingFile)
                            ->excludes(fit_raw_opt);
  fit->add_flag("--json", fit_json, "With --trace: print the summary as JSON")->needs(fit_trace_opt);
  fit->add_option("-o,--out", fit_out, "Write the profile to FILE (default: standard output)");
  fit->add_option("--device", fit_options.device, "Catalog device the samples come from (default: from the device name)");
  fit->add_option("--scale-up-link", fit_options.scale_up_link, "Catalog link the NCCL / peer-to-peer samples ran over")
      ->excludes(fit_trace_opt);
  fit->add_option("--host-link", fit_options.host_link, "Catalog link the host<->device copies ran over")
      ->excludes(fit_trace_opt);

  std::string cmp_scenario, cmp_trace, cmp_fit, cmp_out;
  int cmp_layers = 0;
  bool cmp_json = false;
  auto* compare = app.add_subcommand("compare-trace", "Compare a scenario's kernel time per class with a measured "
                                                      "PyTorch-profiler trace (or its 'fit --trace --json' summary)");
  compare->add_option("scenario", cmp_scenario, "Scenario JSON file: the deployment that ran the trace")
      ->required()
      ->check(CLI::ExistingFile);
  compare->add_option("trace", cmp_trace, "Kineto trace JSON, or the summary 'moesim fit --trace --json' wrote")
      ->required()
      ->check(CLI::ExistingFile);
  compare->add_option("--layers", cmp_layers, "MoE layers the trace covers (default: its forward attention kernels)")
      ->check(CLI::PositiveNumber);
  compare->add_flag("--json", cmp_json, "Print the comparison as JSON");
  compare->add_option("--fit-profile", cmp_fit,
                      "Write the scenario's hardware profile with the memory-bound kernel classes' bandwidth the "
                      "trace implies to FILE");
  compare->add_option("-o,--out", cmp_out, "Write the comparison to FILE (default: standard output)");

  std::string topology_file, pair_bytes;
  bool topology_json = false;
  auto* topology = app.add_subcommand("topology", "Summarise a scenario's fabric: links, hops, bisection, all-to-all load");
  topology->add_option("scenario", topology_file, "Scenario JSON file")->required()->check(CLI::ExistingFile);
  topology->add_flag("--json", topology_json, "Print the summary as JSON");
  topology->add_option("--pair-bytes", pair_bytes, "Bytes each device sends every other device (e.g. 1MB)");

  sim::AccuracyOptions accuracy_options;
  std::string accuracy_format = "markdown", accuracy_out;
  double accuracy_tolerance = 0.20;
  auto* accuracy = app.add_subcommand("accuracy", "Run the project's end-to-end validation cases: predicted, published, "
                                                  "error per metric, then the median and the largest (docs/validation.md)");
  accuracy->add_option("--format", accuracy_format, "markdown (default), json or junit")
      ->check(CLI::IsMember({"markdown", "json", "junit"}));
  accuracy->add_option("-o,--out", accuracy_out, "Write to FILE (default: standard output)");
  accuracy->add_option("--uncertainty", accuracy_options.samples,
                       "Also give each metric's p10 - p90 interval from N samples of the hardware figures");
  accuracy->add_option("--jobs", accuracy_options.jobs, "Worker threads for the samples (default: every core)");
  accuracy->add_option("--case", accuracy_options.only, "Run this case alone");
  accuracy->add_option("--tolerance", accuracy_tolerance, "JUnit: a metric fails beyond this relative error (0.20)")
      ->check(CLI::Range(0.0, 10.0));

  moesim::tools::HeadlessCommands headless(app);  // sweep, merge, plan, regress
  // Sweep, regress and plan points run in forked workers doing what `run --json --out` does.
  moesim::tools::set_point_runner(moesim::tools::run_point);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitInputError;
  }
  try {
    if (*run) {
      if (as_json) format = "json";
      if (as_csv) format = "csv";
      const RunProgress progress(!progress_format.empty());
      progress.event({{"event", "start"}, {"scenario", run_file}});
      uncertainty.jobs = tools::parallel_slots(uncertainty.jobs);
      if (std::string error; uncertainty_opt->count() > 0 &&
                             !tools::uncertainty_samples(uncertainty_text, run_file, uncertainty.samples, error)) {
        std::cerr << "moesim: " << error << "\n";
        return kExitInputError;
      }
      const int rc = cmd_run(run_file, format, out_path, fidelity, trace_path, hw_profile, power_caps,
                             uncertainty_opt->count() > 0 ? &uncertainty : nullptr, progress, always_simulate);
      progress.event({{"event", "done"}, {"exit", rc}});
      return rc;
    }
    if (*validate) return cmd_validate(validate_files);
    if (*models) return cmd_models();
    if (*devices) return cmd_devices();
    if (*links) return cmd_links();
    if (*fit) {
      if (!fit_trace.empty()) return cmd_fit_trace(fit_trace, fit_options.device, fit_json, fit_out);
      if (fit_raw.empty()) {
        std::cerr << "moesim fit: give the raw samples of moesim-calibrate, or --trace FILE\n";
        return kExitInputError;
      }
      fit_options.raw_file = fit_raw;
      return cmd_fit(fit_raw, fit_out, fit_options);
    }
    if (*topology) return cmd_topology(topology_file, topology_json, pair_bytes);
    if (*accuracy) {
      accuracy_options.jobs = tools::parallel_slots(accuracy_options.jobs);
      return cmd_accuracy(accuracy_options, accuracy_format, accuracy_tolerance, accuracy_out);
    }
    if (*compare) return cmd_compare_trace(cmp_scenario, cmp_trace, cmp_layers, cmp_json, cmp_fit, cmp_out);
    if (auto rc = headless.dispatch()) return *rc;
  } catch (const std::exception& e) {
    // Only defects reach here (user input is reported as problems, never thrown).
    std::cerr << "moesim: internal error: " << e.what() << "\n";
    return kExitSimFailure;
  }
  return kExitOk;
}
