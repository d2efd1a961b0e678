#pragma once
// `moesim fit`: turns the raw samples of moesim-calibrate into a hardware profile, i.e. the
// parameters of the roofline cost model (docs/calibration.md, "How the fit works"). Plain C++:
// no CUDA, runs anywhere.

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>

#include "catalog.hpp"
#include "diagnostics.hpp"
#include "hw_profile.hpp"
#include "raw_samples.hpp"

namespace moesim::calibrate {

struct FitOptions {
  std::string device;         ///< catalog device; empty: recognised from the raw file's device name
  std::string scale_up_link;  ///< catalog link the NCCL / peer-to-peer samples ran over; empty: the device's usual one
  std::string host_link;      ///< catalog link of the host copies; empty: the device's usual one
  std::string raw_file;       ///< recorded in the profile's provenance
};

/// The catalog device a driver-reported name stands for ("NVIDIA H100 80GB HBM3" -> "h100-sxm"),
/// or "" when none matches (variants the catalog lacks, such as "H100 PCIe", match none).
std::string catalog_device_for(const std::string& driver_name);

/// Bytes a GEMM of `m` x `k` activations by `k` x `n` weights moves: both inputs in `dtype`, the
/// output in bf16 (fp32 for fp32/tf32 inputs).
double gemm_bytes(hw::DType dtype, double m, double n, double k);

/// Fits a profile. Problems (unknown device, samples that cannot be fitted) go to `diag`;
/// nullopt on error. Parts without samples are left out of the profile (with a warning).
std::optional<hw::HwProfile> fit_profile(const RawRun& run, const FitOptions& options, Diagnostics& diag);

/// Reads, checks and fits a raw samples document.
std::optional<hw::HwProfile> fit_profile(const nlohmann::json& raw, const FitOptions& options,
                                         Diagnostics& diag);

/// A table comparing the profile's figures with the catalog's, for people.
std::string fit_summary(const hw::HwProfile& profile);

}  // namespace moesim::calibrate
