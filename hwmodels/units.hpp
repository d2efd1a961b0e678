#pragma once
// Dimensioned values written as strings ("900GB/s", "2us", "80GiB", "700W", "$2/h").
// Every dimensioned field of a scenario or catalog file is parsed here and nowhere else.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace moesim {

/// The physical dimension a field expects; values are returned in SI base units.
enum class Dimension {
  bandwidth,      ///< bytes per second ("900GB/s", "400Gb/s")
  time,           ///< seconds ("2us", "1.5ms")
  bytes,          ///< bytes ("80GiB", "141GB")
  power,          ///< watts ("700W")
  energy,         ///< joules ("3.6kJ", "1Wh")
  flop_rate,      ///< floating-point (or integer) operations per second ("989TFLOP/s", "35TOPS")
  frequency,      ///< hertz ("1980MHz")
  price_per_hour, ///< US dollars per hour ("$2/h")
  energy_price,   ///< US dollars per joule, written per kWh ("$0.12/kWh")
};

/// Why a dimensioned string was rejected; `hint` tells the user what to write instead.
struct UnitError {
  std::string message;
  std::string hint;
};

/// Parses `text` as a value of `dim`; the result is in SI base units (B/s, s, B, W, J, FLOP/s,
/// Hz, $/h, $/J). Negative values are rejected; zero is allowed (callers decide if it is valid).
std::expected<double, UnitError> parse_quantity(std::string_view text, Dimension dim);

/// The unit suffixes `dim` accepts, in the order they are listed in error messages.
std::vector<std::string> valid_units(Dimension dim);

/// A human name for the dimension ("bandwidth", "time", ...).
std::string_view dimension_name(Dimension dim);

/// An example literal for hints ("50GB/s", "2us", ...).
std::string_view example_literal(Dimension dim);

/// Formats a value in SI base units with a readable unit ("3.35 TB/s", "12.4 ms", "80 GiB").
std::string format_quantity(double value, Dimension dim);

}  // namespace moesim
