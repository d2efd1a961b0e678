#!/usr/bin/env bash
# P4: a 1,000-point sweep (the default scenario at flow fidelity: a SimGrid run per point; set
# FIDELITY=analytic for ~7 ms points, where the coordinator, not the workers, sets the pace) on --jobs 1 and --jobs 2,
# then the same sweep with one worker killed mid-run (kill -9), to show the sweep carries on and
# --resume completes it. Prints wall times and the speed-up; reports the machine's load.
# BASE picks the base scenario: with BASE=scenarios/deepseek-v3-decode-ep144.json FIDELITY=analytic
# each point is a ~3.7 ms DeepSeek-V3 EP144 evaluation in the worker itself (no fork per point), the
# planner's kind of sweep; flow points fork a SimGrid child each, whose page faults dominate on a VM.
# Usage: [REPEAT=3] [FIDELITY=analytic] [BASE=scenario.json] bench/sweep_speedup.sh [path/to/moesim]
set -euo pipefail
MOESIM=${1:-build/release/cli/moesim}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/spec.json" <<JSON
{"base": "$(pwd)/${BASE:-scenarios/default.json}",
 "fidelity": "${FIDELITY:-flow}",
 "axes": [{"pointer": "/workload/batch_per_device", "range": {"from": 8, "to": 80, "step": 8}},
          {"pointer": "/workload/context_tokens", "range": {"from": 512, "to": 5120, "step": 512}},
          {"pointer": "/routing/seed", "range": {"from": 1, "to": 10, "step": 1}}]}
JSON
echo "base: ${BASE:-scenarios/default.json}, fidelity ${FIDELITY:-flow}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# REPEAT runs of each (alternating, so a change in the machine's load hits both); medians.
REPEAT=${REPEAT:-3}
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
declare -A walls
for rep in $(seq "$REPEAT"); do
  for jobs in 1 2; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    rm -rf "$work/j$jobs"
    start=$(date +%s.%N)
    "$MOESIM" sweep "$work/spec.json" --jobs "$jobs" -o "$work/j$jobs" > /dev/null
    t=$(echo "$(date +%s.%N) - $start" | bc -l)
    walls[$jobs]+="$t "
    printf 'run %d, jobs %d: %.2f s, %d rows (1-min load average before: %s)\n' "$rep" "$jobs" "$t" \
      "$(wc -l < "$work/j$jobs/results.jsonl")" "$load"
  done
done
declare -A wall
for jobs in 1 2; do
  wall[$jobs]=$(echo "${walls[$jobs]}" | tr ' ' '\n' | grep . | median)
  printf 'jobs %d: median %.2f s of %d runs\n' "$jobs" "${wall[$jobs]}" "$REPEAT"
done
printf 'speed-up 2 jobs vs 1 (medians): %.2fx\n' "$(echo "${wall[1]} / ${wall[2]}" | bc -l)"
# Identical rows whatever the number of jobs.
if diff <(tail -n +2 "$work/j1/results.csv" | sort -n) <(tail -n +2 "$work/j2/results.csv" | sort -n) > /dev/null; then
  echo "rows: --jobs 1 and --jobs 2 agree"
else
  echo "rows: --jobs 1 and --jobs 2 DIFFER"
fi

echo "--- killed worker"
"$MOESIM" sweep "$work/spec.json" --jobs 2 -o "$work/kill" &
sweep=$!
sleep 0.3
# Points are short: try workers until one is caught alive.
for _ in $(seq 100); do
  victim=$(pgrep -P "$sweep" | head -1 || true)  # none alive at this instant: try again
  if [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null; then
    echo "killed worker $victim with SIGKILL"
    break
  fi
done
set +e
wait "$sweep"
echo "sweep exit code: $? (2: finished with failed points)"
set -e
grep -c '"status":"failed"' "$work/kill/results.jsonl" | sed 's/^/failed rows: /'
grep '"status":"failed"' "$work/kill/results.jsonl" | head -1 | grep -o '"error":"[^"]*"'
"$MOESIM" sweep "$work/spec.json" --jobs 2 --resume -o "$work/kill"
if diff <(tail -n +2 "$work/j1/results.csv" | sort -n) <(tail -n +2 "$work/kill/results.csv" | sort -n) > /dev/null; then
  echo "after --resume: rows agree with the uninterrupted run"
else
  echo "after --resume: rows DIFFER from the uninterrupted run"
fi
