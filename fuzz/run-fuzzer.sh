#!/usr/bin/env bash
# Runs one libFuzzer harness: run-fuzzer.sh FUZZER SECONDS WORKDIR SEED_FOLDERS...
# New inputs go to WORKDIR/corpus (the seeds are only read); a crash leaves its input in
# WORKDIR/crash-* and fails. The executions are in the last lines ("stat::number_of_executed_units").
# A run that stops early for any other reason (out of memory, a timeout) fails too.
set -euo pipefail
fuzzer=$1 seconds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
exec "$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -max_len=262144 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$@"
