#!/usr/bin/env python3
"""Classify every GPU kernel of a PyTorch-profiler (Kineto) Chrome trace into moesim kernel classes.

Usage: python3 classify_trace.py TRACE.json > summary.json

Standard library only. Written for deepseek-ai/profile-data train.json (DeepSeek-V3 training,
EP64, DualPipe 1F1B chunk of 4 MoE layers forward + 4 backward, rank 0 of 64, H800).

What it does
  * GPU activity = events with cat in {"kernel", "gpu_memcpy", "gpu_memset"} (pid = GPU index,
    tid = CUDA stream). Kernels are counted separately from memcpy/memset, but all three are
    classified (memcpy/memset fall into elementwise_other).
  * Every GPU event is classified by its NAME with the first matching regex of RULES.
  * Phase (forward / backward) comes from the CPU side: the kernel's "correlation" id links it to
    the cudaLaunchKernel runtime event; the launch timestamp is looked up in the CPU
    user_annotation ranges named like "attn(F)", "mlp(B)", "mlp(W)", "dispatch(F)",
    "combine(B)" ... (the DualPipe stage markers). (F) -> forward, (B) and (W) -> backward
    ((W) = the deferred weight-gradient part of backward). Backward launches from the autograd
    thread are matched by time, not by thread (annotations are only on the main thread).
  * Streams: role "compute" = the stream with most kernels; "comm" = the stream whose busy time
    is dominated by all_to_all/other_comm kernels; any other stream = "compute2".
  * Busy time of a stream = length of the union of its event intervals; overlaps are interval
    intersections of those unions.
"""
import json
import re
import sys
from collections import defaultdict, OrderedDict

# (class, regex) -- first match wins; matched with re.search on the full kernel name.
RULES = [
    ("all_to_all",        r"dpsk::ep::"),  # DeepEP: dispatch, combine, notify_dispatch, cached_notify, get_dispatch_layout
    ("other_comm",        r"nccl|NCCL|cross_device_reduce|all_?reduce|all_?gather|reduce_?scatter"),
    ("wgrad_gemm",        r"fp8_dptp128c_acc"),  # FP8 GEMM accumulating into the FP32 weight gradient
    ("grouped_gemm",      r"m_grouped_fp8|fill_tensormaps_kernel"),  # M-grouped routed-expert GEMM (+ its TMA descriptor setup)
    ("router",            r"sm90_xmma_gemm_bf16|topk|TopK|unique_group_indices|aux_fi_impl|sigmoid|"
                          r"_scatter_gather_elementwise_kernel|DistributionNormal"),
    ("attention_bwd",     r"FlashAttnBwd|flash_bwd"),  # FA3 backward main + preprocess + dQ postprocess
    ("attention_fwd",     r"compute_attn|Flash_fwd|flash_fwd|FlashAttnFwd"),
    ("activation",        r"swiglu|silu|gelu"),  # incl. swiglu fused with FP8 cast
    ("cast_transpose",    r"cast_to_fp8|cast_and_transpose|cast_back|batched_transpose|utils::transpose|quantize"),
    ("gemm",              r"fp8_ptp128c|[Gg]emm"),  # dense FP8 GEMMs (MLA projections, wo, shared expert); after cast_transpose
                                                            # because dpsk::grouped_gemm::cuda::utils::transpose contains "gemm"
    ("rmsnorm",           r"layer_norm::ln_|rms_?norm|RMSNorm"),
    ("rotary",            r"rotary|rope"),
    ("permute_unpermute", r"expand_to_fused|reduce_fused_impl|get_fused_mapping|clean_and_count_expert|"
                          r"permute|moe_align|index_select"),
    ("optimizer",         r"[Aa]dam|multi_tensor_apply|sgd_"),
    ("elementwise_other", r"at::native::|elementwise|Memcpy|Memset|_copy_tensor_kernel|reduce_kernel"),
]
CLASSES = ["gemm", "grouped_gemm", "wgrad_gemm", "attention_fwd", "attention_bwd", "rmsnorm",
           "rotary", "activation", "router", "permute_unpermute", "cast_transpose",
           "elementwise_other", "all_to_all", "other_comm", "optimizer", "other"]
COMM_CLASSES = {"all_to_all", "other_comm"}
GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}
_COMPILED = [(c, re.compile(p)) for c, p in RULES]


def classify(name):
    for cls, rx in _COMPILED:
        if rx.search(name):
            return cls
    return "other"


def union(intervals):
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([s, e])
    return out


def length(u):
    return sum(e - s for s, e in u)


def intersect(a, b):
    i = j = 0
    out = []
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if s < e:
            out.append([s, e])
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def r3(x):
    return round(x, 3)


def main(path):
    with open(path) as f:
        d = json.load(f)
    ev = d["traceEvents"] if isinstance(d, dict) else d

    cats = defaultdict(int)
    for e in ev:
        cats["%s/%s" % (e.get("ph"), e.get("cat"))] += 1

    gpu = [e for e in ev if e.get("cat") in GPU_CATS and e.get("ph") == "X"]
    runtime = {}
    for e in ev:
        if e.get("cat") in ("cuda_runtime", "cuda_driver") and "correlation" in e.get("args", {}):
            runtime[e["args"]["correlation"]] = e
    ann = [e for e in ev if e.get("cat") == "user_annotation"
           and re.search(r"\((F|B|W)\)$", e.get("name", ""))]
    ann.sort(key=lambda a: a["ts"])

    def phase_of(e):
        r = runtime.get(e.get("args", {}).get("correlation"))
        if r is None:
            return None, None
        for a in ann:
            if a["ts"] <= r["ts"] <= a["ts"] + a["dur"]:
                return a["name"][-2], a["name"]
        return None, None

    t0 = min(e["ts"] for e in gpu)
    t1 = max(e["ts"] + e["dur"] for e in gpu)

    recs = []
    for e in gpu:
        ph, stage = phase_of(e)
        recs.append({"name": e["name"], "cat": e["cat"], "stream": e["tid"], "ts": e["ts"],
                     "dur": e["dur"], "cls": classify(e["name"]), "phase": ph, "stage": stage,
                     "grid": e.get("args", {}).get("grid")})

    # ---- streams
    by_stream = defaultdict(list)
    for r in recs:
        by_stream[r["stream"]].append(r)
    kernel_counts = {s: sum(1 for r in rs if r["cat"] == "kernel") for s, rs in by_stream.items()}
    compute_stream = max(kernel_counts, key=kernel_counts.get)
    unions = {s: union([(r["ts"], r["ts"] + r["dur"]) for r in rs]) for s, rs in by_stream.items()}
    roles = {}
    for s, rs in by_stream.items():
        comm = sum(r["dur"] for r in rs if r["cls"] in COMM_CLASSES)
        tot = sum(r["dur"] for r in rs)
        if s == compute_stream:
            roles[s] = "compute"
        elif tot and comm / tot > 0.5:
            roles[s] = "comm"
        else:
            roles[s] = "compute2"
    streams = []
    for s in sorted(by_stream, key=lambda x: (str(type(x)), x)):
        rs = by_stream[s]
        cls_ms = defaultdict(float)
        for r in rs:
            cls_ms[r["cls"]] += r["dur"] / 1000.0
        streams.append(OrderedDict([
            ("stream", s), ("role", roles[s]),
            ("kernels", kernel_counts[s]),
            ("memcpy_memset", sum(1 for r in rs if r["cat"] != "kernel")),
            ("sum_dur_ms", r3(sum(r["dur"] for r in rs) / 1000.0)),
            ("busy_ms", r3(length(unions[s]) / 1000.0)),
            ("first_start_ms", r3((min(r["ts"] for r in rs) - t0) / 1000.0)),
            ("last_end_ms", r3((max(r["ts"] + r["dur"] for r in rs) - t0) / 1000.0)),
            ("classes_ms", OrderedDict((c, r3(v)) for c, v in sorted(cls_ms.items(), key=lambda kv: -kv[1]))),
        ]))

    comp_streams = [s for s in by_stream if roles[s] in ("compute", "compute2")]
    comm_streams = [s for s in by_stream if roles[s] == "comm"]
    u_comp_main = unions[compute_stream]
    u_comp_all = union([iv for s in comp_streams for iv in unions[s]])
    u_comm = union([iv for s in comm_streams for iv in unions[s]])
    busy_main = length(u_comp_main)
    # comm-class busy only (excludes e.g. the FP8 cast kernels that run on the comm stream)
    u_comm_only = union([(r["ts"], r["ts"] + r["dur"]) for r in recs if r["cls"] in COMM_CLASSES])

    # ---- classes
    classes = OrderedDict()
    for c in CLASSES:
        rs = [r for r in recs if r["cls"] == c]
        ms = sum(r["dur"] for r in rs) / 1000.0
        ms_main = sum(r["dur"] for r in rs if r["stream"] == compute_stream) / 1000.0
        fwd = sum(r["dur"] for r in rs if r["phase"] == "F") / 1000.0
        bwd = sum(r["dur"] for r in rs if r["phase"] in ("B", "W")) / 1000.0
        bw_w = sum(r["dur"] for r in rs if r["phase"] == "W") / 1000.0
        unk = sum(r["dur"] for r in rs if r["phase"] is None) / 1000.0
        per_stream = defaultdict(float)
        for r in rs:
            per_stream[str(r["stream"])] += r["dur"] / 1000.0
        entry = OrderedDict([
            ("kernels", sum(1 for r in rs if r["cat"] == "kernel")),
            ("memcpy_memset", sum(1 for r in rs if r["cat"] != "kernel")),
            ("ms", r3(ms)),
            ("forward_ms", r3(fwd)),
            ("backward_ms", r3(bwd)),
            ("backward_weight_phase_ms", r3(bw_w)),
            ("no_phase_ms", r3(unk)),
            ("ms_by_stream", OrderedDict((k, r3(v)) for k, v in sorted(per_stream.items()))),
            ("share_of_compute_stream_busy", r3(ms_main * 1000.0 / busy_main) if busy_main else None),
        ])
        classes[c] = entry

    unknown = defaultdict(lambda: [0, 0.0])
    for r in recs:
        if r["cls"] == "other":
            unknown[r["name"]][0] += 1
            unknown[r["name"]][1] += r["dur"] / 1000.0
    unknown_list = [OrderedDict([("name", n), ("count", v[0]), ("ms", r3(v[1]))])
                    for n, v in sorted(unknown.items(), key=lambda kv: -kv[1][1])]

    # ---- diagnostics
    # (a) elementwise_other kernels that sit in the router's runs of small kernels: maximal runs on
    # the compute stream made only of router / elementwise_other events, containing a router event.
    main_seq = sorted(by_stream[compute_stream], key=lambda r: r["ts"])
    router_ctx = 0.0
    router_ctx_n = 0
    run = []

    def flush(run):
        nonlocal router_ctx, router_ctx_n
        if any(x["cls"] == "router" for x in run):
            for x in run:
                if x["cls"] == "elementwise_other":
                    router_ctx += x["dur"] / 1000.0
                    router_ctx_n += 1

    for r in main_seq:
        if r["cls"] in ("router", "elementwise_other"):
            run.append(r)
        else:
            flush(run)
            run = []
    flush(run)

    # (b) per-name table (all events), for auditing the rules
    per_name = defaultdict(lambda: [0, 0.0, None, set()])
    for r in recs:
        p = per_name[r["name"]]
        p[0] += 1
        p[1] += r["dur"] / 1000.0
        p[2] = r["cls"]
        p[3].add(str(r["stream"]))
    names = [OrderedDict([("class", v[2]), ("count", v[0]), ("ms", r3(v[1])),
                          ("streams", sorted(v[3])), ("name", n[:160])])
             for n, v in sorted(per_name.items(), key=lambda kv: (kv[1][2], -kv[1][1]))]

    # (c) grid sizes (CTAs) of the GEMM and DeepEP kernels (persistent kernels: CTAs == SMs used)
    grids = defaultdict(set)
    for r in recs:
        if r["cls"] in ("gemm", "grouped_gemm", "wgrad_gemm", "all_to_all", "attention_fwd",
                        "attention_bwd") and r["grid"]:
            g = r["grid"]
            grids[r["cls"]].add(g[0] * g[1] * g[2])

    # (d) per DualPipe stage (CPU annotation) GPU time
    stage_ms = defaultdict(float)
    for r in recs:
        stage_ms["%s@stream%s" % (r["stage"], r["stream"])] += r["dur"] / 1000.0

    # (e) the grouping used by calibration/README.md, reproduced on the compute stream:
    # any name with cast|transpose = "FP8 cast/transpose"; every GEMM kernel (incl. the BF16 gate
    # GEMMs) by kernel family; flash* = attention; the remainder = "elementwise".
    readme = defaultdict(float)
    for r in by_stream[compute_stream]:
        n = r["name"]
        if re.search(r"cast|transpose", n):
            g = "fp8_cast_transpose(name has cast|transpose)"
        elif "m_grouped_fp8" in n:
            g = "moe_grouped_fp8_gemm"
        elif "fp8_dptp128c_acc" in n:
            g = "wgrad_fp8_gemm"
        elif "fp8_ptp128c" in n:
            g = "other_fp8_gemm"
        elif re.search(r"[Gg]emm", n) and "fill_tensormaps" not in n:
            g = "bf16_gemm(gate)"
        elif "flash" in n:
            g = "attention(flash*)"
        else:
            g = "remainder(elementwise)"
        readme[g] += r["dur"] / 1000.0

    dev = (d.get("deviceProperties") or [{}])[0] if isinstance(d, dict) else {}
    out = OrderedDict([
        ("source", "deepseek-ai/profile-data at 4496024 (file train.json, blob 7a8f40f9): PyTorch "
                   "profiler (Kineto) Chrome trace of DeepSeek-V3 pre-training on H800, EP64 TP1, 4K "
                   "sequence, one forward and one backward chunk of 4 MoE layers each (DualPipe pair), "
                   "perfectly balanced routing, PP communication not included; the file holds the GPU "
                   "events of one rank (distributedInfo rank 0 of world_size 64). Figures derived by "
                   "classifying every GPU kernel (plus memcpy/memset) of the trace by name with the rules "
                   "below; forward/backward from the DualPipe CPU annotations (F)/(B)/(W)."),
        ("trace_name", d.get("traceName") if isinstance(d, dict) else None),
        ("distributed_info", d.get("distributedInfo") if isinstance(d, dict) else None),
        ("device", OrderedDict([("name", dev.get("name")), ("numSms", dev.get("numSms"))])),
        ("event_categories", OrderedDict(sorted(cats.items(), key=lambda kv: -kv[1]))),
        ("rules", [OrderedDict([("class", c), ("pattern", p)]) for c, p in RULES]
                  + [OrderedDict([("class", "other"), ("pattern", "(no rule matched)")])]),
        ("rule_matching", "Python re.search on the full kernel name, first matching rule wins, in this order"),
        ("span_ms", r3((t1 - t0) / 1000.0)),
        ("gpu_events", OrderedDict([("kernels", sum(1 for r in recs if r["cat"] == "kernel")),
                                    ("memcpy_memset", sum(1 for r in recs if r["cat"] != "kernel"))])),
        ("compute_stream", compute_stream),
        ("compute_stream_busy_ms", r3(busy_main / 1000.0)),
        ("compute_streams_union_busy_ms", r3(length(u_comp_all) / 1000.0)),
        ("comm_stream_busy_ms", r3(length(u_comm) / 1000.0)),
        ("comm_kernels_only_busy_ms", r3(length(u_comm_only) / 1000.0)),
        ("overlap_compute_stream_and_comm_stream_ms", r3(length(intersect(u_comp_main, u_comm)) / 1000.0)),
        ("overlap_any_compute_and_comm_stream_ms", r3(length(intersect(u_comp_all, u_comm)) / 1000.0)),
        ("comm_stream_not_overlapped_by_compute_ms", r3((length(u_comm) - length(intersect(u_comp_all, u_comm))) / 1000.0)),
        ("compute_stream_idle_in_span_ms", r3(((t1 - t0) - busy_main) / 1000.0)),
        ("gpu_idle_in_span_ms", r3(((t1 - t0) - length(union(u_comp_all + u_comm))) / 1000.0)),
        ("streams", streams),
        ("classes", classes),
        ("unknown", unknown_list),
        ("diagnostics", OrderedDict([
            ("elementwise_other_in_router_runs", OrderedDict([
                ("events", router_ctx_n), ("ms", r3(router_ctx)),
                ("how", "elementwise_other events on the compute stream inside maximal runs of "
                        "router/elementwise_other events that contain a router event")])),
            ("readme_style_groups_compute_stream_ms", OrderedDict((k, r3(v)) for k, v in sorted(readme.items(), key=lambda kv: -kv[1]))),
            ("ctas_per_launch", OrderedDict((c, sorted(v)) for c, v in sorted(grids.items()))),
            ("gpu_ms_by_cpu_stage_and_stream", OrderedDict((k, r3(v)) for k, v in sorted(stage_ms.items()))),
            ("per_name", names),
        ])),
    ])
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 classify_trace.py TRACE.json > summary.json")
    main(sys.argv[1])
