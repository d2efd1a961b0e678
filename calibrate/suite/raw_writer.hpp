#pragma once
// The raw samples file: JSON for the family results, and writing it atomically.

#include <nlohmann/json.hpp>

#include <string>

#include "bench_common.hpp"

namespace moesim::calibrate {

nlohmann::json fields_to_json(const Fields& fields);
nlohmann::json family_to_json(const FamilyResult& family);

/// Writes `doc` to `path` through a temporary file renamed into place; false with `error` set
/// when it cannot.
bool write_json_file(const std::string& path, const nlohmann::json& doc, std::string& error);

}  // namespace moesim::calibrate
