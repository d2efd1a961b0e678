#pragma once
// An owned cuBLAS handle for the benchmarks that call cuBLAS (grouped GEMM, power under load).

#include <cublas_v2.h>

#include "bench_common.hpp"

namespace moesim::calibrate {

class CublasHandle {
 public:
  CublasHandle() { check_cublas(cublasCreate(&h_), "cublasCreate"); }
  ~CublasHandle() { cublasDestroy(h_); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

}  // namespace moesim::calibrate
