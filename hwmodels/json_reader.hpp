#pragma once
// Typed reading of one JSON object: every key read is declared once with its type, unit and
// range; every problem goes to Diagnostics with its JSON pointer; keys never read are errors.

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "units.hpp"

namespace moesim {

/// Reads the members of one JSON object. Call finish() after the last read: it reports the keys
/// that were present but never asked for, naming the valid ones (with a "did you mean").
class ObjectReader {
 public:
  /// `value` must outlive the reader. If it is not an object, one problem is recorded and every
  /// read returns nullopt.
  ObjectReader(const nlohmann::json& value, std::string pointer, Diagnostics& diag);

  bool valid() const { return object_ != nullptr; }
  const std::string& pointer() const { return pointer_; }
  std::string pointer_to(const std::string& key) const;
  Diagnostics& diagnostics() { return *diag_; }

  /// True when the key is present (and declares it as known).
  bool has(const std::string& key);
  /// The raw member, or nullptr when absent (declares the key as known).
  const nlohmann::json* raw(const std::string& key);

  // Each typed read declares the key as known. `required` reads record "missing key" when
  // absent. Range checks are inclusive; a violated range is recorded and nullopt returned.
  std::optional<double> number(const std::string& key, bool required = false,
                               std::optional<double> min = {}, std::optional<double> max = {});
  std::optional<long long> integer(const std::string& key, bool required = false,
                                   std::optional<long long> min = {},
                                   std::optional<long long> max = {});
  std::optional<std::string> string(const std::string& key, bool required = false);
  std::optional<bool> boolean(const std::string& key, bool required = false);
  /// A dimensioned string ("900GB/s"); a bare number is an error with a hint.
  std::optional<double> quantity(const std::string& key, Dimension dim, bool required = false);
  /// A string that must be one of `choices`.
  std::optional<std::string> choice(const std::string& key, const std::vector<std::string>& choices,
                                    bool required = false);
  /// A nested object; an absent key yields an invalid reader (and a problem when required).
  ObjectReader object(const std::string& key, bool required = false);

  /// Reports unknown keys. Idempotent.
  void finish();

 private:
  void missing(const std::string& key);
  void wrong_type(const std::string& key, const char* expected, const nlohmann::json& got);

  const nlohmann::json* object_ = nullptr;
  std::string pointer_;
  Diagnostics* diag_;
  std::vector<std::string> known_;
  bool finished_ = false;
};

/// Short description of a JSON value's type for messages ("a string", "a number", ...).
std::string json_type_name(const nlohmann::json& value);

/// Parses JSON text; on failure records "line L, column C: ..." at the document root.
std::optional<nlohmann::json> parse_json_text(const std::string& text, Diagnostics& diag);

/// Reads and parses a JSON file; a missing or unreadable file is a problem, not an exception.
std::optional<nlohmann::json> read_json_file(const std::string& path, Diagnostics& diag);

}  // namespace moesim
