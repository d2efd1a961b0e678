#pragma once
// How sure each hardware figure is (docs/uncertainty.md): every figure of the catalog, an engine
// profile or a hardware profile carries, next to its source, an uncertainty class and a relative
// spread. `moesim run --uncertainty` samples the figures a scenario uses within their spreads.
//
// A spread s means the true value lies within [x / (1 + s), x * (1 + s)]; samples are drawn
// log-uniformly over that range (a multiplier (1 + s)^u, u uniform in [-1, 1]).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "json_reader.hpp"

namespace moesim::hw {

struct Device;
struct Link;
struct EngineProfile;
struct HwProfile;

/// Where a figure comes from, most to least certain.
///   measured:    observed on this device or link (the spread is the measurement's stated error);
///   derived:     computed from published figures of this device (spec-sheet arithmetic, a fit);
///   transferred: measured or derived on another device, setting or model, and applied here;
///   assumed:     no source gives the value; a judgement, said so in the source.
enum class UncertaintyClass { measured, derived, transferred, assumed };

std::optional<UncertaintyClass> uncertainty_class_from_name(const std::string& name);
std::string uncertainty_class_name(UncertaintyClass c);
std::vector<std::string> uncertainty_class_names();

struct Uncertainty {
  UncertaintyClass cls = UncertaintyClass::assumed;
  double spread = 0;  ///< relative, (0, 1]
  std::string why;    ///< optional: why this spread
};

/// The figure keys that need no uncertainty: they are structural (an architecture's name, the
/// devices a link domain joins, which engines a phone has), not sampled.
bool is_structural_figure(const std::string& key);

/// Reads `item`'s "uncertainty" object: one entry {"class", "spread"[, "why"]} for every key of
/// `keys` that is not structural; an entry for a key not in `keys` is an error too.
void read_uncertainty(ObjectReader& item, const std::vector<std::string>& keys,
                      std::map<std::string, Uncertainty>& out);

/// The uncertainty entries as JSON (the form read_uncertainty reads).
nlohmann::json uncertainty_to_json(const std::map<std::string, Uncertainty>& u);

/// Copies with figures scaled: `factor` maps a figure key (the keys of the object's sources /
/// uncertainty) to a multiplier; keys not present keep their value.
///   device: peak (every engine's peaks), matmul_efficiency (every engine's), memory (achieved
///     bandwidth), power (idle, busy states, active idle; the TDP stays the cap), kernel_launch,
///     price_per_hour, flash (read bandwidth), radio (both powers);
///   link: bandwidth, efficiency, latency, message_efficiency, message_overhead;
///   engine: memory_efficiency, layer_overhead, step_overhead, sequence_overhead;
///   profile: gemm.DTYPE (efficiency), memory_efficiency, kernel_launch, links.NAME,
///     kernel_classes.CLASS (its efficiencies), power (measured states and idle).
Device scaled(const Device& d, const std::map<std::string, double>& factor);
Link scaled(const Link& l, const std::map<std::string, double>& factor);
EngineProfile scaled(const EngineProfile& e, const std::map<std::string, double>& factor);
HwProfile scaled(const HwProfile& p, const std::map<std::string, double>& factor);

}  // namespace moesim::hw
