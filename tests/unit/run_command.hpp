#pragma once
// Runs a command line as a user would, for the tests that drive the moesim binary: its standard
// output, its standard error (through `stderr_file`) and its exit code (-1 when a signal ended it).

#include <sys/wait.h>

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

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline CommandResult run_command(const std::string& command_line, const std::filesystem::path& stderr_file) {
  std::filesystem::create_directories(stderr_file.parent_path());
  const std::string cmd = command_line + " 2>" + stderr_file.string();
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(stderr_file);
  return r;
}

}  // namespace moesim::test
