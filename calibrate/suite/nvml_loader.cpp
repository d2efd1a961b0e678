#include "nvml_loader.hpp"

#include <dlfcn.h>

#include <cmath>

namespace moesim::calibrate {
namespace {

// The few NVML entry points used, declared here with their C ABI (nvml.h, stable since NVML 4):
// return codes are ints (NVML_SUCCESS = 0), devices are opaque pointers, power in milliwatts,
// clocks in MHz.
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
constexpr nvmlReturn_t kSuccess = 0;
constexpr nvmlReturn_t kNoPermission = 4;
constexpr int kClockSm = 1;   // NVML_CLOCK_SM
constexpr int kClockMem = 2;  // NVML_CLOCK_MEM

}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*driver_version)(char*, unsigned) = nullptr;
  nvmlReturn_t (*handle_by_pci)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*clock_info)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*max_clock_info)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*power_usage)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*power_limit)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*power_limit_constraints)(nvmlDevice_t, unsigned*, unsigned*) = nullptr;
  nvmlReturn_t (*set_power_limit)(nvmlDevice_t, unsigned) = nullptr;
};

namespace {

template <class F>
bool bind(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  return fn != nullptr;
}

}  // namespace

std::unique_ptr<Nvml> Nvml::open(const std::string& pci_bus_id, std::string& why) {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    why = "NVML is not available (libnvidia-ml.so.1 could not be loaded)";
    return nullptr;
  }
  std::unique_ptr<Nvml> n(new Nvml());
  n->lib_ = lib;
  n->api_ = std::make_unique<Api>();
  Api& a = *n->api_;
  const bool all = bind(lib, "nvmlInit_v2", a.init) && bind(lib, "nvmlShutdown", a.shutdown) &&
                   bind(lib, "nvmlErrorString", a.error_string) &&
                   bind(lib, "nvmlSystemGetDriverVersion", a.driver_version) &&
                   bind(lib, "nvmlDeviceGetHandleByPciBusId_v2", a.handle_by_pci) &&
                   bind(lib, "nvmlDeviceGetClockInfo", a.clock_info) &&
                   bind(lib, "nvmlDeviceGetMaxClockInfo", a.max_clock_info) &&
                   bind(lib, "nvmlDeviceGetPowerUsage", a.power_usage) &&
                   bind(lib, "nvmlDeviceGetPowerManagementLimit", a.power_limit) &&
                   bind(lib, "nvmlDeviceGetPowerManagementLimitConstraints", a.power_limit_constraints) &&
                   bind(lib, "nvmlDeviceSetPowerManagementLimit", a.set_power_limit);
  if (!all) {
    why = "NVML lacks an expected function (driver too old?)";
    return nullptr;
  }
  if (a.init() != kSuccess) {
    why = "nvmlInit failed";
    a.init = nullptr;  // nothing to shut down
    return nullptr;
  }
  if (const nvmlReturn_t r = a.handle_by_pci(pci_bus_id.c_str(), &n->device_); r != kSuccess) {
    why = "NVML cannot open device " + pci_bus_id + ": " + a.error_string(r);
    return nullptr;
  }
  return n;
}

Nvml::~Nvml() {
  if (api_ && api_->init != nullptr && api_->shutdown != nullptr) api_->shutdown();
  if (lib_ != nullptr) dlclose(lib_);
}

std::string Nvml::driver_version() const {
  char buf[96] = {};
  if (api_->driver_version(buf, sizeof buf) != kSuccess) return {};
  return buf;
}

std::optional<unsigned> Nvml::sm_clock_mhz() const {
  unsigned v = 0;
  if (api_->clock_info(device_, kClockSm, &v) != kSuccess) return std::nullopt;
  return v;
}

std::optional<unsigned> Nvml::mem_clock_mhz() const {
  unsigned v = 0;
  if (api_->clock_info(device_, kClockMem, &v) != kSuccess) return std::nullopt;
  return v;
}

std::optional<unsigned> Nvml::max_sm_clock_mhz() const {
  unsigned v = 0;
  if (api_->max_clock_info(device_, kClockSm, &v) != kSuccess) return std::nullopt;
  return v;
}

std::optional<unsigned> Nvml::max_mem_clock_mhz() const {
  unsigned v = 0;
  if (api_->max_clock_info(device_, kClockMem, &v) != kSuccess) return std::nullopt;
  return v;
}

std::optional<double> Nvml::power_w() const {
  unsigned mw = 0;
  if (api_->power_usage(device_, &mw) != kSuccess) return std::nullopt;
  return mw * 1e-3;
}

std::optional<double> Nvml::power_limit_w() const {
  unsigned mw = 0;
  if (api_->power_limit(device_, &mw) != kSuccess) return std::nullopt;
  return mw * 1e-3;
}

std::optional<std::pair<double, double>> Nvml::power_limit_range_w() const {
  unsigned lo = 0, hi = 0;
  if (api_->power_limit_constraints(device_, &lo, &hi) != kSuccess) return std::nullopt;
  return std::pair<double, double>{lo * 1e-3, hi * 1e-3};
}

Nvml::SetResult Nvml::set_power_limit_w(double watts) {
  const auto mw = static_cast<unsigned>(std::lround(watts * 1e3));
  const nvmlReturn_t r = api_->set_power_limit(device_, mw);
  SetResult out;
  out.ok = r == kSuccess;
  out.no_permission = r == kNoPermission;
  if (!out.ok) out.message = api_->error_string(r);
  return out;
}

}  // namespace moesim::calibrate
