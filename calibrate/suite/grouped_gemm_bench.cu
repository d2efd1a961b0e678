// Grouped GEMM for the routed experts of one device: one group per expert, each with the rows
// (tokens) routed to it, through cublasGemmGroupedBatchedEx (bf16; cuBLAS has no fp8 grouped
// GEMM). Token counts are even ("uniform") or skewed ("zipf": expert i gets a share
// proportional to 1/(i+1)), as the router makes them; experts that get no token do no work.
// Same linear-layer layout as the dense benchmark; L2 flushed before every timed repeat.
#include <cublas_v2.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "cublas_handle.hpp"

namespace moesim::calibrate {
namespace {

struct Shape {
  int n, k;
};

// DeepSeek-V3's expert: gate+up (4096 x 7168) and down (7168 x 2048).
const std::vector<Shape> kShapes{{4096, 7168}, {7168, 2048}};
const std::vector<Shape> kQuickShapes{{4096, 7168}};
const std::vector<int> kExperts{8, 32};
const std::vector<int> kQuickExperts{8};
// Token-expert pairs on the device per step: decode batches up to large prefill chunks.
const std::vector<int> kTotals{64, 256, 1024, 4096, 16384};
const std::vector<int> kQuickTotals{256, 4096};

// Splits `total` over `experts` by largest remainder of the given weights.
std::vector<long long> split(int total, const std::vector<double>& weights) {
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<long long> out(weights.size());
  std::vector<std::pair<double, std::size_t>> rest;
  long long given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double exact = total * weights[i] / sum;
    out[i] = static_cast<long long>(exact);
    given += out[i];
    rest.emplace_back(exact - static_cast<double>(out[i]), i);
  }
  std::sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; given < total; ++i, ++given) ++out[rest[i % rest.size()].second];
  return out;
}

std::vector<long long> token_counts(int total, int experts, const std::string& distribution) {
  std::vector<double> w(static_cast<std::size_t>(experts), 1.0);
  if (distribution == "zipf") {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = 1.0 / static_cast<double>(i + 1);
  }
  return split(total, w);
}

}  // namespace

FamilyResult run_grouped_gemm(const Context& ctx) {
  FamilyResult r;
  r.name = "grouped_gemm";
  r.started = utc_now();
  r.clocks = clock_fields(ctx);
  const bool quick = ctx.options.quick;
  const auto& shapes = quick ? kQuickShapes : kShapes;
  const auto& expert_counts = quick ? kQuickExperts : kExperts;
  const auto& totals = quick ? kQuickTotals : kTotals;
  const int repeats = ctx.repeats(20, 7);
  const int warmup = ctx.warmup(5, 2);
  r.settings = {{"library", std::string("cublasGemmGroupedBatchedEx")},
                {"layout", std::string("per expert Y[m_e x n] = X[m_e x k] W_e^T; bf16 in and out; fp32 accumulate")},
                {"repeats", static_cast<long long>(repeats)},
                {"warmup", static_cast<long long>(warmup)},
                {"l2_flush", true}};

  std::size_t max_w = 0, max_x = 0, max_y = 0;
  const auto max_e = static_cast<std::size_t>(*std::max_element(expert_counts.begin(), expert_counts.end()));
  const auto max_t = static_cast<std::size_t>(*std::max_element(totals.begin(), totals.end()));
  for (const Shape& s : shapes) {
    max_w = std::max(max_w, max_e * static_cast<std::size_t>(s.n) * static_cast<std::size_t>(s.k));
    max_x = std::max(max_x, max_t * static_cast<std::size_t>(s.k));
    max_y = std::max(max_y, max_t * static_cast<std::size_t>(s.n));
  }
  Stream stream;
  L2Flusher flusher(ctx.prop);
  CublasHandle blas;
  check_cublas(cublasSetStream(blas.get(), stream.get()), "cublasSetStream");
  DeviceBuffer w(max_w * 2), x(max_x * 2), y(max_y * 2);
  DeviceBuffer ptrs(3 * max_e * sizeof(void*));
  fill_random(w.get(), max_w, "bf16", 3, stream.get());
  fill_random(x.get(), max_x, "bf16", 4, stream.get());
  check(cudaStreamSynchronize(stream.get()), "fill");

  for (const Shape& s : shapes) {
    for (int experts : expert_counts) {
      for (int total : totals) {
        for (const std::string distribution : {"uniform", "zipf"}) {
          const std::vector<long long> tokens = token_counts(total, experts, distribution);
          // One group per expert that has tokens.
          std::vector<int> m, n, k, lda, ldb, ldc, size;
          std::vector<cublasOperation_t> ta, tb;
          std::vector<float> alpha, beta;
          std::vector<const void*> a_ptr, b_ptr;
          std::vector<void*> c_ptr;
          std::size_t row = 0;
          for (std::size_t e = 0; e < tokens.size(); ++e) {
            if (tokens[e] == 0) continue;
            // cuBLAS column-major: (n, m_e, k), A = W_e transposed, B = X_e.
            m.push_back(s.n);
            n.push_back(static_cast<int>(tokens[e]));
            k.push_back(s.k);
            lda.push_back(s.k);
            ldb.push_back(s.k);
            ldc.push_back(s.n);
            size.push_back(1);
            ta.push_back(CUBLAS_OP_T);
            tb.push_back(CUBLAS_OP_N);
            alpha.push_back(1.0f);
            beta.push_back(0.0f);
            a_ptr.push_back(w.as<char>() + e * static_cast<std::size_t>(s.n) * static_cast<std::size_t>(s.k) * 2);
            b_ptr.push_back(x.as<char>() + row * static_cast<std::size_t>(s.k) * 2);
            c_ptr.push_back(y.as<char>() + row * static_cast<std::size_t>(s.n) * 2);
            row += static_cast<std::size_t>(tokens[e]);
          }
          const auto groups = static_cast<int>(m.size());
          // Pointer arrays live in device memory.
          auto** d_a = ptrs.as<const void*>();
          auto** d_b = reinterpret_cast<const void**>(ptrs.as<char>() + max_e * sizeof(void*));
          auto** d_c = reinterpret_cast<void**>(ptrs.as<char>() + 2 * max_e * sizeof(void*));
          check(cudaMemcpy(d_a, a_ptr.data(), a_ptr.size() * sizeof(void*), cudaMemcpyHostToDevice), "pointer upload");
          check(cudaMemcpy(d_b, b_ptr.data(), b_ptr.size() * sizeof(void*), cudaMemcpyHostToDevice), "pointer upload");
          check(cudaMemcpy(d_c, c_ptr.data(), c_ptr.size() * sizeof(void*), cudaMemcpyHostToDevice), "pointer upload");
          auto call = [&] {
            return cublasGemmGroupedBatchedEx(blas.get(), ta.data(), tb.data(), m.data(), n.data(), k.data(),
                                              alpha.data(), d_a, CUDA_R_16BF, lda.data(), d_b, CUDA_R_16BF,
                                              ldb.data(), beta.data(), d_c, CUDA_R_16BF, ldc.data(), groups,
                                              size.data(), CUBLAS_COMPUTE_32F);
          };
          if (const cublasStatus_t st = call(); st != CUBLAS_STATUS_SUCCESS) {
            r.skipped = std::string("cublasGemmGroupedBatchedEx failed: ") + cublasGetStatusString(st);
            r.finished = utc_now();
            return r;
          }
          const Stats t = time_on_stream(
              stream.get(), [&] { check_cublas(call(), "cublasGemmGroupedBatchedEx"); }, warmup, repeats, &flusher);
          Sample sample;
          sample.set("dtype", std::string("bf16"))
              .set("n", static_cast<long long>(s.n))
              .set("k", static_cast<long long>(s.k))
              .set("distribution", distribution)
              .set("tokens", tokens)
              .timing(t);
          r.samples.push_back(std::move(sample));
        }
      }
    }
  }
  r.finished = utc_now();
  return r;
}

}  // namespace moesim::calibrate
