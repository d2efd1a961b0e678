#include "tools.hpp"

#include <filesystem>
#include <iostream>

#include "plan.hpp"
#include "regress.hpp"
#include "sweep.hpp"
#include "workloads/uncertainty.hpp"

namespace moesim::tools {

bool uncertainty_samples(const std::string& text, std::string& file, int& samples, std::string& error) {
  samples = 32;
  if (text.empty()) return true;
  if (text.find_first_not_of("0123456789-") == std::string::npos) {
    try {
      samples = std::stoi(text);
    } catch (const std::exception&) {
      samples = sim::kMaxUncertaintySamples + 1;  // out of range: refused with the bound
    }
    return true;
  }
  if (file.empty() && std::filesystem::is_regular_file(text)) {
    file = text;
    return true;
  }
  error = "--uncertainty " + text + ": expected a sample count (2 to " + std::to_string(sim::kMaxUncertaintySamples) +
          ") or nothing (32)";
  return false;
}

struct HeadlessCommands::State {
  CLI::App* regress = nullptr;
  RegressOptions regress_options;
  CLI::App* sweep = nullptr;
  SweepOptions sweep_options;
  CLI::App* plan = nullptr;
  PlanOptions plan_options;
  CLI::Option* plan_uncertainty = nullptr;
  std::string plan_uncertainty_text;
  CLI::App* merge = nullptr;
  std::string merge_out;
  std::vector<std::string> merge_dirs;
};

HeadlessCommands::HeadlessCommands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  SweepOptions& so = s.sweep_options;
  s.sweep = app.add_subcommand("sweep", "Run a base scenario over axes of its fields, one process per point");
  add_sweep_options(*s.sweep, so);
  PlanOptions& po = s.plan_options;
  s.plan = app.add_subcommand("plan", "Search deployments for the cheapest that meet a workload's SLOs");
  // Not required here: a bare "--uncertainty SPEC" takes it (uncertainty_samples).
  s.plan->add_option("spec", po.spec_path, "Plan spec JSON (docs/plan.md)")->check(CLI::ExistingFile);
  s.plan->add_option("-o,--out", po.out_dir, "Folder for the plan (default: SPEC-stem.plan)");
  s.plan->add_option("-j,--jobs", po.jobs, "Threads evaluating candidates, and flow confirmations at once (default: all cores)")->check(CLI::PositiveNumber);
  s.plan->add_flag("!--no-confirm", po.confirm, "Skip the flow-fidelity confirmation of the best candidates");
  s.plan->add_option_function<std::string>("--progress", [&po](const std::string&) { po.progress = true; },
                                           "Report progress on standard error as JSON lines (for front ends)")
      ->check(CLI::IsMember({"jsonl"}));
  s.plan_uncertainty =
      s.plan->add_option("--uncertainty", s.plan_uncertainty_text,
                         "Sample each deciding candidate's hardware figures N times (default 32): TPOT and cost "
                         "intervals, and whether they change the winner (docs/plan.md)")
          ->expected(0, 1)
          ->default_str("32");
  s.merge = app.add_subcommand("merge", "Join the results folders of sweep shards into one");
  s.merge->add_option("out", s.merge_out, "Folder for the merged results")->required();
  s.merge->add_option("shards", s.merge_dirs, "Results folders of the shards")->required()->check(CLI::ExistingDirectory);
  s.regress = app.add_subcommand("regress", "Re-run every baselined scenario and fail on drift beyond its tolerances");
  s.regress->add_option("baseline_dir", s.regress_options.dir, "Folder of baseline files (*.json)")->required();
  s.regress->add_option("--junit", s.regress_options.junit_path, "Write a JUnit XML report to FILE");
  s.regress->add_option("--summary", s.regress_options.summary_path, "Write a Markdown summary to FILE");
  s.regress->add_flag("--update", s.regress_options.update, "Rewrite the baselines' values from fresh runs (on purpose)");
  s.regress->add_option("-j,--jobs", s.regress_options.jobs, "Scenarios run at once (default: all cores)");
}

HeadlessCommands::~HeadlessCommands() = default;

std::optional<int> HeadlessCommands::dispatch() const {
  const State& s = *state_;
  if (*s.regress) return cmd_regress(s.regress_options);
  if (*s.sweep) return cmd_sweep(s.sweep_options);
  if (*s.plan) {
    PlanOptions po = s.plan_options;
    if (s.plan_uncertainty->count() > 0) {
      if (std::string error; !uncertainty_samples(s.plan_uncertainty_text, po.spec_path, po.uncertainty, error)) {
        std::cerr << "moesim plan: " << error << "\n";
        return 1;
      }
      if (const std::string problem = sim::uncertainty_samples_problem(po.uncertainty); !problem.empty()) {
        std::cerr << "moesim plan: " << problem << "\n";
        return 1;
      }
    }
    if (po.spec_path.empty()) {
      std::cerr << "moesim plan: the plan spec is missing (moesim plan SPEC.json; docs/plan.md)\n";
      return 1;
    }
    return cmd_plan(po);
  }
  if (*s.merge) return cmd_merge(s.merge_out, s.merge_dirs);
  return std::nullopt;
}

}  // namespace moesim::tools
