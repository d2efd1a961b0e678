#include "flat_json.hpp"

#include "report/report.hpp"

#include <cstdio>

namespace moesim::tools {
namespace {

void flatten_into(const nlohmann::json& j, const std::string& prefix,
                  std::vector<std::pair<std::string, nlohmann::json>>& out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten_into(v, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out.emplace_back(prefix, j);
  }
}

}  // namespace

std::vector<std::pair<std::string, nlohmann::json>> flatten(const nlohmann::json& doc) {
  std::vector<std::pair<std::string, nlohmann::json>> out;
  flatten_into(doc, "", out);
  return out;
}

std::optional<nlohmann::json> lookup(const nlohmann::json& doc, const std::string& key) {
  const nlohmann::json* at = sim::report_leaf(doc, key);
  return at != nullptr ? std::optional<nlohmann::json>(*at) : std::nullopt;
}

std::string csv_cell(const nlohmann::json& value) {
  if (value.is_null()) return "";
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string csv_line(const std::vector<nlohmann::json>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += ',';
    line += csv_cell(cells[i]);
  }
  return line + "\n";
}

std::string short_number(const nlohmann::json& value) {
  if (!value.is_number()) return value.is_string() ? value.get<std::string>() : value.dump();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", value.get<double>());
  return buf;
}

}  // namespace moesim::tools
