#pragma once
// What every harness of fuzz/ shares: the readers' contract, checked on each input, and a scratch
// folder for the readers that take a path. A broken contract aborts, so that libFuzzer (or the
// replay driver of the regular build) reports it with the input that broke it.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "diagnostics.hpp"

namespace moesim::fuzz {

[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "moesim fuzz: contract broken: %s\n", what.c_str());
  std::abort();
}

/// A reader's contract on any input: a result exactly when no error was reported, and every
/// problem says what is wrong (a message) and where (a file label).
void check_problems(const Diagnostics& diag, bool has_result);

template <class T>
void check_contract(const std::optional<T>& result, const Diagnostics& diag) {
  check_problems(diag, result.has_value());
}

/// The input as text (readers take std::string; embedded zero bytes are kept).
inline std::string text_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// The input parsed as JSON the way every reader's file is (`parse_json_text`); when it is not
/// JSON, checks that the refusal keeps the contract and returns nullopt.
std::optional<nlohmann::json> json_or_refusal(const std::uint8_t* data, std::size_t size, Diagnostics& diag);

/// The harness of a reader of one JSON document: parses the input as `label`, and when it is JSON
/// runs `read(doc, diag)` and checks its contract. Returns the reader's result (nullopt on a
/// refusal) for checks of its own.
template <class Read>
auto check_json_reader(const std::uint8_t* data, std::size_t size, const std::string& label, Read read)
    -> decltype(read(std::declval<const nlohmann::json&>(), std::declval<Diagnostics&>())) {
  Diagnostics diag(label);
  const auto doc = json_or_refusal(data, size, diag);
  if (!doc) return std::nullopt;
  auto result = read(*doc, diag);
  check_contract(result, diag);
  return result;
}

/// Writes `text` to `name` in this process's scratch folder (made on first use, under TMPDIR)
/// and returns its path. Aborts when the file cannot be written: that is the harness's fault.
std::string write_scratch(const std::string& name, const std::string& text);

/// This process's scratch folder.
const std::string& scratch_dir();

}  // namespace moesim::fuzz
