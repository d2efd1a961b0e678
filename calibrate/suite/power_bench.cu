// Board power and clocks (NVML) while idle and under a sustained bf16 GEMM load, at the current
// power limit, and with --power-limits at each of a few settable limits from the maximum down
// to the minimum (root only; the original limit is restored afterwards).
#include <cublas_v2.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "cublas_handle.hpp"
#include "nvml_loader.hpp"

namespace moesim::calibrate {
namespace {

constexpr int kGemmSize = 8192;
constexpr int kSweepLevels = 5;
constexpr auto kPoll = std::chrono::milliseconds(20);

double median_of(std::vector<double> v) { return summarize(std::move(v)).median_s; }

// Restores the power limit found at the start, whatever happens in between.
class LimitGuard {
 public:
  LimitGuard(Nvml& nvml, double original) : nvml_(nvml), original_(original) {}
  ~LimitGuard() {
    if (changed_) nvml_.set_power_limit_w(original_);
  }
  LimitGuard(const LimitGuard&) = delete;
  LimitGuard& operator=(const LimitGuard&) = delete;
  void changed() { changed_ = true; }

 private:
  Nvml& nvml_;
  double original_;
  bool changed_ = false;
};

struct Load {
  double power_w = 0, sm_mhz = 0, mem_mhz = 0, flops = 0, seconds = 0;
};

// Runs back-to-back GEMMs for about `duration` seconds while a second thread polls NVML (the
// host may block in the launch queue, so polling cannot share its thread); readings of the first
// quarter (clocks and power settling) are dropped.
Load run_load(Nvml& nvml, cublasHandle_t blas, cudaStream_t stream, const DeviceBuffer& a, const DeviceBuffer& b,
              DeviceBuffer& c, double duration) {
  const float alpha = 1.0f, beta = 0.0f;
  auto gemm = [&] {
    check_cublas(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, kGemmSize, kGemmSize, kGemmSize, &alpha, a.get(),
                              CUDA_R_16BF, kGemmSize, b.get(), CUDA_R_16BF, kGemmSize, &beta, c.get(), CUDA_R_16BF,
                              kGemmSize, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  };
  const Stats one = time_on_stream(stream, gemm, 3, 3, nullptr);
  const int count = std::max(10, static_cast<int>(duration / one.median_s));

  struct Reading {
    double t;
    std::optional<double> power;
    std::optional<unsigned> sm, mem;
  };
  std::vector<Reading> readings;
  std::atomic<bool> done{false};
  const double t0 = host_seconds();
  std::thread sampler([&] {
    while (!done.load()) {
      readings.push_back({host_seconds() - t0, nvml.power_w(), nvml.sm_clock_mhz(), nvml.mem_clock_mhz()});
      std::this_thread::sleep_for(kPoll);
    }
  });
  cudaEvent_t start = nullptr, stop = nullptr;
  float ms = 0;
  try {
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int i = 0; i < count; ++i) gemm();
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "GEMM load");
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  } catch (...) {
    done = true;
    sampler.join();
    throw;
  }
  done = true;
  sampler.join();
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  Load l;
  l.seconds = ms * 1e-3;
  l.flops = 2.0 * std::pow(static_cast<double>(kGemmSize), 3) * count / l.seconds;
  std::vector<double> power, sm, mem;
  for (const Reading& r : readings) {
    if (r.t < 0.25 * l.seconds || r.t > l.seconds) continue;
    if (r.power) power.push_back(*r.power);
    if (r.sm) sm.push_back(*r.sm);
    if (r.mem) mem.push_back(*r.mem);
  }
  if (power.empty()) throw BenchError("NVML returned no power readings under load");
  l.power_w = median_of(power);
  l.sm_mhz = sm.empty() ? 0 : median_of(sm);
  l.mem_mhz = mem.empty() ? 0 : median_of(mem);
  return l;
}

}  // namespace

FamilyResult run_power(const Context& ctx) {
  FamilyResult r;
  r.name = "power";
  r.started = utc_now();
  r.clocks = clock_fields(ctx);
  if (ctx.nvml == nullptr) {
    r.skipped = ctx.nvml_note.empty() ? "NVML unavailable" : ctx.nvml_note;
    r.finished = utc_now();
    return r;
  }
  Nvml& nvml = *ctx.nvml;
  const double duration = ctx.options.quick ? 1.0 : 3.0;
  const auto original = nvml.power_limit_w();
  if (!original) {
    r.skipped = "NVML cannot read the power limit of this device";
    r.finished = utc_now();
    return r;
  }
  r.settings = {{"load", std::string("cublasGemmEx bf16 8192^3, back to back")},
                {"duration_s", duration},
                {"poll_ms", static_cast<long long>(kPoll.count())},
                {"statistic", std::string("median of NVML readings after the first quarter of the load")}};

  // Idle: nothing running for a second.
  check(cudaDeviceSynchronize(), "idle");
  std::this_thread::sleep_for(std::chrono::milliseconds(ctx.options.quick ? 500 : 1000));
  std::vector<double> idle;
  for (int i = 0; i < 10; ++i) {
    if (auto p = nvml.power_w()) idle.push_back(*p);
    std::this_thread::sleep_for(kPoll);
  }
  if (!idle.empty()) {
    Sample s;
    s.set("kind", std::string("idle")).set("limit_w", *original).set("power_w", median_of(idle));
    if (auto sm = nvml.sm_clock_mhz()) s.set("sm_clock_mhz", static_cast<double>(*sm));
    if (auto mem = nvml.mem_clock_mhz()) s.set("mem_clock_mhz", static_cast<double>(*mem));
    r.samples.push_back(std::move(s));
  }

  // The limits to measure at.
  std::vector<double> limits{*original};
  const auto range = nvml.power_limit_range_w();
  if (!ctx.options.power_limits) {
    r.notes.push_back("power-limit sweep not requested (--power-limits): measured at the current limit only");
  } else if (!range || range->second <= range->first) {
    r.notes.push_back("the power limit is not adjustable on this device: measured at the current limit only");
  } else {
    limits.clear();
    const int levels = ctx.options.quick ? 2 : kSweepLevels;
    for (int i = 0; i < levels; ++i) {
      limits.push_back(range->second - (range->second - range->first) * i / (levels - 1));
    }
  }

  Stream stream;
  CublasHandle blas;
  check_cublas(cublasSetStream(blas.get(), stream.get()), "cublasSetStream");
  const std::size_t elems = std::size_t{kGemmSize} * kGemmSize;
  DeviceBuffer a(elems * 2), b(elems * 2), c(elems * 2);
  fill_random(a.get(), elems, "bf16", 5, stream.get());
  fill_random(b.get(), elems, "bf16", 6, stream.get());
  LimitGuard guard(nvml, *original);
  bool sweep = limits.size() > 1;
  for (const double limit : limits) {
    bool set = false;
    if (sweep) {
      const auto res = nvml.set_power_limit_w(limit);
      if (res.ok) {
        guard.changed();
        set = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      } else {
        r.notes.push_back("cannot set the power limit to " + std::to_string(static_cast<int>(limit)) + " W (NVML: " +
                          res.message + (res.no_permission ? "; needs root" : "") + "): measured once, as it is");
        sweep = false;
      }
    }
    const Load l = run_load(nvml, blas.get(), stream.get(), a, b, c, duration);
    Sample s;
    s.set("kind", std::string("load"))
        .set("limit_w", nvml.power_limit_w().value_or(limit))
        .set("limit_set", set)
        .set("power_w", l.power_w)
        .set("sm_clock_mhz", l.sm_mhz)
        .set("mem_clock_mhz", l.mem_mhz)
        .set("gemm_flops_per_s", l.flops)
        .set("duration_s", l.seconds);
    r.samples.push_back(std::move(s));
    if (!sweep) break;
  }
  r.finished = utc_now();
  return r;
}

}  // namespace moesim::calibrate
