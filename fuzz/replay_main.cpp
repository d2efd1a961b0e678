// The replay driver of the regular (GCC) build: runs a harness once over each file given, or
// over every file under each folder given (the seed corpora and fuzz/regressions/), without
// libFuzzer. ctest's fuzz-regressions label runs it, so every crash fuzzing once found stays
// fixed in `make test`. Exit 0 when every input passed; a broken contract aborts.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool replay(const std::filesystem::path& file) {
  std::ifstream f(file, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", file.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long long inputs = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (!entry.is_regular_file()) continue;
        ok = replay(entry.path()) && ok;
        ++inputs;
      }
    } else {
      ok = replay(arg) && ok;
      ++inputs;
    }
  }
  std::printf("replayed %lld inputs\n", inputs);
  if (inputs == 0) {
    std::fprintf(stderr, "no inputs: give files or folders of them\n");
    return 2;
  }
  return ok ? 0 : 1;
}
