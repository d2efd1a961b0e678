#pragma once
// NVML, loaded at run time (libnvidia-ml.so.1 comes with the driver, not the toolkit, and is
// absent on build machines): board power, power limits and clocks of one device.

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace moesim::calibrate {

class Nvml {
 public:
  /// Loads NVML and opens the device with this PCI bus id ("0000:18:00.0"). Null, with the
  /// reason in `why`, when NVML or the device is unavailable.
  static std::unique_ptr<Nvml> open(const std::string& pci_bus_id, std::string& why);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  std::string driver_version() const;
  std::optional<unsigned> sm_clock_mhz() const;
  std::optional<unsigned> mem_clock_mhz() const;
  std::optional<unsigned> max_sm_clock_mhz() const;
  std::optional<unsigned> max_mem_clock_mhz() const;
  std::optional<double> power_w() const;
  std::optional<double> power_limit_w() const;
  /// The settable range of the power limit, in watts.
  std::optional<std::pair<double, double>> power_limit_range_w() const;

  struct SetResult {
    bool ok = false;
    bool no_permission = false;
    std::string message;
  };
  /// Sets the board power limit (root only on most systems).
  SetResult set_power_limit_w(double watts);

 private:
  struct Api;
  Nvml() = default;
  void* lib_ = nullptr;
  std::unique_ptr<Api> api_;
  void* device_ = nullptr;
};

}  // namespace moesim::calibrate
