#pragma once
// A data file compiled into the binary (see cmake/embed.cmake).

#include <string>
#include <vector>

namespace moesim {

/// One embedded data file: its file name and its whole text.
struct EmbeddedFile {
  std::string name;
  std::string text;
};

}  // namespace moesim
