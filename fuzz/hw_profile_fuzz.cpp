// Hardware profiles (what `moesim fit` writes; hwmodels/profiles/). Contract: a profile exactly
// when no error was reported.
#include "hw_profile.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  fuzz::check_json_reader(data, size, "fuzz-profile.json", hw::hw_profile_from_json);
  return 0;
}
