#!/bin/bash
# SIGKILL `spheregrad train` at random moments, then finish each killed run
# the way a user would -- `--resume` when it left a checkpoint, the same command again when it
# did not -- and check that every one ends byte-identical to an uninterrupted run.
#   tests/kill_campaign.sh [KILLS [MAX_DELAY_MS]]     (defaults 100 and 1500; build/spheregrad)
# make test runs 12 kills within 800 ms; the campaign of record is 100 kills, by hand.
set -u
SG=${SPHEREGRAD_CLI:-build/spheregrad}
KILLS=${1:-100}
MAX_MS=${2:-1500}
ARGS="--steps 20000 --checkpoint-every 500 --quiet"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
$SG train $ARGS --out "$DIR/ref" > /dev/null || exit 1
finished=0 resumed=0 rerun=0 same=0 differ=0 failed=0
for i in $(seq 1 "$KILLS"); do
  rm -rf "$DIR/k"
  $SG train $ARGS --out "$DIR/k" & pid=$!
  sleep "$(printf '%d.%03d' $((RANDOM % MAX_MS / 1000)) $((RANDOM % MAX_MS % 1000)))"
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  if [ -f "$DIR/k/summary.json" ]; then finished=$((finished + 1))
  elif [ -f "$DIR/k/resume.safetensors" ]; then
    resumed=$((resumed + 1)); $SG train --resume "$DIR/k" --quiet || failed=$((failed + 1))
  else
    rerun=$((rerun + 1)); $SG train $ARGS --out "$DIR/k" || failed=$((failed + 1))
  fi
  ok=1
  for f in metrics.csv checkpoint.safetensors latents.npy latent_steps.npy experiment.json; do
    cmp -s "$DIR/ref/$f" "$DIR/k/$f" || ok=0
  done
  [ -e "$DIR/k/resume.safetensors" ] || [ -e "$DIR/k/metrics.csv.tmp" ] && ok=0  # a finished folder is clean
  if [ $ok = 1 ]; then same=$((same + 1)); else differ=$((differ + 1)); echo "kill $i: the folder differs"; fi
done
echo "$KILLS kills: finished before the kill $finished, resumed $resumed, run again $rerun;" \
     "identical to the uninterrupted run $same, different $differ, failed commands $failed"
[ $differ = 0 ] && [ $failed = 0 ]
