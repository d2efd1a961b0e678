#!/usr/bin/env python3
"""Writes the DeepGEMM H800 performance tables as a moesim-calibrate raw samples file.

Source: the Performance section of deepseek-ai/DeepGEMM README.md at commit 327ec92f6977
(2025-04-09; the tables were removed from the README in 37aa127): FP8 GEMMs with BF16 output on
H800 SXM5, NVCC 12.8, every shape of DeepSeek-V3/R1 inference without tensor parallelism. The
tables give achieved TFLOPS per shape; the time of one GEMM is derived here as 2·M·N·K / TFLOPS
(grouped: summed over the groups). These are published measurements of one library (DeepGEMM),
not of cuBLAS: a profile fitted on them says what DeepSeek's own kernels reach.

Usage: python3 deepgemm_to_raw.py > raw.json   (then: moesim fit raw.json -o PROFILE.json)
"""
import json

# (M, N, K, TFLOPS): "Normal GEMMs for dense models".
DENSE = [
    (64, 2112, 7168, 206), (64, 24576, 1536, 289), (64, 32768, 512, 219), (64, 7168, 16384, 336),
    (64, 4096, 7168, 287), (64, 7168, 2048, 295),
    (128, 2112, 7168, 352), (128, 24576, 1536, 535), (128, 32768, 512, 358), (128, 7168, 16384, 645),
    (128, 4096, 7168, 533), (128, 7168, 2048, 510),
    (4096, 2112, 7168, 1127), (4096, 24576, 1536, 1212), (4096, 32768, 512, 775), (4096, 7168, 16384, 1520),
    (4096, 4096, 7168, 1410), (4096, 7168, 2048, 1168),
]
# (groups, M per group, N, K, TFLOPS, layout): "Grouped GEMMs for MoE models".
GROUPED = [
    (4, 8192, 4096, 7168, 1346, "contiguous"), (4, 8192, 7168, 2048, 1214, "contiguous"),
    (8, 4096, 4096, 7168, 1346, "contiguous"), (8, 4096, 7168, 2048, 1214, "contiguous"),
    (1, 1024, 4096, 7168, 1233, "masked"), (1, 1024, 7168, 2048, 925, "masked"),
    (2, 512, 4096, 7168, 1040, "masked"), (2, 512, 7168, 2048, 916, "masked"),
    (4, 256, 4096, 7168, 932, "masked"), (4, 256, 7168, 2048, 815, "masked"),
]


def seconds(flops, tflops):
    return flops / (tflops * 1e12)


def main():
    gemm = []
    for m, n, k, tf in sorted(DENSE, key=lambda r: (r[1], r[2], r[0])):
        gemm.append({"dtype": "fp8", "m": m, "n": n, "k": k, "median_s": seconds(2.0 * m * n * k, tf)})
    grouped = []
    for g, m, n, k, tf, layout in GROUPED:
        grouped.append({"dtype": "fp8", "n": n, "k": k, "distribution": "uniform (DeepGEMM " + layout + " layout)",
                        "tokens": [m] * g, "median_s": seconds(2.0 * g * m * n * k, tf)})
    doc = {
        "format": "moesim-calibrate-raw",
        "version": 1,
        "tool": "calibrate/data/deepgemm-h800/deepgemm_to_raw.py (derived from deepseek-ai/DeepGEMM README.md "
                "@ 327ec92f6977, Performance section: published TFLOPS per shape -> seconds; not a moesim-calibrate run)",
        "mode": "custom",
        "started": "2025-04-09T00:00:00Z",
        "finished": "2025-04-09T00:00:00Z",
        "host": "deepseek-ai (published)",
        "driver": {"version": "unknown", "cuda_runtime": 12080},
        "device": {"index": 0, "name": "NVIDIA H800", "sms": 132},
        "gpu_count": 1,
        "benchmarks": {
            "gemm": {"settings": {"library": "DeepGEMM (FP8, BF16 output)"}, "samples": gemm},
            "grouped_gemm": {"settings": {"library": "DeepGEMM m_grouped (contiguous and masked)"}, "samples": grouped},
            "memory": {"skipped": "not in the DeepGEMM tables"},
            "launch": {"skipped": "not in the DeepGEMM tables"},
            "copy": {"skipped": "not in the DeepGEMM tables"},
            "nccl": {"skipped": "not in the DeepGEMM tables"},
            "power": {"skipped": "not in the DeepGEMM tables"},
        },
    }
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
