#pragma once
// Files in and out, for every reader and writer of moesim (CLI, GUI, tools): what may be read as a
// data file, and writes that never leave a half-written file.

#include <string>
#include <string_view>

namespace moesim {

/// Why `path` cannot be read as a data file ("" when it can, or when it does not exist and
/// opening it will say so): a folder, or a device such as /dev/zero that never ends. Pipes are
/// allowed (a shell's <(...) is one).
std::string not_a_data_file(const std::string& path);

/// Writes `text` to `path` atomically: a temporary file in the same folder, written in full
/// (a short write is retried, a failed one is an error), then renamed over `path`. On failure
/// `path` is as it was, no temporary file is left, and `why` (when given) says what failed, e.g.
/// "No space left on device".
bool write_file_atomic(const std::string& path, std::string_view text, std::string* why = nullptr);

}  // namespace moesim
