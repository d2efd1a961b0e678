// Unit strings ("900GB/s", "2us", "$2/h"): the first byte picks the dimension, the rest is the
// text. Contract: a value is finite and >= 0; a refusal says why; what format_quantity prints
// for a value parses back to within the digits it prints.
#include <cmath>

#include "support.hpp"
#include "units.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim;
  if (size == 0) return 0;
  constexpr int kDimensions = static_cast<int>(Dimension::energy_price) + 1;
  const auto dim = static_cast<Dimension>(data[0] % kDimensions);
  const auto parsed = parse_quantity(fuzz::text_of(data + 1, size - 1), dim);
  if (!parsed) {
    if (parsed.error().message.empty()) fuzz::broken("a refusal without a message");
    return 0;
  }
  const double v = *parsed;
  if (!std::isfinite(v) || v < 0) fuzz::broken("parse_quantity gave a negative or non-finite value");
  const std::string printed = format_quantity(v, dim);
  const auto again = parse_quantity(printed, dim);
  if (!again) fuzz::broken("format_quantity printed '" + printed + "', which does not parse: " + again.error().message);
  if (std::abs(*again - v) > 0.01 * v + 1e-300) {
    fuzz::broken("'" + printed + "' parses to " + std::to_string(*again) + ", not " + std::to_string(v));
  }
  return 0;
}
