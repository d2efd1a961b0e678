// Pseudo-random test data for the GEMM benchmarks (values shape power draw, not timing).
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <algorithm>

#include "bench_common.hpp"

namespace moesim::calibrate {
namespace {

// A value in [-0.5, 0.5) from the element index (splitmix64 finaliser).
__device__ float hashed_value(unsigned long long i, unsigned seed) {
  unsigned long long x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<float>(x >> 40) * (1.0f / 16777216.0f) - 0.5f;
}

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    p[i] = __float2bfloat16(hashed_value(i, seed));
  }
}

__global__ void fill_fp8(__nv_fp8_e4m3* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    p[i] = __nv_fp8_e4m3(hashed_value(i, seed));
  }
}

}  // namespace

void fill_random(void* dst, std::size_t count, const std::string& dtype, unsigned seed, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const auto blocks = static_cast<unsigned>(std::min<std::size_t>((count + kThreads - 1) / kThreads, 8192));
  if (count == 0) return;
  if (dtype == "bf16") {
    fill_bf16<<<blocks, kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(dst), count, seed);
  } else if (dtype == "fp8") {
    fill_fp8<<<blocks, kThreads, 0, stream>>>(static_cast<__nv_fp8_e4m3*>(dst), count, seed);
  } else {
    throw BenchError("fill_random: unsupported dtype " + dtype);
  }
  check(cudaGetLastError(), "fill_random kernel launch");
}

}  // namespace moesim::calibrate
