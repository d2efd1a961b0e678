#!/usr/bin/env bash
# Builds the release preset and prints each benchmark figure: P1, P2 and U64 as medians of 5
# repetitions (Google Benchmark); the wall time and peak memory of flow runs on 1,024 and 4,096
# GPUs (DeepSeek-V3 decode), as run and through SimGrid; the DeepSeek-V3 plan with 64-sample
# intervals; and P3 (docs/performance.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
make build >/dev/null
./build/release/bench/moesim_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_filter="${1:-.}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ep1024.json" <<JSON
{
  "name": "DeepSeek-V3 decode, EP1024 on 128x8 H800",
  "model": {"preset": "deepseek-v3", "weights_dtype": "fp8"},
  "cluster": {"nodes": 128, "node": {"device": "h800-sxm", "devices_per_node": 8, "scale_up": "nvlink-h800"},
              "scale_out": {"link": "ib-ndr400", "nics_per_node": 8, "topology": "fat-tree"}},
  "parallelism": {"attention": {"tp": 1, "dp": 1024}, "experts": {"ep": 1024, "tp": 1},
                  "redundant_experts": 0},
  "communication": {"all_to_all": "deepep-low-latency"},
  "workload": {"kind": "decode", "batch_per_device": 64, "context_tokens": 4096},
  "fidelity": "flow"
}
JSON
# 256 experts cannot fill 1,024 GPUs one per GPU: use EP 256 x 4 pipeline stages instead.
sed -i 's/"dp": 1024}, "experts": {"ep": 1024, "tp": 1},/"dp": 256}, "experts": {"ep": 256, "tp": 1}, "pp": 4,/' "$tmp/ep1024.json"
command -v /usr/bin/time >/dev/null || { echo "bench/run.sh needs GNU time (apt-get install time)" >&2; exit 1; }
# A flow run as `moesim run` gives it (the closed form stands in for SimGrid where nothing is
# shared) and with --always-simulate (SimGrid): wall time, peak memory, step time, events.
flow_run() {  # scenario
  for mode in "" --always-simulate; do
    /usr/bin/time -f "%e %M" -o "$tmp/time.txt" ./build/release/cli/moesim run "$1" --json $mode > "$tmp/report.json" || true
    python3 - "$tmp/report.json" "$tmp/time.txt" "${mode:-as run}" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
wall, rss = open(sys.argv[2]).read().split()[-2:]
ev = r["simulator"].get("evaluator", "")
print("  %-18s wall %s s, peak resident memory %.2f GiB (the largest of moesim and its SimGrid child); step %.6g s, %d events, %s"
      % (sys.argv[3], wall, int(rss) / 2**20, r["step_time_s"], r["simulator"]["events"], "SimGrid" if ev == "SimGrid" else "closed form stood in"))
PY
  done
}
echo
echo "1,024-GPU platform (128 x 8 H800, DeepSeek-V3 decode, EP256 x PP4, flow):"
flow_run "$tmp/ep1024.json"
echo
echo "4,096-GPU platform (512 x 8 H800, DeepSeek-V3 decode, EP256 x PP16, flow; SimGrid takes about a minute and 3.5 GiB):"
flow_run bench/scenarios/scale-deepseek-v3-decode-4096.json

# The DeepSeek-V3 plan (15,680 candidates) with 64-sample intervals on 2 threads (target <= 5 min).
echo
echo "moesim plan examples/plan-deepseek-v3.json --uncertainty 64 -j 2:"
/usr/bin/time -f "%e" -o "$tmp/plan-time.txt" ./build/release/cli/moesim plan examples/plan-deepseek-v3.json -o "$tmp/plan" \
  --uncertainty 64 -j 2 > "$tmp/plan.txt"
grep -E "^searched|^intervals:|the intervals" "$tmp/plan.txt" | sed 's/^/  /'
printf "  wall %s s\n" "$(cat "$tmp/plan-time.txt")"

# P3: 1,024 GPUs, prefill/decode-disaggregated serving of 2,048 requests (target <= 60 s wall).
echo
echo "P3: DeepSeek-V3 PD-disaggregated serving, 128 x 8 H800 (64 prefill + 64 decode nodes), 2,048 requests:"
for i in 1 2 3 4 5; do
  /usr/bin/time -f "%e" -o "$tmp/p3-$i.txt" ./build/release/cli/moesim run bench/scenarios/p3-deepseek-v3-disaggregated-1024.json \
    --json > "$tmp/p3.json"
done
sort -n "$tmp"/p3-*.txt | sed -n 3p | xargs printf "  wall %s s (median of 5)\n"
