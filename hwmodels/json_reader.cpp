#include "json_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "file_io.hpp"

namespace moesim {

std::string json_type_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

ObjectReader::ObjectReader(const nlohmann::json& value, std::string pointer, Diagnostics& diag)
    : pointer_(std::move(pointer)), diag_(&diag) {
  if (value.is_object()) {
    object_ = &value;
  } else {
    diag_->error(pointer_, "expected an object, got " + json_type_name(value));
  }
}

std::string ObjectReader::pointer_to(const std::string& key) const {
  return pointer_ + "/" + json_pointer_escape(key);
}

bool ObjectReader::has(const std::string& key) { return raw(key) != nullptr; }

const nlohmann::json* ObjectReader::raw(const std::string& key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  return it == object_->end() ? nullptr : &*it;
}

void ObjectReader::missing(const std::string& key) {
  if (object_ != nullptr) diag_->error(pointer_to(key), "missing required key '" + key + "'");
}

void ObjectReader::wrong_type(const std::string& key, const char* expected,
                              const nlohmann::json& got) {
  diag_->error(pointer_to(key), std::string("expected ") + expected + ", got " + json_type_name(got));
}

std::optional<double> ObjectReader::number(const std::string& key, bool required,
                                           std::optional<double> min, std::optional<double> max) {
  const nlohmann::json* v = raw(key);
  if (v == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  if (!v->is_number()) {
    wrong_type(key, "a number", *v);
    return std::nullopt;
  }
  const double x = v->get<double>();
  if ((min && x < *min) || (max && x > *max) || !std::isfinite(x)) {
    std::ostringstream range;
    range << "must be";
    if (min) range << " >= " << *min;
    if (min && max) range << " and";
    if (max) range << " <= " << *max;
    diag_->error(pointer_to(key), "value " + v->dump() + " is out of range", range.str());
    return std::nullopt;
  }
  return x;
}

std::optional<long long> ObjectReader::integer(const std::string& key, bool required,
                                               std::optional<long long> min,
                                               std::optional<long long> max) {
  const nlohmann::json* v = raw(key);
  if (v == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  const bool integral = v->is_number_integer() ||
                        (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
                         std::abs(v->get<double>()) < 9e15);
  if (!integral) {
    wrong_type(key, "an integer", *v);
    return std::nullopt;
  }
  const long long x = v->is_number_integer() ? v->get<long long>()
                                             : static_cast<long long>(v->get<double>());
  if ((min && x < *min) || (max && x > *max)) {
    std::string range = "must be";
    if (min) range += " >= " + std::to_string(*min);
    if (min && max) range += " and";
    if (max) range += " <= " + std::to_string(*max);
    diag_->error(pointer_to(key), "value " + v->dump() + " is out of range", range);
    return std::nullopt;
  }
  return x;
}

std::optional<std::string> ObjectReader::string(const std::string& key, bool required) {
  const nlohmann::json* v = raw(key);
  if (v == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  if (!v->is_string()) {
    wrong_type(key, "a string", *v);
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<bool> ObjectReader::boolean(const std::string& key, bool required) {
  const nlohmann::json* v = raw(key);
  if (v == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  if (!v->is_boolean()) {
    wrong_type(key, "true or false", *v);
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<double> ObjectReader::quantity(const std::string& key, Dimension dim, bool required) {
  const nlohmann::json* v = raw(key);
  if (v == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  if (v->is_number()) {
    const std::string num = v->dump();
    diag_->error(pointer_to(key),
                 "a bare number " + num + " is not a " + std::string(dimension_name(dim)),
                 "write \"" + (dim == Dimension::price_per_hour ? "$" + num + "/h"
                                                               : std::string(example_literal(dim))) +
                     "\" with a unit");
    return std::nullopt;
  }
  if (!v->is_string()) {
    wrong_type(key, "a string with a unit", *v);
    return std::nullopt;
  }
  auto parsed = parse_quantity(v->get<std::string>(), dim);
  if (!parsed) {
    diag_->error(pointer_to(key), parsed.error().message, parsed.error().hint);
    return std::nullopt;
  }
  return *parsed;
}

std::optional<std::string> ObjectReader::choice(const std::string& key,
                                                const std::vector<std::string>& choices,
                                                bool required) {
  auto s = string(key, required);
  if (!s) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
    std::string hint = "valid: " + join_names(choices);
    const std::string near = closest_name(*s, choices);
    if (!near.empty()) hint = "did you mean '" + near + "'? " + hint;
    diag_->error(pointer_to(key), "unknown value '" + *s + "'", hint);
    return std::nullopt;
  }
  return s;
}

ObjectReader ObjectReader::object(const std::string& key, bool required) {
  static const nlohmann::json kAbsent = nlohmann::json::object();
  const nlohmann::json* v = raw(key);
  if (v == nullptr) {
    if (required) missing(key);
    // An invalid reader over an empty object: reads find nothing, nothing more is reported.
    ObjectReader r(kAbsent, pointer_to(key), *diag_);
    r.object_ = nullptr;
    return r;
  }
  return ObjectReader(*v, pointer_to(key), *diag_);
}

void ObjectReader::finish() {
  if (finished_ || object_ == nullptr) return;
  finished_ = true;
  for (const auto& [key, value] : object_->items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string hint = "valid keys here: " + join_names(known_);
    const std::string near = closest_name(key, known_);
    if (!near.empty()) hint = "did you mean '" + near + "'? " + hint;
    diag_->error(pointer_to(key), "unknown key '" + key + "'", hint);
  }
}

std::optional<nlohmann::json> parse_json_text(const std::string& text, Diagnostics& diag) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann reports a byte offset; turn it into line and column for people.
    const std::size_t offset = std::min<std::size_t>(e.byte, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i + 1 < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: " prefix.
    if (auto pos = what.find(": "); pos != std::string::npos) what = what.substr(pos + 2);
    if (auto pos = what.find("syntax error while parsing "); pos != std::string::npos) {
      what = what.substr(pos);
    }
    diag.error("", "malformed JSON at line " + std::to_string(line) + ", column " +
                       std::to_string(column) + ": " + what);
    return std::nullopt;
  } catch (const nlohmann::json::exception& e) {
    // A number too large for a double ("1e999": out_of_range 406) carries no position.
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    diag.error("", "unusable JSON: " + what, "numbers must fit a double (at most about 1.8e308)");
    return std::nullopt;
  }
}

std::optional<nlohmann::json> read_json_file(const std::string& path, Diagnostics& diag) {
  if (std::string why = not_a_data_file(path); !why.empty()) {
    diag.error("", why, "give the path of a JSON file");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.error("", "cannot open file: " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_json_text(ss.str(), diag);
}

}  // namespace moesim
