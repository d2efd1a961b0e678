#!/usr/bin/env bash
# Runs every libFuzzer harness of fuzz/ long: RUNS executions each (default one million), or at
# most MAX_SECONDS each when set, JOBS at a time, and prints a Markdown table of executions, seconds, crashes and coverage per
# harness (docs/fuzzing.md keeps the last one). Needs the fuzz preset built:
#   make test-fuzz FUZZ_SECONDS=1   (or: cmake --preset fuzz && cmake --build build/fuzz --target fuzzers)
# Crash inputs land in build/fuzz/long/NAME/; each becomes a file of fuzz/regressions/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-1000000}
max_seconds=${MAX_SECONDS:-0}
jobs=${JOBS:-$(nproc)}
bin=build/fuzz/fuzz
[ -x "$bin/fuzz_scenario" ] || { echo "build the fuzz preset first (make test-fuzz)" >&2; exit 2; }

# The seed folders of each harness, as fuzz/CMakeLists.txt gives them to ctest.
seeds_of() {
  ctest --test-dir build/fuzz -R "^Fuzz\.$1\$" --show-only=json-v1 |
    python3 -c 'import json,sys; t=json.load(sys.stdin)["tests"][0]["command"]; print(" ".join(t[4:]))'
}

run_one() {
  local name=$1 work=build/fuzz/long/$1
  mkdir -p "$work/corpus"
  local start=$SECONDS
  # shellcheck disable=SC2046
  "$bin/fuzz_$name" -runs="$runs" -max_total_time="$max_seconds" -timeout=30 -rss_limit_mb=3072 -max_len=262144 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" $(seeds_of "$name") > "$work/log.txt" 2>&1 || true
  local execs cov crashes
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/log.txt" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$work/log.txt" | tail -1 | grep -o '[0-9]*$' || echo 0)
  crashes=$(find "$work" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
  echo "| $name | $execs | $((SECONDS - start)) | $crashes | $cov |" > "$work/row.md"
}
export -f run_one seeds_of
export runs max_seconds bin

names=$(ls "$bin" | sed -n 's/^fuzz_\(.*\)$/\1/p')
printf '%s\n' $names | xargs -P "$jobs" -I{} bash -c 'run_one {}'
echo "| harness | executions | seconds | crashes | edges covered |"
echo "|---|---|---|---|---|"
for n in $names; do cat "build/fuzz/long/$n/row.md"; done
