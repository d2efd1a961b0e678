#pragma once
// Helpers for the tests of the headless commands: a private temporary folder, files, and the
// moesim binary run as a user would.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../run_command.hpp"

namespace moesim::test {

/// A folder of its own for each test process (ctest runs them in parallel).
inline std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("moesim_" + name + "_" + std::to_string(getpid()));
  std::filesystem::create_directories(p);
  return p;
}

inline std::string put(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

/// Runs `moesim ARGS` (a shell command line after the binary); stderr is captured too.
inline CommandResult run_moesim(const std::string& args, const std::string& env = "") {
  return run_command(env + " " + std::string(MOESIM_BINARY) + " " + args, temp_dir("cmd") / "stderr.txt");
}

}  // namespace moesim::test
