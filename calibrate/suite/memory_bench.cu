// HBM bandwidth: streaming read, write and copy kernels over buffers from a few MiB (inside L2,
// flushed before each repeat) to GiBs (far beyond it). 16-byte accesses, four in flight per
// thread, enough blocks to fill every SM.
#include <algorithm>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace moesim::calibrate {
namespace {

constexpr std::size_t kMiB = 1u << 20;
const std::vector<std::size_t> kSizes{8 * kMiB, 32 * kMiB, 128 * kMiB, 512 * kMiB, 1024 * kMiB, 2048 * kMiB, 4096 * kMiB};
const std::vector<std::size_t> kQuickSizes{32 * kMiB, 512 * kMiB, 2048 * kMiB};
constexpr int kThreads = 512;

__device__ __forceinline__ void mix(uint4& acc, const uint4& v) {
  acc.x ^= v.x;
  acc.y ^= v.y;
  acc.z ^= v.z;
  acc.w ^= v.w;
}

// Reads every element; the result is stored only under a condition the zeroed buffer never
// meets, which keeps the loads from being optimised away without writing to memory.
__global__ void read_kernel(const uint4* __restrict__ p, size_t n, unsigned* sink) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  uint4 acc = make_uint4(0, 0, 0, 0);
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = p[i], b = p[i + stride], c = p[i + 2 * stride], d = p[i + 3 * stride];
    mix(acc, a);
    mix(acc, b);
    mix(acc, c);
    mix(acc, d);
  }
  for (; i < n; i += stride) mix(acc, p[i]);
  if ((acc.x ^ acc.y ^ acc.z ^ acc.w) == 0x9E3779B9u) *sink = acc.x;
}

__global__ void write_kernel(uint4* __restrict__ p, size_t n, unsigned v) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const uint4 val = make_uint4(v, v, v, v);
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += stride) p[i] = val;
}

__global__ void copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst, size_t n) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = src[i], b = src[i + stride], c = src[i + 2 * stride], d = src[i + 3 * stride];
    dst[i] = a;
    dst[i + stride] = b;
    dst[i + 2 * stride] = c;
    dst[i + 3 * stride] = d;
  }
  for (; i < n; i += stride) dst[i] = src[i];
}

}  // namespace

FamilyResult run_memory(const Context& ctx) {
  FamilyResult r;
  r.name = "memory";
  r.started = utc_now();
  r.clocks = clock_fields(ctx);
  const int repeats = ctx.repeats(20, 7);
  const int warmup = ctx.warmup(3, 1);
  const auto blocks = static_cast<unsigned>(ctx.prop.multiProcessorCount * 4);
  r.settings = {{"repeats", static_cast<long long>(repeats)},
                {"warmup", static_cast<long long>(warmup)},
                {"l2_flush", true},
                {"threads_per_block", static_cast<long long>(kThreads)},
                {"blocks", static_cast<long long>(blocks)},
                {"copy_bytes", std::string("a copy of B bytes reads B and writes B")}};

  std::size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  std::vector<std::size_t> sizes;
  for (std::size_t s : ctx.options.quick ? kQuickSizes : kSizes) {
    // Two buffers for the copy, and room left for the L2 flusher and the runtime.
    if (2 * s <= free_bytes / 2) {
      sizes.push_back(s);
    } else {
      r.notes.push_back(std::to_string(s / kMiB) + " MiB skipped: not enough free device memory");
    }
  }
  if (sizes.empty()) {
    r.skipped = "not enough free device memory";
    r.finished = utc_now();
    return r;
  }
  const std::size_t largest = *std::max_element(sizes.begin(), sizes.end());
  Stream stream;
  L2Flusher flusher(ctx.prop);
  DeviceBuffer a(largest), b(largest), sink(sizeof(unsigned));
  check(cudaMemsetAsync(a.get(), 0, largest, stream.get()), "memset");
  check(cudaMemsetAsync(b.get(), 0, largest, stream.get()), "memset");
  for (const std::string op : {"read", "write", "copy"}) {
    for (std::size_t bytes : sizes) {
      const size_t n = bytes / sizeof(uint4);
      auto body = [&] {
        if (op == "read") {
          read_kernel<<<blocks, kThreads, 0, stream.get()>>>(a.as<const uint4>(), n, sink.as<unsigned>());
        } else if (op == "write") {
          write_kernel<<<blocks, kThreads, 0, stream.get()>>>(b.as<uint4>(), n, 7u);
        } else {
          copy_kernel<<<blocks, kThreads, 0, stream.get()>>>(a.as<const uint4>(), b.as<uint4>(), n);
        }
        check(cudaGetLastError(), "memory kernel launch");
      };
      const Stats st = time_on_stream(stream.get(), body, warmup, repeats, &flusher);
      Sample sample;
      sample.set("op", op).set("bytes", static_cast<long long>(bytes)).timing(st);
      r.samples.push_back(std::move(sample));
    }
  }
  r.finished = utc_now();
  return r;
}

}  // namespace moesim::calibrate
