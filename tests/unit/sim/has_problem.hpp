#pragma once
// Shared by the scenario tests: does a diagnostics list hold a given problem?
#include <string>

#include "diagnostics.hpp"

namespace moesim::test_support {

// True when some problem has this pointer and mentions `text` in its message or hint.
inline bool has_problem(const Diagnostics& d, const std::string& pointer, const std::string& text) {
  for (const auto& p : d.problems()) {
    if (p.pointer == pointer && (p.message + " (" + p.hint + ")").find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace moesim::test_support
