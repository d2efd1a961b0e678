#!/usr/bin/env bash
# Checks that two moesim binaries predict the same: every shipped scenario at analytic fidelity
# and at its own, the uncertainty run of the EP144 scenario, and the DeepSeek-V3 plan, compared
# as JSON with the wall-clock figures removed. A speed change that claims "results identical bit
# for bit" runs this with the binary before it and the one after (docs/performance.md).
#   bench/same-results.sh BEFORE_MOESIM AFTER_MOESIM [SCENARIO...]   (SKIP_PLAN=1: no plan)
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BEFORE_MOESIM AFTER_MOESIM [SCENARIO...]" >&2; exit 2; }
before=$1 after=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=("$root"/scenarios/*.json)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The figures that are measurements of this run, not predictions (and how it was evaluated).
strip='walk(if type == "object" then del(.wall_s, .evaluation_s, .simulator) else . end)'
command -v jq >/dev/null || { echo "$0 needs jq" >&2; exit 2; }
differ=0 same=0
check() {  # label, args...
  local label=$1
  shift
  "$before" "$@" > "$tmp/a.json" 2>/dev/null
  local ra=$?
  "$after" "$@" > "$tmp/b.json" 2>/dev/null
  local rb=$?
  if [ $ra -ne $rb ] || ! jq -S "$strip" "$tmp/a.json" > "$tmp/a.s" 2>/dev/null ||
     ! jq -S "$strip" "$tmp/b.json" > "$tmp/b.s" 2>/dev/null || [ ! -s "$tmp/a.s" ] || ! cmp -s "$tmp/a.s" "$tmp/b.s"; then
    echo "DIFFERENT: $label (exit $ra vs $rb)"
    diff "$tmp/a.s" "$tmp/b.s" 2>/dev/null | head -10
    differ=$((differ + 1))
  else
    same=$((same + 1))
  fi
}
for s in "${scenarios[@]}"; do
  name=$(basename "$s" .json)
  check "$name (analytic)" run "$s" --fidelity analytic --json
  check "$name (own fidelity)" run "$s" --json
done
check "deepseek-v3-decode-ep144 --uncertainty 16" run "$root/scenarios/deepseek-v3-decode-ep144.json" --fidelity analytic \
  --uncertainty 16 --jobs 2 --json
# The plan: every candidate's figures (candidates.csv) and plan.json without its timings.
if [ "${SKIP_PLAN:-0}" != 1 ]; then
  "$before" plan "$root/examples/plan-deepseek-v3.json" --no-confirm -o "$tmp/plan-a" > /dev/null 2>&1
  "$after" plan "$root/examples/plan-deepseek-v3.json" --no-confirm -o "$tmp/plan-b" > /dev/null 2>&1
  if cmp -s "$tmp/plan-a/candidates.csv" "$tmp/plan-b/candidates.csv" &&
     cmp -s <(jq -S "$strip | del(.front[].scenario_file)" "$tmp/plan-a/plan.json") \
            <(jq -S "$strip | del(.front[].scenario_file)" "$tmp/plan-b/plan.json"); then
    same=$((same + 1))
  else
    echo "DIFFERENT: plan-deepseek-v3 (candidates.csv or plan.json)"
    differ=$((differ + 1))
  fi
fi
echo "$same the same, $differ different"
[ $differ -eq 0 ]
