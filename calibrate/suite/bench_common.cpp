#include "bench_common.hpp"

#include <cublas_api.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "nvml_loader.hpp"

namespace moesim::calibrate {

int Context::repeats(int full, int quick) const {
  if (options.repeats > 0) return options.repeats;
  return options.quick ? quick : full;
}

int Context::warmup(int full, int quick) const {
  if (options.warmup > 0) return options.warmup;
  return options.quick ? quick : full;
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw BenchError(std::string(what) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
  }
}

void check_cublas(int status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw BenchError(std::string(what) + ": " + cublasGetStatusString(static_cast<cublasStatus_t>(status)));
  }
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

Stream::Stream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate"); }

Stream::~Stream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

L2Flusher::L2Flusher(const cudaDeviceProp& prop)
    : buffer_(2 * static_cast<std::size_t>(std::max(prop.l2CacheSize, 1 << 20))) {}

void L2Flusher::flush(cudaStream_t stream) {
  check(cudaMemsetAsync(buffer_.get(), 0, buffer_.bytes(), stream), "L2 flush (cudaMemsetAsync)");
}

namespace {

// Event pairs for the timed repeats, destroyed on scope exit.
struct EventPairs {
  std::vector<cudaEvent_t> start, stop;
  explicit EventPairs(int n) : start(static_cast<std::size_t>(n)), stop(static_cast<std::size_t>(n)) {
    for (int i = 0; i < n; ++i) {
      check(cudaEventCreate(&start[static_cast<std::size_t>(i)]), "cudaEventCreate");
      check(cudaEventCreate(&stop[static_cast<std::size_t>(i)]), "cudaEventCreate");
    }
  }
  ~EventPairs() {
    for (auto e : start) cudaEventDestroy(e);
    for (auto e : stop) cudaEventDestroy(e);
  }
  EventPairs(const EventPairs&) = delete;
  EventPairs& operator=(const EventPairs&) = delete;
};

}  // namespace

Stats time_on_stream(cudaStream_t stream, const std::function<void()>& body, int warmup, int repeats,
                     L2Flusher* flusher) {
  for (int i = 0; i < warmup; ++i) body();
  check(cudaStreamSynchronize(stream), "warm-up");
  EventPairs ev(repeats);
  for (int i = 0; i < repeats; ++i) {
    const auto idx = static_cast<std::size_t>(i);
    if (flusher != nullptr) flusher->flush(stream);
    check(cudaEventRecord(ev.start[idx], stream), "cudaEventRecord");
    body();
    check(cudaEventRecord(ev.stop[idx], stream), "cudaEventRecord");
  }
  check(cudaStreamSynchronize(stream), "timed repeats");
  std::vector<double> times;
  times.reserve(static_cast<std::size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, ev.start[static_cast<std::size_t>(i)], ev.stop[static_cast<std::size_t>(i)]),
          "cudaEventElapsedTime");
    times.push_back(static_cast<double>(ms) * 1e-3);
  }
  return summarize(std::move(times));
}

Stats summarize(std::vector<double> seconds) {
  Stats s;
  if (seconds.empty()) return s;
  std::sort(seconds.begin(), seconds.end());
  const std::size_t h = seconds.size() / 2;
  s.median_s = seconds.size() % 2 ? seconds[h] : 0.5 * (seconds[h - 1] + seconds[h]);
  s.min_s = seconds.front();
  s.max_s = seconds.back();
  s.repeats = static_cast<int>(seconds.size());
  return s;
}

double host_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Fields clock_fields(const Context& ctx) {
  Fields f;
  if (ctx.nvml == nullptr) return f;
  if (auto sm = ctx.nvml->sm_clock_mhz()) f.emplace_back("sm_mhz", static_cast<long long>(*sm));
  if (auto mem = ctx.nvml->mem_clock_mhz()) f.emplace_back("mem_mhz", static_cast<long long>(*mem));
  return f;
}

bool has_fp8(const cudaDeviceProp& prop) { return prop.major > 8 || (prop.major == 8 && prop.minor >= 9); }

}  // namespace moesim::calibrate
