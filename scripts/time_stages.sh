#!/usr/bin/env bash
# Reproduce the pipeline one stage at a time and print each stage's wall time (seconds).
# Usage: scripts/time_stages.sh [stage ...]   (default: every stage of dvc.yaml in DAG order)
set -euo pipefail
stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then
  mapfile -t stages < <(dvc repro --dry --force 2>/dev/null | sed -n "s/^Running stage '\(.*\)':$/\1/p")
fi
for s in "${stages[@]}"; do
  t0=$(date +%s.%N)
  dvc repro -s "$s" >/dev/null
  printf '%-32s %8.1f s\n' "$s" "$(echo "$(date +%s.%N) - $t0" | bc)"
done
