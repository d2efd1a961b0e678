#pragma once
// The headless subcommands of `moesim` (sweep, merge, plan, regress), registered on the CLI11
// app by main.cpp with two lines: construct before parsing, dispatch after.

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

namespace moesim::tools {

/// The value of `--uncertainty [N]` (run, plan): N, or 32 when empty. CLI11 hands a bare
/// "--uncertainty FILE" the file as its value: when `file` is still empty and the text names an
/// existing file, that file is the command's input. False, with `error` set, when it is neither.
/// A number out of range is returned as it is, for the caller to refuse with the bound.
bool uncertainty_samples(const std::string& text, std::string& file, int& samples, std::string& error);

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
