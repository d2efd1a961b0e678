#!/usr/bin/env bash
# Regenerates the screenshots in docs/img/ with moesim-gui's own automation (--run ...
# --screenshot) on Qt's offscreen platform. Every number in them comes from real runs of the
# moesim binary of this build. Usage: scripts/gui_screenshots.sh [BUILD_DIR]  (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
gui="$build/gui/app/moesim-gui"
moesim="$build/cli/moesim"
[ -x "$gui" ] && [ -x "$moesim" ] || { echo "build moesim and moesim-gui first (make build)" >&2; exit 1; }
export QT_QPA_PLATFORM=offscreen
work="$build/gui-screenshots"
rm -rf "$work" && mkdir -p "$work/sweep" docs/img
export MOESIM_GUI_AUTOSAVE="$work/autosave.json"  # never touch the user's own autosave
shot() { "$gui" --moesim "$moesim" --size 1400x900 "$@" 2> >(grep -v -e propagateSizeHints -e XDG_RUNTIME >&2); }

ep144=scenarios/deepseek-v3-decode-ep144.json
ep64=docs/examples/deepseek-v3-decode-ep64.json
shot "$ep144" --screenshot docs/img/gui-scenario.png --tab Scenario
shot "$ep144" --set /parallelism/experts/ep=100 --screenshot docs/img/gui-invalid.png --tab Scenario
shot --run "$ep144" --screenshot docs/img/gui-results.png --tab Results
shot --run "$ep144" --intervals 32 --screenshot docs/img/gui-results-intervals.png --tab Results
shot --run scenarios/qwen3-30b-a3b-agent-sessions-kv-offload-1xh100.json --screenshot docs/img/gui-serving.png --tab Serving
shot --run "$ep144" --set /workload/batch_per_device=192 --screenshot docs/img/gui-infeasible.png --tab Results
shot --run "$ep144" --screenshot docs/img/gui-timeline.png --tab Timeline
shot --run "$ep144" --timeline-ms 2.1,4.6 --screenshot docs/img/gui-timeline-zoom.png --tab Timeline
shot --run "$ep144" --screenshot docs/img/gui-topology.png --tab Topology
shot --run "$ep144" --run "$ep64" --screenshot docs/img/gui-compare.png --tab Compare
shot "$ep144" --power-caps 500W,600W,700W --screenshot docs/img/gui-power-caps.png --tab "Power caps"
shot --plan --screenshot docs/img/gui-plan.png --tab Plan

# A small sweep of the EP144 deployment (batch x overlap x all-to-all), one moesim run each, as
# JSON lines in the shape moesim sweep writes: axes by JSON pointer, the report's keys, status,
# error, scenario_file.
sweep="$work/sweep/sweep.jsonl"
for batch in 32 64 96 128 160; do
  for overlap in none two-microbatch; do
    for a2a in deepep-low-latency deepep-normal; do
      f="$work/sweep/b$batch-$overlap-$a2a.json"
      sed -e "s/\"batch_per_device\": [0-9]*/\"batch_per_device\": $batch/" \
          -e "s/\"overlap\": \"[a-z-]*\"/\"overlap\": \"$overlap\"/" \
          -e "s/\"all_to_all\": \"[a-z-]*\"/\"all_to_all\": \"$a2a\"/" "$ep144" > "$f"
      rc=0
      report=$("$moesim" run "$f" --json 2>/dev/null | tr -d '\n') || rc=$?
      [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "$f: moesim failed ($rc)" >&2; exit 1; }
      # The report is one JSON object: prepend the axis and status keys inside its braces.
      printf '{"/workload/batch_per_device": %s, "/overlap": "%s", "/communication/all_to_all": "%s", "status": "ok", "error": "", "scenario_file": "%s", %s\n' \
        "$batch" "$overlap" "$a2a" "$(basename "$f")" "${report#\{}" >> "$sweep"
    done
  done
done
shot --sweep "$sweep" --sweep-axes latency.tpot_s.p50,throughput.output_tokens_per_s_per_device \
     --screenshot docs/img/gui-sweep.png --tab Sweep
echo "wrote docs/img/gui-*.png"
