#include "tools.hpp"

#include "regress.hpp"

namespace moesim::tools {

struct HeadlessCommands::State {
  CLI::App* regress = nullptr;
  RegressOptions regress_options;
};

HeadlessCommands::HeadlessCommands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
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
  return std::nullopt;
}

}  // namespace moesim::tools
