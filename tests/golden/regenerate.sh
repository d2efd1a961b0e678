#!/usr/bin/env bash
# Rewrites tests/golden/expected/<name>.json from the current build for every scenario in
# scenarios/. Review the diff before committing: each changed number is a changed prediction.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MOESIM:-$root/build/release/cli/moesim}
[ -x "$bin" ] || { echo "build first (make test), or set MOESIM=/path/to/moesim" >&2; exit 1; }
mkdir -p "$root/tests/golden/expected"
for s in "$root"/scenarios/*.json; do
  name=$(basename "$s" .json)
  rc=0
  "$bin" run --json "$s" > "$root/tests/golden/expected/$name.json.tmp" || rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
    echo "scenarios/$name.json: moesim run failed (exit $rc)" >&2
    rm -f "$root/tests/golden/expected/$name.json.tmp"
    exit 1
  fi
  mv "$root/tests/golden/expected/$name.json.tmp" "$root/tests/golden/expected/$name.json"
  echo "tests/golden/expected/$name.json"
done
