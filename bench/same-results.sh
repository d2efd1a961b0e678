#!/usr/bin/env bash
# Checks that two moesim binaries predict the same: every shipped scenario at analytic fidelity
# and at its own, the uncertainty run of the EP144 scenario, and the DeepSeek-V3 plan, compared
# as JSON with the wall-clock figures removed. A speed change that claims "results identical bit
# for bit" runs this with the binary before it and the one after (docs/performance.md).
# A change that regroups floating-point sums states its tolerance instead: TOLERANCE=1e-12 lets
# each number differ by that much relative to the larger of the two (strings and keys exactly).
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
tolerance=${TOLERANCE:-0}
# Equal as JSON, every number within `tolerance` relative; prints the first few that are not.
same_json() {  # a.json b.json
  python3 - "$1" "$2" "$tolerance" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
tol, out = float(sys.argv[3]), []
def walk(x, y, where):
    if isinstance(x, bool) or isinstance(y, bool) or not (isinstance(x, (int, float)) and isinstance(y, (int, float))):
        if type(x) != type(y):
            out.append(f"{where}: {x!r} vs {y!r}")
        elif isinstance(x, dict):
            if x.keys() != y.keys():
                out.append(f"{where}: keys differ")
            for k in x.keys() & y.keys():
                walk(x[k], y[k], f"{where}/{k}")
        elif isinstance(x, list):
            if len(x) != len(y):
                out.append(f"{where}: {len(x)} vs {len(y)} items")
            for i, (u, v) in enumerate(zip(x, y)):
                walk(u, v, f"{where}/{i}")
        elif x != y:
            out.append(f"{where}: {x!r} vs {y!r}")
    elif abs(x - y) > tol * max(abs(x), abs(y)):
        out.append(f"{where}: {x!r} vs {y!r}")
walk(a, b, "")
for line in out[:10]:
    print(line)
sys.exit(1 if out else 0)
PY
}
check() {  # label, args...
  local label=$1
  shift
  "$before" "$@" > "$tmp/a.json" 2>/dev/null
  local ra=$?
  "$after" "$@" > "$tmp/b.json" 2>/dev/null
  local rb=$?
  if [ $ra -ne $rb ] || ! jq -S "$strip" "$tmp/a.json" > "$tmp/a.s" 2>/dev/null ||
     ! jq -S "$strip" "$tmp/b.json" > "$tmp/b.s" 2>/dev/null || [ ! -s "$tmp/a.s" ] || ! same_json "$tmp/a.s" "$tmp/b.s" > "$tmp/why.txt"; then
    echo "DIFFERENT: $label (exit $ra vs $rb)"
    head -10 "$tmp/why.txt"
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
  csv_json() {  # candidates.csv as a JSON list of rows, numbers parsed
    python3 -c 'import csv, json, sys
def num(c):
    try:
        return float(c)
    except ValueError:
        return c
json.dump([[num(c) for c in row] for row in csv.reader(open(sys.argv[1]))], sys.stdout)' "$1"
  }
  csv_json "$tmp/plan-a/candidates.csv" > "$tmp/ca.json"
  csv_json "$tmp/plan-b/candidates.csv" > "$tmp/cb.json"
  jq -S "$strip | del(.front[].scenario_file)" "$tmp/plan-a/plan.json" > "$tmp/pa.json"
  jq -S "$strip | del(.front[].scenario_file)" "$tmp/plan-b/plan.json" > "$tmp/pb.json"
  if same_json "$tmp/ca.json" "$tmp/cb.json" && same_json "$tmp/pa.json" "$tmp/pb.json"; then
    same=$((same + 1))
  else
    echo "DIFFERENT: plan-deepseek-v3 (candidates.csv or plan.json)"
    differ=$((differ + 1))
  fi
fi
echo "$same the same, $differ different"
[ $differ -eq 0 ]
