#!/usr/bin/env python3
"""Synthesises a moesim-calibrate raw samples file from known parameters.

The file is what `moesim fit` would get from an 8x H100 SXM node, but every time is computed
from the cost model with the parameters in TRUTH (plus +-1 % deterministic noise), so a test can
check that the fitter gives those parameters back. It is NOT a measurement: real samples come
from moesim-calibrate on a GPU (docs/calibration.md).

    calibrate/tools/synthesize_raw.py tests/data/calibrate

writes h100_sample_raw.json (the samples) and h100_sample_truth.json (the parameters).
Only the Python standard library is used; the output is deterministic.
"""

import json
import random
import sys
from pathlib import Path

# Catalog figures of h100-sxm / nvlink4 / pcie-gen5 (hwmodels/data/*.json): the fit divides by
# the same peaks.
PEAK = {"bf16": 989e12, "fp8": 1979e12}
HBM = 3.35e12
NVLINK = 450e9
PCIE = 63e9
L2 = 50 * 2**20

TRUTH = {
    "device": "h100-sxm",
    "gemm": {
        "bf16": {"eff_max": 0.76, "m_half": 48.0, "memory_efficiency": 0.82, "grouped_relative_efficiency": 0.84},
        "fp8": {"eff_max": 0.66, "m_half": 120.0, "memory_efficiency": 0.78},
    },
    "memory": {"read_efficiency": 0.91, "write_efficiency": 0.88, "copy_efficiency": 0.86},
    "launch": {"kernel_s": 2.3e-6, "sync_s": 8.9e-6},
    "links": {"nvlink4": 0.78, "pcie-gen5": 0.85},
    # Host copies: h2d and d2h differ; the fit keeps their mean (0.85).
    "host_copy": {"h2d": 0.86, "d2h": 0.84},
    "power": {
        "idle_w": 72.0,
        # limit -> (power under load, SM clock MHz, bf16 GEMM rate)
        "states": [[700, 684.0, 1755, 745e12], [575, 566.0, 1590, 690e12], [450, 447.0, 1395, 612e12],
                   [325, 323.0, 1125, 498e12], [200, 199.0, 765, 331e12]],
    },
}

rng = random.Random(6)


def noisy(t):
    return t * (1.0 + rng.uniform(-0.01, 0.01))


def timing(t):
    return {"median_s": t, "min_s": t * 0.995, "max_s": t * 1.01, "repeats": 20}


def gemm_bytes(dtype, m, n, k):
    return (1 if dtype == "fp8" else 2) * (m * k + n * k) + 2 * m * n


def gemm_time(dtype, m, n, k):
    c = TRUTH["gemm"][dtype]
    eff = c["eff_max"] * m / (m + c["m_half"])
    return max(2 * m * n * k / (PEAK[dtype] * eff), gemm_bytes(dtype, m, n, k) / (HBM * c["memory_efficiency"]))


def grouped_time(n, k, tokens):
    """The cost model's grouped GEMM: one roofline over the experts with tokens, at the curve's
    efficiency for their mean rows, slowed by the relative efficiency."""
    c = TRUTH["gemm"]["bf16"]
    total = sum(tokens)
    active = sum(1 for t in tokens if t > 0)
    rows = total / active
    eff = c["eff_max"] * rows / (rows + c["m_half"])
    flops = 2 * total * n * k
    nbytes = 2 * (total * k + active * n * k) + 2 * total * n
    return max(flops / (PEAK["bf16"] * eff), nbytes / (HBM * c["memory_efficiency"])) / c["grouped_relative_efficiency"]


def split(total, weights):
    s = sum(weights)
    exact = [total * w / s for w in weights]
    out = [int(x) for x in exact]
    rest = sorted(range(len(weights)), key=lambda i: exact[i] - out[i], reverse=True)
    i = 0
    while sum(out) < total:
        out[rest[i % len(rest)]] += 1
        i += 1
    return out


def family(samples, **extra):
    f = {"started": "2025-06-01T12:00:00Z", "finished": "2025-06-01T12:01:00Z",
         "clocks": {"sm_mhz": 1755, "mem_mhz": 2619}}
    f.update(extra)
    f["samples"] = samples
    return f


def build():
    gemm = []
    for dtype in ("bf16", "fp8"):
        for n, k in ((4096, 4096), (14336, 4096), (7168, 2048)):
            for m in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384):
                s = {"dtype": dtype, "m": m, "n": n, "k": k}
                s.update(timing(noisy(gemm_time(dtype, m, n, k))))
                gemm.append(s)
    grouped = []
    for experts in (8, 32):
        for total in (64, 256, 1024, 4096, 16384):
            for dist in ("uniform", "zipf"):
                w = [1.0] * experts if dist == "uniform" else [1.0 / (i + 1) for i in range(experts)]
                tokens = split(total, w)
                s = {"dtype": "bf16", "n": 4096, "k": 7168, "distribution": dist, "tokens": tokens}
                s.update(timing(noisy(grouped_time(4096, 7168, tokens))))
                grouped.append(s)
    memory = []
    mem = TRUTH["memory"]
    for op, eff in (("read", mem["read_efficiency"]), ("write", mem["write_efficiency"]), ("copy", mem["copy_efficiency"])):
        for mib in (8, 32, 128, 512, 1024, 2048, 4096):
            nbytes = mib * 2**20
            moved = 2 * nbytes if op == "copy" else nbytes
            s = {"op": op, "bytes": nbytes}
            s.update(timing(noisy(moved / (HBM * eff) + 2e-6)))
            memory.append(s)
    launch = [dict({"kind": "back_to_back", "kernels": 2000}, **timing(TRUTH["launch"]["kernel_s"])),
              dict({"kind": "launch_sync", "kernels": 1}, **timing(TRUTH["launch"]["sync_s"]))]
    copy = []
    for kind in ("h2d", "d2h"):
        for nbytes in (64 * 2**10, 2**20, 16 * 2**20, 256 * 2**20, 2**30):
            s = {"kind": kind, "pinned": True, "bytes": nbytes}
            s.update(timing(noisy(nbytes / (PCIE * TRUTH["host_copy"][kind]) + 8e-6)))
            copy.append(s)
        s = {"kind": kind, "pinned": False, "bytes": 256 * 2**20}
        s.update(timing(256 * 2**20 / 20e9))
        copy.append(s)
    for dst in range(1, 8):
        for nbytes in ((2**20, 16 * 2**20, 256 * 2**20, 2**30) if dst == 1 else (2**30,)):
            s = {"kind": "p2p", "pinned": True, "src": 0, "dst": dst, "peer_access": True, "bytes": nbytes}
            s.update(timing(noisy(nbytes / (NVLINK * 0.80) + 5e-6)))
            copy.append(s)
    nccl = []
    ranks = 8
    for coll, eff in (("all_reduce", 0.85), ("all_to_all", TRUTH["links"]["nvlink4"])):
        factor = 2 * (ranks - 1) / ranks if coll == "all_reduce" else (ranks - 1) / ranks
        for mib in (1, 8, 64, 256, 1024):
            nbytes = mib * 2**20
            s = {"collective": coll, "ranks": ranks, "dtype": "bf16" if coll == "all_reduce" else "bytes", "bytes": nbytes}
            s.update(timing(noisy(nbytes * factor / (NVLINK * eff) + 5e-6)))
            nccl.append(s)
    power = [{"kind": "idle", "limit_w": 700.0, "power_w": TRUTH["power"]["idle_w"], "sm_clock_mhz": 345.0,
              "mem_clock_mhz": 2619.0}]
    for limit, watts, sm, rate in TRUTH["power"]["states"]:
        power.append({"kind": "load", "limit_w": float(limit), "limit_set": True, "power_w": watts,
                      "sm_clock_mhz": float(sm), "mem_clock_mhz": 2619.0, "gemm_flops_per_s": rate,
                      "duration_s": 3.0})
    return {
        "format": "moesim-calibrate-raw",
        "version": 1,
        "tool": "calibrate/tools/synthesize_raw.py (synthetic: computed from known parameters, not measured)",
        "mode": "full",
        "started": "2025-06-01T12:00:00Z",
        "finished": "2025-06-01T12:04:00Z",
        "host": "synthetic",
        "driver": {"version": "570.00.00", "cuda_driver": 13000, "cuda_runtime": 13000, "cublas": 130000},
        "device": {"index": 0, "name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-00000000-0000-0000-0000-000000000000",
                   "pci_bus_id": "00000000:18:00.0", "compute_capability": "9.0", "sms": 132,
                   "memory_bytes": 85520809984, "l2_bytes": L2, "sm_clock_max_mhz": 1980, "mem_clock_max_mhz": 2619,
                   "power_limit_w": 700.0},
        "gpu_count": 8,
        "benchmarks": {
            "gemm": family(gemm, settings={"library": "cublasLt", "repeats": 20, "warmup": 5, "l2_flush": True}),
            "grouped_gemm": family(grouped, settings={"library": "cublasGemmGroupedBatchedEx", "repeats": 20}),
            "memory": family(memory, settings={"repeats": 20, "l2_flush": True}),
            "launch": family(launch),
            "copy": family(copy),
            "nccl": family(nccl, settings={"ranks": ranks}),
            "power": family(power, notes=["synthetic power states"]),
        },
    }


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/calibrate")
    out.mkdir(parents=True, exist_ok=True)
    (out / "h100_sample_raw.json").write_text(json.dumps(build(), indent=1) + "\n")
    (out / "h100_sample_truth.json").write_text(json.dumps(TRUTH, indent=1) + "\n")


if __name__ == "__main__":
    main()
