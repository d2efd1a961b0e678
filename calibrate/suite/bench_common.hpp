#pragma once
// What every benchmark family of moesim-calibrate shares: the sample records it returns, its
// options, CUDA error checking, device buffers, L2 flushing and event timing. Included by the
// .cu files (nvcc, C++17) and the host .cpp files alike: no JSON, nothing beyond C++17.

#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace moesim::calibrate {

/// A parameter or result of a sample: integer, real, text, flag or a list of integers.
using Value = std::variant<long long, double, std::string, bool, std::vector<long long>>;
using Fields = std::vector<std::pair<std::string, Value>>;

/// Statistics of the timed repeats of one measurement (warm-up excluded).
struct Stats {
  double median_s = 0;
  double min_s = 0;
  double max_s = 0;
  int repeats = 0;
};

/// One measurement: its parameters, then its timing.
struct Sample {
  Fields fields;
  Sample& set(std::string key, Value v) {
    fields.emplace_back(std::move(key), std::move(v));
    return *this;
  }
  Sample& timing(const Stats& s) {
    return set("median_s", s.median_s).set("min_s", s.min_s).set("max_s", s.max_s).set("repeats", static_cast<long long>(s.repeats));
  }
};

/// What one benchmark family produced.
struct FamilyResult {
  std::string name;
  std::string started, finished;      ///< ISO 8601 UTC
  Fields clocks;                      ///< SM / memory clocks when it started, where readable
  Fields settings;                    ///< repeats, warm-up, library, ...
  std::vector<std::string> notes;     ///< what was skipped inside the family, and why
  std::optional<std::string> skipped; ///< the whole family did not run, and why
  std::vector<Sample> samples;
};

/// Run options shared by all families.
struct Options {
  bool quick = false;
  int device = 0;        ///< CUDA device index the single-device benchmarks run on
  int repeats = 0;       ///< timed repeats per sample; 0: the family's default
  int warmup = 0;        ///< untimed calls before them; 0: the family's default
  bool power_limits = false;  ///< sweep the board power limit (needs root; restored afterwards)
};

class Nvml;

/// What a family gets: options, the device and its properties, and NVML when it loaded.
struct Context {
  Options options;
  int device = 0;
  int gpu_count = 1;
  cudaDeviceProp prop{};
  Nvml* nvml = nullptr;  ///< null when NVML is unavailable
  std::string nvml_note; ///< why it is unavailable

  int repeats(int full, int quick) const;
  int warmup(int full, int quick) const;
};

/// A CUDA, cuBLAS, NCCL or NVML call failed; the family stops and the run records why.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws BenchError naming `what` when `status` is an error.
void check(cudaError_t status, const char* what);
/// The same for a cuBLAS / cuBLASLt status (passed as its integer value).
void check_cublas(int status, const char* what);

/// Device memory owned for a scope (on the device that was current when it was allocated).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;

  void* get() const { return ptr_; }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// A stream owned for a scope.
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

/// Evicts the L2 cache by writing a buffer twice its size, so that a timed kernel reads its
/// inputs from HBM as it would in a model step (weights do not stay in L2 between layers).
class L2Flusher {
 public:
  explicit L2Flusher(const cudaDeviceProp& prop);
  void flush(cudaStream_t stream);

 private:
  DeviceBuffer buffer_;
};

/// Times `body` (which enqueues work on `stream`) with CUDA events: `warmup` untimed calls, then
/// `repeats` timed ones, each preceded by an L2 flush when `flusher` is given.
Stats time_on_stream(cudaStream_t stream, const std::function<void()>& body, int warmup, int repeats,
                     L2Flusher* flusher);

/// Median, min and max of wall-clock or event times.
Stats summarize(std::vector<double> seconds);

/// Seconds on a monotonic host clock.
double host_seconds();

/// Now, as "2025-06-01T12:34:56Z".
std::string utc_now();

/// Current SM and memory clocks (NVML) as fields, empty when they cannot be read.
Fields clock_fields(const Context& ctx);

/// Fills `count` elements of `dtype` ("bf16", "fp8") at `dst` with small pseudo-random values.
void fill_random(void* dst, std::size_t count, const std::string& dtype, unsigned seed, cudaStream_t stream);

// The benchmark families (one .cu file each). Each returns its samples, or a result with
// `skipped` set when it cannot run here; a BenchError escaping one ends only that family.
FamilyResult run_gemm(const Context& ctx);
FamilyResult run_grouped_gemm(const Context& ctx);
FamilyResult run_memory(const Context& ctx);
FamilyResult run_launch(const Context& ctx);
FamilyResult run_copy(const Context& ctx);
FamilyResult run_nccl(const Context& ctx);
FamilyResult run_power(const Context& ctx);

/// Whether the device has fp8 tensor cores (compute capability 8.9 or newer).
bool has_fp8(const cudaDeviceProp& prop);

}  // namespace moesim::calibrate
