#include "support.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "json_reader.hpp"

namespace moesim::fuzz {

void check_problems(const Diagnostics& diag, bool has_result) {
  if (has_result && diag.has_errors()) broken("a result came back with errors: " + diag.to_string());
  if (!has_result && !diag.has_errors()) broken("no result and no error to say why");
  for (const auto& p : diag.problems()) {
    if (p.message.empty()) broken("a problem without a message at '" + p.pointer + "'");
    if (p.file.empty()) broken("a problem that names no file: " + p.message);
  }
}

std::optional<nlohmann::json> json_or_refusal(const std::uint8_t* data, std::size_t size, Diagnostics& diag) {
  auto doc = parse_json_text(text_of(data, size), diag);
  if (!doc) check_problems(diag, false);
  return doc;
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path p = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                              ("moesim-fuzz-" + std::to_string(getpid()));
    std::error_code ec;
    std::filesystem::create_directories(p, ec);
    if (ec) broken("cannot make the scratch folder " + p.string() + ": " + ec.message());
    return p.string();
  }();
  return dir;
}

std::string write_scratch(const std::string& name, const std::string& text) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f || !(f << text) || !f.flush()) broken("cannot write the scratch file " + path);
  return path;
}

}  // namespace moesim::fuzz
