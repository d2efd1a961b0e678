#include "tools.hpp"

#include "plan.hpp"
#include "regress.hpp"
#include "sweep.hpp"

namespace moesim::tools {

struct HeadlessCommands::State {
  CLI::App* regress = nullptr;
  RegressOptions regress_options;
  CLI::App* sweep = nullptr;
  SweepOptions sweep_options;
  CLI::App* plan = nullptr;
  PlanOptions plan_options;
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
  s.plan->add_option("spec", po.spec_path, "Plan spec JSON (docs/plan.md)")->required()->check(CLI::ExistingFile);
  s.plan->add_option("-o,--out", po.out_dir, "Folder for the plan (default: SPEC-stem.plan)");
  s.plan->add_option("-j,--jobs", po.jobs, "Threads evaluating candidates, and flow confirmations at once (default: all cores)")->check(CLI::PositiveNumber);
  s.plan->add_flag("!--no-confirm", po.confirm, "Skip the flow-fidelity confirmation of the best candidates");
  s.plan->add_option_function<std::string>("--progress", [&po](const std::string&) { po.progress = true; },
                                           "Report progress on standard error as JSON lines (for front ends)")
      ->check(CLI::IsMember({"jsonl"}));
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
  if (*s.plan) return cmd_plan(s.plan_options);
  if (*s.merge) return cmd_merge(s.merge_out, s.merge_dirs);
  return std::nullopt;
}

}  // namespace moesim::tools
