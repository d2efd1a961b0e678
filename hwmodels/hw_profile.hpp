#pragma once
// A calibrated hardware profile: the cost-model parameters `moesim fit` derives from measured
// samples (docs/calibration.md). A profile refines one catalog device; every field it lacks falls
// back to the catalog, and the caller is told which.

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "diagnostics.hpp"
#include "uncertainty.hpp"

namespace moesim::hw {

/// Measured GEMM behaviour of one dtype: efficiency as a function of the rows (tokens) dimension
/// and, where the samples span it, of the reduction dimension k,
///   eff(m, k) = eff_max * m / (m + m_half) * k / (k + k_half),
/// and the bandwidth fraction that memory-bound (skinny) GEMMs reach.
struct GemmCalibration {
  double eff_max = 0;       ///< achieved / peak on large GEMMs, (0, 1]
  double m_half = 0;        ///< rows at which eff reaches eff_max / 2 (>= 0; 0 = no shape loss)
  double k_half = 0;        ///< reduction depth at which the k factor is 1/2 (0 = not measured)
  std::optional<double> memory_efficiency;  ///< achieved / peak bandwidth of memory-bound GEMMs
  /// Grouped (per-expert) GEMMs over uneven token counts: dense-model time / measured time.
  std::optional<double> grouped_relative_efficiency;
  int samples = 0;          ///< samples the fit used (informational)
  double rms_log_error = 0; ///< root mean square of ln(model / measured) over them

  /// Compute efficiency of a GEMM with `rows` rows and reduction depth `k`; rows <= 0 means
  /// "large" rows, k <= 0 an unknown (large) depth.
  double efficiency(double rows, double k = 0) const {
    const double e = rows > 0 ? eff_max * rows / (rows + m_half) : eff_max;
    return k > 0 && k_half > 0 ? e * k / (k + k_half) : e;
  }
};

/// Measured efficiency of one catalog link class.
struct LinkCalibration {
  double efficiency = 0;                 ///< achieved / catalog bandwidth, (0, 1]
  std::optional<double> measured_bandwidth;  ///< B/s that gave it (informational)
  std::string method;                    ///< how it was measured ("nccl all_to_all busbw", ...)
};

/// One power-limit state measured under a sustained GEMM load.
struct PowerState {
  double limit_w = 0;
  double power_w = 0;                    ///< median board power under load
  std::optional<double> sm_clock_hz;     ///< median SM clock under load
  std::optional<double> mem_clock_hz;
  std::optional<double> gemm_flops;      ///< achieved FLOP/s of the load GEMM
};

/// The kernel classes a profile may measure (the phase names of the step graph): the
/// memory-bound ones (each streams its bytes at its own achieved bandwidth), "attention" (the
/// attention kernel: its own compute efficiency) and "gemm" (every GEMM: a backward ratio only).
const std::vector<std::string>& kernel_class_names();

/// What a profile measured of one kernel class; each figure is optional.
struct KernelClassCalibration {
  std::optional<double> bandwidth_efficiency;  ///< achieved / peak bandwidth, (0, 1]
  std::optional<double> compute_efficiency;    ///< achieved / bf16 peak (attention), (0, 1]
  /// Training: the class's backward kernel time over its forward time.
  std::optional<double> backward_ratio;
  /// "gemm": the share of the SMs the GEMMs get while SM-driven all-to-all kernels (DeepEP)
  /// overlap them, (0, 1].
  std::optional<double> overlapped_sm_fraction;
  std::string overlapped_sm_fraction_source;   ///< where that one comes from
  std::string source;                          ///< where the figures come from
};

/// What a profile says about one device. Optional fields that are absent fall back to the catalog.
struct HwProfile {
  std::string device;         ///< catalog device name the profile refines
  // Provenance (informational).
  std::string measured_name;  ///< the device name the driver reported
  std::string driver;
  std::string measured_at;    ///< when the samples were taken (ISO 8601)
  std::string raw_file;       ///< the raw samples file it was fitted from
  std::string tool;

  std::map<DType, GemmCalibration> gemm;
  std::optional<double> memory_efficiency;        ///< streaming reads: achieved / peak bandwidth
  std::optional<double> memory_write_efficiency;  ///< informational
  std::optional<double> memory_copy_efficiency;   ///< informational (read + write counted)
  std::optional<double> kernel_launch_s;          ///< per kernel in a back-to-back stream
  std::optional<double> launch_sync_s;            ///< launch + synchronise round trip (informational)
  std::map<std::string, LinkCalibration> links;   ///< by catalog link name
  std::map<std::string, KernelClassCalibration> kernel_classes;  ///< by kernel_class_names()
  std::optional<double> idle_power_w;
  std::vector<PowerState> power_states;
  /// How sure each measured section is: "gemm.DTYPE", "memory", "launch", "links.NAME",
  /// "kernel_classes.NAME", "power" (one entry per section present; docs/uncertainty.md).
  std::map<std::string, Uncertainty> uncertainty;

  const GemmCalibration* gemm_for(DType dtype) const;
  /// The measured efficiency of `link`, or the catalog's when the profile has none.
  double link_efficiency(const Link& link) const;
};

/// Reads a profile document; problems (with JSON pointers) go to `diag`. Returns nullopt on error.
std::optional<HwProfile> hw_profile_from_json(const nlohmann::json& doc, Diagnostics& diag);

/// Reads and validates a profile file.
std::optional<HwProfile> load_hw_profile(const std::string& path, Diagnostics& diag);

/// The sections a profile measures, as its "uncertainty" object names them ("gemm.fp8",
/// "memory", "launch", "links.NAME", "kernel_classes.NAME", "power").
std::vector<std::string> profile_sections(const HwProfile& profile);

/// The profile as JSON (the format hw_profile_from_json reads; docs/calibration.md).
nlohmann::json hw_profile_to_json(const HwProfile& profile);

/// JSON pointers of the fields a simulation computing in `compute` on the profile's device over
/// `links` would use but the profile lacks (they fall back to the catalog).
std::vector<std::string> missing_profile_fields(const HwProfile& profile, DType compute,
                                                const std::vector<const Link*>& links);

/// A published profile compiled into moesim (hwmodels/profiles/).
struct BuiltinProfile {
  std::string name;  ///< file name without ".json" ("h800-sxm-deepgemm")
  std::shared_ptr<const HwProfile> profile;
};

/// The built-in profiles, each checked against the catalog when first used.
const std::vector<BuiltinProfile>& builtin_profiles();

/// A device's default profile: the built-in profile measured on it, else one measured on a device
/// of the same architecture, whose curves (fractions of peak) it inherits, scaled by its own
/// peaks (docs/calibration.md). `profile` null: the catalog's figures stand.
struct DefaultProfile {
  const BuiltinProfile* profile = nullptr;
  bool inherited = false;  ///< measured on another device of the same architecture
};
DefaultProfile default_profile_for(const std::string& device);

/// The built-in profile called `name`, or null.
const BuiltinProfile* find_builtin_profile(const std::string& name);

/// The scenario's "hw_profile" value that keeps the catalog's figures even where a default exists.
inline constexpr const char* kCatalogProfile = "catalog";

/// Whether the profile measures at least one of the fields such a simulation uses (the
/// complement of missing_profile_fields).
bool measures_any(const HwProfile& profile, DType compute, const std::vector<const Link*>& links);

/// Checks that `profile` applies to `device` (an error otherwise) and warns, in one problem at
/// `pointer`, about the missing fields that fall back to the catalog. Returns false on error.
bool check_hw_profile(const HwProfile& profile, const Device& device, DType compute,
                      const std::vector<const Link*>& links, const std::string& pointer,
                      Diagnostics& diag);

}  // namespace moesim::hw
