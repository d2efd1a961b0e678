#pragma once
// Helpers for the tests of the headless commands: a private temporary folder, files, and the
// moesim binary run as a user would.

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace moesim::test {

struct CommandResult {
  int code = -1;
  std::string out, err;
};

/// A folder of its own for each test process (ctest runs them in parallel).
inline std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("moesim_" + name + "_" + std::to_string(getpid()));
  std::filesystem::create_directories(p);
  return p;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string put(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

/// Runs `moesim ARGS` (a shell command line after the binary); stderr is captured too.
inline CommandResult run_moesim(const std::string& args, const std::string& env = "") {
  const auto err_file = temp_dir("cmd") / "stderr.txt";
  const std::string cmd = env + " " + std::string(MOESIM_BINARY) + " " + args + " 2>" + err_file.string();
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_file);
  return r;
}

}  // namespace moesim::test
