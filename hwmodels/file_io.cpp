#include "file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fd_io.hpp"

namespace moesim {

std::string not_a_data_file(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || st.type() == std::filesystem::file_type::not_found) return {};  // opening it says why
  if (std::filesystem::is_directory(st)) return "is a folder, not a file";
  if (std::filesystem::is_character_file(st) || std::filesystem::is_block_file(st)) {
    return "is a device, not a file (a device such as /dev/zero never ends)";
  }
  return {};
}

bool write_file_atomic(const std::string& path, std::string_view text, std::string* why) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  auto fail = [&] {
    const int err = errno;
    std::remove(tmp.c_str());
    if (why != nullptr) *why = std::strerror(err);
    return false;
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail();
  // A full disk fails a write (after a short one), or the close on file systems that defer it.
  if (!sim::write_all(fd, text.data(), text.size())) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return fail();
  }
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) return fail();
  return true;
}

}  // namespace moesim
