#pragma once
// The headless subcommands of `moesim` (sweep, merge, plan, regress), registered on the CLI11
// app by main.cpp with two lines: construct before parsing, dispatch after.

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace moesim::tools {

class HeadlessCommands {
 public:
  explicit HeadlessCommands(CLI::App& app);
  ~HeadlessCommands();
  HeadlessCommands(const HeadlessCommands&) = delete;
  HeadlessCommands& operator=(const HeadlessCommands&) = delete;

  /// The exit code when one of these subcommands was chosen, nullopt otherwise.
  std::optional<int> dispatch() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace moesim::tools
