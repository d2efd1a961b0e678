// Host<->device copies (pinned, and one pageable size) over PCIe / C2C, and peer-to-peer copies
// from the benchmarked device to every other visible GPU (NVLink when present).
#include <algorithm>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace moesim::calibrate {
namespace {

constexpr std::size_t kKiB = 1u << 10, kMiB = 1u << 20;
const std::vector<std::size_t> kSizes{64 * kKiB, 1 * kMiB, 16 * kMiB, 256 * kMiB, 1024 * kMiB};
const std::vector<std::size_t> kQuickSizes{1 * kMiB, 64 * kMiB, 256 * kMiB};
constexpr int kMaxPeers = 7;

class PinnedBuffer {
 public:
  explicit PinnedBuffer(std::size_t bytes) { check(cudaMallocHost(&ptr_, bytes), "cudaMallocHost"); }
  ~PinnedBuffer() { cudaFreeHost(ptr_); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

// Host-clock timing for blocking calls (pageable copies return only when done).
Stats time_blocking(const std::function<void()>& body, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const double t0 = host_seconds();
    body();
    t.push_back(host_seconds() - t0);
  }
  return summarize(std::move(t));
}

// Makes `device` current for a scope.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&saved_), "cudaGetDevice");
    check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(saved_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int saved_ = 0;
};

}  // namespace

FamilyResult run_copy(const Context& ctx) {
  FamilyResult r;
  r.name = "copy";
  r.started = utc_now();
  r.clocks = clock_fields(ctx);
  const bool quick = ctx.options.quick;
  const auto& sizes = quick ? kQuickSizes : kSizes;
  const std::size_t largest = *std::max_element(sizes.begin(), sizes.end());
  const std::size_t pageable_size = quick ? 64 * kMiB : 256 * kMiB;
  const int repeats = ctx.repeats(10, 5);
  const int warmup = ctx.warmup(2, 1);
  r.settings = {{"repeats", static_cast<long long>(repeats)},
                {"warmup", static_cast<long long>(warmup)},
                {"api", std::string("cudaMemcpyAsync / cudaMemcpyPeerAsync, CUDA events; pageable: cudaMemcpy, host clock")}};
  Stream stream;
  DeviceBuffer dev(largest);
  PinnedBuffer host(largest);
  for (const std::string kind : {"h2d", "d2h"}) {
    const bool h2d = kind == "h2d";
    for (std::size_t bytes : sizes) {
      const Stats st = time_on_stream(
          stream.get(),
          [&] {
            check(cudaMemcpyAsync(h2d ? dev.get() : host.get(), h2d ? host.get() : dev.get(), bytes,
                                  h2d ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, stream.get()),
                  "cudaMemcpyAsync");
          },
          warmup, repeats, nullptr);
      Sample s;
      s.set("kind", kind).set("pinned", true).set("bytes", static_cast<long long>(bytes)).timing(st);
      r.samples.push_back(std::move(s));
    }
    std::vector<char> pageable(pageable_size, 1);
    const Stats st = time_blocking(
        [&] {
          check(cudaMemcpy(h2d ? dev.get() : pageable.data(), h2d ? static_cast<void*>(pageable.data()) : dev.get(),
                           pageable_size, h2d ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost),
                "cudaMemcpy (pageable)");
        },
        warmup, repeats);
    Sample s;
    s.set("kind", kind).set("pinned", false).set("bytes", static_cast<long long>(pageable_size)).timing(st);
    r.samples.push_back(std::move(s));
  }

  if (ctx.gpu_count < 2) {
    r.notes.push_back("peer-to-peer copies skipped: one GPU visible");
  }
  const int peers = std::min(ctx.gpu_count - 1, kMaxPeers);
  int first_peer = -1;
  for (int dst = 0, done = 0; dst < ctx.gpu_count && done < peers; ++dst) {
    if (dst == ctx.device) continue;
    ++done;
    int can = 0;
    check(cudaDeviceCanAccessPeer(&can, ctx.device, dst), "cudaDeviceCanAccessPeer");
    if (can) {
      const cudaError_t e = cudaDeviceEnablePeerAccess(dst, 0);
      if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled) check(e, "cudaDeviceEnablePeerAccess");
      cudaGetLastError();  // clear "already enabled"
    } else {
      r.notes.push_back("no peer access from GPU " + std::to_string(ctx.device) + " to GPU " + std::to_string(dst) +
                        ": its copies are staged through the host");
    }
    DeviceBuffer remote;
    {
      DeviceScope on(dst);
      remote = DeviceBuffer(largest);
    }
    // All sizes to the first peer; the largest to the others (is every pair alike?).
    if (first_peer < 0) first_peer = dst;
    for (std::size_t bytes : sizes) {
      if (dst != first_peer && bytes != largest) continue;
      const Stats st = time_on_stream(
          stream.get(),
          [&] {
            check(cudaMemcpyPeerAsync(remote.get(), dst, dev.get(), ctx.device, bytes, stream.get()),
                  "cudaMemcpyPeerAsync");
          },
          warmup, repeats, nullptr);
      Sample s;
      s.set("kind", std::string("p2p"))
          .set("pinned", true)
          .set("src", static_cast<long long>(ctx.device))
          .set("dst", static_cast<long long>(dst))
          .set("peer_access", can != 0)
          .set("bytes", static_cast<long long>(bytes))
          .timing(st);
      r.samples.push_back(std::move(s));
    }
  }
  r.finished = utc_now();
  return r;
}

}  // namespace moesim::calibrate
