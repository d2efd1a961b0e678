// Hardware profiles (what `moesim fit` writes; hwmodels/profiles/). Contract: a profile exactly
// when no error was reported.
#include "hw_profile.hpp"
#include "support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  Diagnostics diag("fuzz-profile.json");
  const auto doc = fuzz::json_or_refusal(data, size, diag);
  if (!doc) return 0;
  const auto profile = hw::hw_profile_from_json(*doc, diag);
  fuzz::check_contract(profile, diag);
  return 0;
}
