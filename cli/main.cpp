// moesim: the command-line front end. It parses arguments, prints problems and reports; all
// modelling lives in the libraries.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "catalog.hpp"
#include "flow_engine.hpp"
#include "model/presets.hpp"
#include "scenario.hpp"
#include "simulate.hpp"
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
  const std::string tmp = out_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f || !(f << text) || !f.flush()) {
      std::cerr << out_path << ": cannot write the report\n";
      std::remove(tmp.c_str());
      return kExitInputError;
    }
  }
  if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
    std::cerr << out_path << ": cannot write the report\n";
    std::remove(tmp.c_str());
    return kExitInputError;
  }
  return kExitOk;
}

int cmd_run(const std::string& file, const std::string& format, const std::string& out_path,
            const std::string& fidelity) {
  Diagnostics diag(file.empty() ? "<embedded default>" : file);
  auto scenario = file.empty() ? sim::default_scenario(diag) : sim::load_scenario_file(file, diag);
  print_problems(diag);  // warnings too
  if (!scenario) return kExitInputError;
  if (fidelity == "analytic") scenario->fidelity = sim::Fidelity::analytic;
  if (fidelity == "flow") scenario->fidelity = sim::Fidelity::flow;
  auto report = sim::simulate(*scenario, sim::engine::run_flow);
  if (!report) {
    std::cerr << "moesim: simulation failed: " << report.error() << "\n";
    return kExitSimFailure;
  }
  std::string text;
  if (format == "json") {
    text = report->to_json().dump(2) + "\n";
  } else if (format == "csv") {
    text = sim::report_to_csv(report->to_json());
  } else {
    text = sim::report_to_table(*report);
  }
  if (const int rc = write_output(text, out_path); rc != kExitOk) return rc;
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
  std::printf("%-14s %-10s %12s %6s %10s  %s\n", "link", "class", "bandwidth", "eff.", "latency",
              "description");
  for (const auto& l : cat.links()) {
    std::printf("%-14s %-10s %12s %6.2f %10s  %s\n", l.name.c_str(), l.link_class.c_str(),
                format_quantity(l.bandwidth, Dimension::bandwidth).c_str(), l.efficiency,
                format_quantity(l.latency_s, Dimension::time).c_str(), l.description.c_str());
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moesim: performance simulator and capacity planner for Mixture-of-Experts models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moesim 0.1.0");

  std::string run_file, format = "table", out_path, fidelity;
  bool as_json = false, as_csv = false;
  auto* run = app.add_subcommand("run", "Simulate a scenario (the embedded default without a file)");
  run->add_option("scenario", run_file, "Scenario JSON file")->check(CLI::ExistingFile);
  auto* json_flag = run->add_flag("--json", as_json, "Print the report as JSON");
  run->add_flag("--csv", as_csv, "Print the report as CSV")->excludes(json_flag);
  run->add_option("--out", out_path, "Write the report to FILE instead of standard output");
  run->add_option("--fidelity", fidelity, "Override the scenario's fidelity")
      ->check(CLI::IsMember({"analytic", "flow"}));

  std::vector<std::string> validate_files;
  auto* validate = app.add_subcommand("validate", "Check scenario files and list every problem");
  validate->add_option("files", validate_files, "Scenario JSON files")->required();

  auto* models = app.add_subcommand("models", "List built-in model presets with parameter counts");
  auto* devices = app.add_subcommand("devices", "List the devices of the hardware catalog");
  auto* links = app.add_subcommand("links", "List the links of the hardware catalog");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitInputError;
  }
  try {
    if (*run) {
      if (as_json) format = "json";
      if (as_csv) format = "csv";
      return cmd_run(run_file, format, out_path, fidelity);
    }
    if (*validate) return cmd_validate(validate_files);
    if (*models) return cmd_models();
    if (*devices) return cmd_devices();
    if (*links) return cmd_links();
  } catch (const std::exception& e) {
    // Only defects reach here (user input is reported as problems, never thrown).
    std::cerr << "moesim: internal error: " << e.what() << "\n";
    return kExitSimFailure;
  }
  return kExitOk;
}
