#!/bin/bash
# examples/experiment/slurm-sweep.sh -- one shard of a `spheregrad sweep` per task of a Slurm job array.
#
# Submit from the repository root (after `make build/spheregrad`), one task per shard:
#   mkdir -p out && sbatch --array=1-8 examples/experiment/slurm-sweep.sh
# and, when every task has finished, join the shards' tables:
#   build/spheregrad sweep merge out/sweep/summary.csv out/sweep/summary-shard-*-of-8.csv
# The merged table is byte for byte the one a single `spheregrad sweep` would write.
# The sweep itself comes from the environment (sbatch passes it on):
#   SWEEP_ARGS  the sweep's options, split at blanks, no quoting (default: Ex 1.7 and the
#               Ex 1.6 curricula, seeds 0-99); e.g. "--presets ex-1.7 --ablations subsets"
#   SWEEP_OUT   the sweep folder, on storage every node sees (default out/sweep)
#SBATCH --job-name=spheregrad-sweep
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
#SBATCH --output=out/slurm-sweep-%A_%a.log
set -euo pipefail

: "${SWEEP_ARGS:=--presets ex-1.7,ex-1.6-smooth,ex-1.6-stepped --seeds 0-99}"
: "${SWEEP_OUT:=out/sweep}"
id=${SLURM_ARRAY_TASK_ID:?run this as a Slurm job array: sbatch --array=1-N examples/experiment/slurm-sweep.sh}
first=${SLURM_ARRAY_TASK_MIN:-1}
count=${SLURM_ARRAY_TASK_COUNT:?SLURM_ARRAY_TASK_COUNT is not set (Slurm sets it for job arrays)}
# Task ids first..first+count-1 become shards 1..count, whatever --array started at.
shard=$((id - first + 1))
# SWEEP_ARGS is split into words on purpose.
# shellcheck disable=SC2086
exec "${SPHEREGRAD:-build/spheregrad}" sweep $SWEEP_ARGS --shard "$shard/$count" --out "$SWEEP_OUT" --quiet
