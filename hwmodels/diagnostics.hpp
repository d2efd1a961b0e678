#pragma once
// Problems found in user input, each tied to a file and a JSON pointer. Library code collects
// them and returns; only front ends (CLI, GUI) decide how to show them.

#include <string>
#include <vector>

namespace moesim {

/// One problem in an input file: where (file + JSON pointer), what, and how to fix it.
struct Problem {
  enum class Severity { error, warning };
  Severity severity = Severity::error;
  std::string file;     ///< path as the user gave it (may be empty for built-in data)
  std::string pointer;  ///< RFC 6901 JSON pointer, "" for the whole document
  std::string message;
  std::string hint;     ///< optional: what to write instead, or the valid choices
  int line = 0;         ///< line of a text (CSV) input, 1-based; 0: located by `pointer`

  /// "file:/json/pointer: message (hint)", or "file:LINE: message (hint)" for text inputs;
  /// warnings are prefixed with "warning: ".
  std::string to_string() const;
};

/// Collects every problem of a parse/validate pass so the user sees all of them at once.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file = {}) : file_(std::move(file)) {}

  void error(std::string pointer, std::string message, std::string hint = {});
  void warning(std::string pointer, std::string message, std::string hint = {});
  /// An error at a line of a text input such as a CSV file (1-based).
  void error_at_line(int line, std::string message, std::string hint = {});
  /// Appends problems found in another file (e.g. a referenced config.json).
  void merge(const Diagnostics& other);

  bool has_errors() const;
  /// Errors (not warnings) so far; compare before and after a read to see whether it failed.
  std::size_t error_count() const;
  const std::vector<Problem>& problems() const { return problems_; }
  const std::string& file() const { return file_; }
  /// Every problem, one per line.
  std::string to_string() const;

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

/// Escapes a key for use in a JSON pointer ("~" -> "~0", "/" -> "~1").
std::string json_pointer_escape(const std::string& key);

/// "a, b, c" — for listing valid choices in hints.
std::string join_names(const std::vector<std::string>& names, const char* sep = ", ");

/// The closest name to `typo` among `choices` by edit distance, or "" when none is close.
std::string closest_name(const std::string& typo, const std::vector<std::string>& choices);

}  // namespace moesim
