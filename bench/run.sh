#!/usr/bin/env bash
# Builds the release preset and prints each benchmark figure (median of 5 repetitions).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
make build >/dev/null
./build/release/bench/moesim_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_filter="${1:-.}"
