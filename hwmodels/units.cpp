#include "units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

namespace moesim {
namespace {

struct UnitDef {
  std::string_view suffix;
  double factor;  // multiply the number by this to get SI base units
};

constexpr double kKilo = 1e3, kMega = 1e6, kGiga = 1e9, kTera = 1e12, kPeta = 1e15;
constexpr double kKi = 1024.0, kMi = kKi * 1024.0, kGi = kMi * 1024.0, kTi = kGi * 1024.0;

// Order matters only for listing; matching is exact on the suffix.
constexpr std::array kBandwidth{
    UnitDef{"B/s", 1},          UnitDef{"KB/s", kKilo},      UnitDef{"MB/s", kMega},
    UnitDef{"GB/s", kGiga},     UnitDef{"TB/s", kTera},      UnitDef{"KiB/s", kKi},
    UnitDef{"MiB/s", kMi},      UnitDef{"GiB/s", kGi},       UnitDef{"TiB/s", kTi},
    UnitDef{"b/s", 1.0 / 8},    UnitDef{"Kb/s", kKilo / 8},  UnitDef{"Mb/s", kMega / 8},
    UnitDef{"Gb/s", kGiga / 8}, UnitDef{"Tb/s", kTera / 8},  UnitDef{"Gbps", kGiga / 8},
    UnitDef{"Mbps", kMega / 8}, UnitDef{"Tbps", kTera / 8},
};
constexpr std::array kTime{UnitDef{"ns", 1e-9}, UnitDef{"us", 1e-6}, UnitDef{"ms", 1e-3},
                           UnitDef{"s", 1},     UnitDef{"min", 60},  UnitDef{"h", 3600}};
constexpr std::array kBytes{UnitDef{"B", 1},      UnitDef{"KB", kKilo}, UnitDef{"MB", kMega},
                            UnitDef{"GB", kGiga}, UnitDef{"TB", kTera}, UnitDef{"KiB", kKi},
                            UnitDef{"MiB", kMi},  UnitDef{"GiB", kGi},  UnitDef{"TiB", kTi}};
constexpr std::array kPower{UnitDef{"mW", 1e-3}, UnitDef{"W", 1}, UnitDef{"kW", kKilo}};
constexpr std::array kEnergy{UnitDef{"J", 1},      UnitDef{"kJ", kKilo},     UnitDef{"MJ", kMega},
                             UnitDef{"Wh", 3600},  UnitDef{"kWh", 3.6e6},    UnitDef{"mWh", 3.6}};
constexpr std::array kFlopRate{
    UnitDef{"FLOP/s", 1},        UnitDef{"GFLOP/s", kGiga}, UnitDef{"TFLOP/s", kTera},
    UnitDef{"PFLOP/s", kPeta},   UnitDef{"OP/s", 1},        UnitDef{"GOP/s", kGiga},
    UnitDef{"TOP/s", kTera},     UnitDef{"TOPS", kTera},    UnitDef{"TFLOPS", kTera},
    UnitDef{"GFLOPS", kGiga},    UnitDef{"PFLOPS", kPeta}};
constexpr std::array kFrequency{UnitDef{"Hz", 1}, UnitDef{"kHz", kKilo}, UnitDef{"MHz", kMega},
                                UnitDef{"GHz", kGiga}};
// Prices are written "$<number>/<unit>"; the suffix here is what follows the number.
constexpr std::array kPricePerHour{UnitDef{"/h", 1}, UnitDef{"/hour", 1}, UnitDef{"/min", 60},
                                   UnitDef{"/s", 3600}};
constexpr std::array kEnergyPrice{UnitDef{"/kWh", 1.0 / 3.6e6}, UnitDef{"/MWh", 1.0 / 3.6e9},
                                  UnitDef{"/J", 1}};

template <std::size_t N>
std::vector<std::string> suffixes(const std::array<UnitDef, N>& table) {
  std::vector<std::string> out;
  out.reserve(N);
  for (const auto& u : table) out.emplace_back(u.suffix);
  return out;
}

std::pair<const UnitDef*, std::size_t> table_for(Dimension dim) {
  switch (dim) {
    case Dimension::bandwidth: return {kBandwidth.data(), kBandwidth.size()};
    case Dimension::time: return {kTime.data(), kTime.size()};
    case Dimension::bytes: return {kBytes.data(), kBytes.size()};
    case Dimension::power: return {kPower.data(), kPower.size()};
    case Dimension::energy: return {kEnergy.data(), kEnergy.size()};
    case Dimension::flop_rate: return {kFlopRate.data(), kFlopRate.size()};
    case Dimension::frequency: return {kFrequency.data(), kFrequency.size()};
    case Dimension::price_per_hour: return {kPricePerHour.data(), kPricePerHour.size()};
    case Dimension::energy_price: return {kEnergyPrice.data(), kEnergyPrice.size()};
  }
  return {nullptr, 0};
}

// The unit suggested when a user writes a bare number.
std::string_view preferred_unit(Dimension dim) {
  switch (dim) {
    case Dimension::bandwidth: return "GB/s";
    case Dimension::time: return "us";
    case Dimension::bytes: return "GiB";
    case Dimension::power: return "W";
    case Dimension::energy: return "J";
    case Dimension::flop_rate: return "TFLOP/s";
    case Dimension::frequency: return "MHz";
    case Dimension::price_per_hour: return "/h";
    case Dimension::energy_price: return "/kWh";
  }
  return "";
}

bool is_price(Dimension dim) {
  return dim == Dimension::price_per_hour || dim == Dimension::energy_price;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

}  // namespace

std::vector<std::string> valid_units(Dimension dim) {
  auto [table, n] = table_for(dim);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    // Prices list as "$x/h"; appending (rather than chaining operator+) also keeps GCC 12's
    // -Wrestrict false positive away.
    std::string unit = is_price(dim) ? "$x" : "";
    unit.append(table[i].suffix);
    out.push_back(std::move(unit));
  }
  return out;
}

std::string_view dimension_name(Dimension dim) {
  switch (dim) {
    case Dimension::bandwidth: return "bandwidth";
    case Dimension::time: return "time";
    case Dimension::bytes: return "size in bytes";
    case Dimension::power: return "power";
    case Dimension::energy: return "energy";
    case Dimension::flop_rate: return "operation rate";
    case Dimension::frequency: return "frequency";
    case Dimension::price_per_hour: return "price per hour";
    case Dimension::energy_price: return "energy price";
  }
  return "quantity";
}

std::string_view example_literal(Dimension dim) {
  switch (dim) {
    case Dimension::bandwidth: return "50GB/s";
    case Dimension::time: return "2us";
    case Dimension::bytes: return "80GiB";
    case Dimension::power: return "700W";
    case Dimension::energy: return "1.5kJ";
    case Dimension::flop_rate: return "989TFLOP/s";
    case Dimension::frequency: return "1980MHz";
    case Dimension::price_per_hour: return "$2/h";
    case Dimension::energy_price: return "$0.12/kWh";
  }
  return "";
}

std::expected<double, UnitError> parse_quantity(std::string_view text, Dimension dim) {
  const std::string original(text);
  std::string_view s = trim(text);
  const std::string example(example_literal(dim));
  if (s.empty()) {
    return std::unexpected(UnitError{"empty " + std::string(dimension_name(dim)),
                                     "write a number with a unit, e.g. \"" + example + "\""});
  }
  if (is_price(dim)) {
    if (s.front() != '$') {
      return std::unexpected(UnitError{
          "price '" + original + "' does not start with '$'", "write \"" + example + "\""});
    }
    s.remove_prefix(1);
  }
  double value = 0;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) {
    return std::unexpected(UnitError{"'" + original + "' is not a " +
                                         std::string(dimension_name(dim)) + " (no number found)",
                                     "write \"" + example + "\""});
  }
  if (!std::isfinite(value)) {
    return std::unexpected(UnitError{"'" + original + "' is not finite", "write \"" + example + "\""});
  }
  if (value < 0) {
    return std::unexpected(
        UnitError{"'" + original + "' is negative", "a " + std::string(dimension_name(dim)) +
                                                        " must be zero or more"});
  }
  std::string_view unit = trim(std::string_view(ptr, static_cast<std::size_t>(end - ptr)));
  auto [table, n] = table_for(dim);
  const std::string units = join(valid_units(dim));
  if (unit.empty()) {
    const std::string with_unit = is_price(dim) ? "$" + std::string(s) + std::string(table[0].suffix)
                                                : std::string(s) + std::string(preferred_unit(dim));
    return std::unexpected(UnitError{
        "'" + original + "' has no unit; a " + std::string(dimension_name(dim)) + " needs one",
        "write \"" + with_unit + "\"; units: " + units});
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (table[i].suffix == unit) return value * table[i].factor;
  }
  return std::unexpected(UnitError{"unknown " + std::string(dimension_name(dim)) + " unit '" +
                                       std::string(unit) + "' in '" + original + "'",
                                   "valid units: " + units});
}

std::string format_quantity(double value, Dimension dim) {
  struct Step {
    double scale;
    const char* unit;
  };
  auto pick = [&](std::initializer_list<Step> steps) {
    const Step* best = steps.begin();
    for (const Step& st : steps) {
      if (std::abs(value) >= st.scale) best = &st;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g %s", value / best->scale, best->unit);
    return std::string(buf);
  };
  switch (dim) {
    case Dimension::bandwidth:
      return pick({{1, "B/s"}, {kKilo, "KB/s"}, {kMega, "MB/s"}, {kGiga, "GB/s"}, {kTera, "TB/s"}});
    case Dimension::time:
      return pick({{1e-9, "ns"}, {1e-6, "us"}, {1e-3, "ms"}, {1, "s"}});
    case Dimension::bytes:
      return pick({{1, "B"}, {kKi, "KiB"}, {kMi, "MiB"}, {kGi, "GiB"}, {kTi, "TiB"}});
    case Dimension::power: return pick({{1e-3, "mW"}, {1, "W"}, {kKilo, "kW"}});
    case Dimension::energy: return pick({{1, "J"}, {kKilo, "kJ"}, {kMega, "MJ"}});
    case Dimension::flop_rate:
      return pick({{1, "FLOP/s"}, {kGiga, "GFLOP/s"}, {kTera, "TFLOP/s"}, {kPeta, "PFLOP/s"}});
    case Dimension::frequency: return pick({{1, "Hz"}, {kKilo, "kHz"}, {kMega, "MHz"}, {kGiga, "GHz"}});
    case Dimension::price_per_hour: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "$%.4g/h", value);
      return buf;
    }
    case Dimension::energy_price: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "$%.4g/kWh", value * 3.6e6);
      return buf;
    }
  }
  return std::to_string(value);
}

}  // namespace moesim
