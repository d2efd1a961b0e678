#include "flat_json.hpp"

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
  const nlohmann::json* at = &doc;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object() || !at->contains(part)) return std::nullopt;
    at = &at->at(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (at->is_object()) return std::nullopt;
  return *at;
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

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters; stderr text may hold some.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string short_number(const nlohmann::json& value) {
  if (!value.is_number()) return value.is_string() ? value.get<std::string>() : value.dump();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", value.get<double>());
  return buf;
}

}  // namespace moesim::tools
