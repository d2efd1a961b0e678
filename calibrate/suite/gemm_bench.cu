// Dense GEMM through cuBLASLt over a grid of shapes, bf16 and (where the GPU has it) fp8.
//
// Layout is that of a linear layer, Y[m x n] = X[m x k] * W^T with W stored [n x k] row-major
// (PyTorch's layout): m is the tokens dimension the cost model's efficiency curve is a function
// of, n and k are the layer's output and input features. In cuBLAS's column-major terms this is
// the "TN" problem (n, m, k) with A = W (transposed), B = X, which is also what fp8 requires.
// Output is bf16. The L2 cache is flushed before every timed repeat: in a model step the
// weights come from HBM.
#include <cublasLt.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace moesim::calibrate {
namespace {

constexpr std::size_t kWorkspaceBytes = 32u << 20;

struct Shape {
  int n, k;
};

// Layer shapes of the models moesim simulates: 4096-wide attention and MLP (Llama/Mixtral),
// Mixtral's 14336 intermediate, DeepSeek-V3's expert (7168 hidden, 2048 intermediate, gate and
// up fused into 4096), and one large square.
const std::vector<Shape> kShapes{{4096, 4096}, {14336, 4096}, {4096, 14336}, {4096, 7168}, {7168, 2048}, {8192, 8192}};
const std::vector<Shape> kQuickShapes{{4096, 4096}, {14336, 4096}};
// Rows: the skinny decode shapes (1-64 tokens per expert), the knee, and prefill sizes.
const std::vector<int> kRows{1,   2,   4,   8,   16,   24,   32,   48,   64,   96,   128,  192,
                             256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 16384};
const std::vector<int> kQuickRows{1, 4, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

// One cuBLASLt matmul problem, planned once per shape.
class LtGemm {
 public:
  LtGemm() { check_cublas(cublasLtCreate(&handle_), "cublasLtCreate"); }
  ~LtGemm() {
    release();
    cublasLtDestroy(handle_);
  }
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // Plans Y[m x n] = X[m x k] W^T in `dtype`; false (with cuBLAS's reason) when cuBLASLt has no
  // algorithm for it.
  bool plan(const std::string& dtype, int m, int n, int k, std::string& why) {
    release();
    const cudaDataType_t in = dtype == "fp8" ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
    check_cublas(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    check_cublas(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "TRANSA");
    check_cublas(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "TRANSB");
    if (dtype == "fp8") {
      const int8_t fast = 1;  // fp32 accumulation without periodic promotion, as inference engines run fp8
      check_cublas(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast), "FAST_ACCUM");
    }
    check_cublas(cublasLtMatrixLayoutCreate(&a_, in, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k), "layout A");
    check_cublas(cublasLtMatrixLayoutCreate(&b_, in, static_cast<uint64_t>(k), static_cast<uint64_t>(m), k), "layout B");
    check_cublas(cublasLtMatrixLayoutCreate(&c_, CUDA_R_16BF, static_cast<uint64_t>(n), static_cast<uint64_t>(m), n),
                 "layout C");
    cublasLtMatmulPreference_t pref = nullptr;
    check_cublas(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
    const uint64_t ws = kWorkspaceBytes;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle_, op_, a_, b_, c_, c_, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
      why = st != CUBLAS_STATUS_SUCCESS ? cublasGetStatusString(st) : "no algorithm";
      return false;
    }
    algo_ = result.algo;
    return true;
  }

  void run(const void* weights, const void* activations, void* out, void* workspace, cudaStream_t stream) {
    const float alpha = 1.0f, beta = 0.0f;
    check_cublas(cublasLtMatmul(handle_, op_, &alpha, weights, a_, activations, b_, &beta, out, c_, out, c_, &algo_,
                                workspace, kWorkspaceBytes, stream),
                 "cublasLtMatmul");
  }

 private:
  void release() {
    if (a_ != nullptr) cublasLtMatrixLayoutDestroy(a_);
    if (b_ != nullptr) cublasLtMatrixLayoutDestroy(b_);
    if (c_ != nullptr) cublasLtMatrixLayoutDestroy(c_);
    if (op_ != nullptr) cublasLtMatmulDescDestroy(op_);
    a_ = b_ = c_ = nullptr;
    op_ = nullptr;
  }

  cublasLtHandle_t handle_ = nullptr;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
};

}  // namespace

FamilyResult run_gemm(const Context& ctx) {
  FamilyResult r;
  r.name = "gemm";
  r.started = utc_now();
  r.clocks = clock_fields(ctx);
  const bool quick = ctx.options.quick;
  const auto& shapes = quick ? kQuickShapes : kShapes;
  const auto& rows = quick ? kQuickRows : kRows;
  const int repeats = ctx.repeats(20, 7);
  const int warmup = ctx.warmup(5, 2);
  std::vector<std::string> dtypes{"bf16"};
  if (has_fp8(ctx.prop)) {
    dtypes.push_back("fp8");
  } else {
    r.notes.push_back("fp8 skipped: compute capability " + std::to_string(ctx.prop.major) + "." +
                      std::to_string(ctx.prop.minor) + " has no fp8 tensor cores");
  }
  r.settings = {{"library", std::string("cublasLt")},
                {"layout", std::string("Y[m x n] = X[m x k] W^T, W [n x k] row-major; output bf16; fp32 accumulate")},
                {"repeats", static_cast<long long>(repeats)},
                {"warmup", static_cast<long long>(warmup)},
                {"l2_flush", true},
                {"fp8_fast_accumulation", true}};

  std::size_t max_w = 0, max_x = 0, max_y = 0;
  const auto max_m = static_cast<std::size_t>(*std::max_element(rows.begin(), rows.end()));
  for (const Shape& s : shapes) {
    max_w = std::max(max_w, static_cast<std::size_t>(s.n) * static_cast<std::size_t>(s.k));
    max_x = std::max(max_x, max_m * static_cast<std::size_t>(s.k));
    max_y = std::max(max_y, max_m * static_cast<std::size_t>(s.n));
  }
  Stream stream;
  L2Flusher flusher(ctx.prop);
  DeviceBuffer workspace(kWorkspaceBytes);
  DeviceBuffer w(max_w * 2), x(max_x * 2), y(max_y * 2);  // sized for bf16; fp8 uses half
  LtGemm gemm;
  for (const std::string& dtype : dtypes) {
    fill_random(w.get(), max_w, dtype, 1, stream.get());
    fill_random(x.get(), max_x, dtype, 2, stream.get());
    check(cudaStreamSynchronize(stream.get()), "fill");
    for (const Shape& s : shapes) {
      for (int m : rows) {
        std::string why;
        if (!gemm.plan(dtype, m, s.n, s.k, why)) {
          r.notes.push_back(dtype + " m=" + std::to_string(m) + " n=" + std::to_string(s.n) + " k=" +
                            std::to_string(s.k) + ": cuBLASLt: " + why);
          continue;
        }
        const Stats st = time_on_stream(
            stream.get(), [&] { gemm.run(w.get(), x.get(), y.get(), workspace.get(), stream.get()); }, warmup,
            repeats, &flusher);
        Sample sample;
        sample.set("dtype", dtype)
            .set("m", static_cast<long long>(m))
            .set("n", static_cast<long long>(s.n))
            .set("k", static_cast<long long>(s.k))
            .timing(st);
        r.samples.push_back(std::move(sample));
      }
    }
  }
  r.finished = utc_now();
  return r;
}

}  // namespace moesim::calibrate
