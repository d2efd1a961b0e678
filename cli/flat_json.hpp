#pragma once
// Reports as flat "a.b.c" keys (the column names of `moesim run --csv`), and the small text
// helpers the headless commands share: CSV cells and number formatting (XML escaping: sim::xml_escape).

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace moesim::tools {

/// Every leaf of `doc` as ("a.b.c", value), in key order; arrays are leaves.
std::vector<std::pair<std::string, nlohmann::json>> flatten(const nlohmann::json& doc);

/// The leaf at dotted `key` ("latency.tpot_s.p50"), or nullopt.
std::optional<nlohmann::json> lookup(const nlohmann::json& doc, const std::string& key);

/// One CSV cell: strings quoted when needed, numbers in full precision, null as empty.
std::string csv_cell(const nlohmann::json& value);
/// A whole CSV line (with the newline).
std::string csv_line(const std::vector<nlohmann::json>& cells);


/// A number for people: 4 significant digits ("0.01121", "4.567e+04").
std::string short_number(const nlohmann::json& value);

}  // namespace moesim::tools
