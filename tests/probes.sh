#!/bin/bash
# The adversarial probes of the run folder, the checkpoint and the inputs, each run through the
# command line and classified: a clean error (exit 1 or 2, a message of at most 2 KB), accepted
# as it should be, or a defect -- a crash (a signal), a hang (60 s), a silent acceptance (exit 0
# where an error was due), an overlong message, or data lost (a protected file changed or
# gone). Prints one line per probe and the totals as a Markdown table; exits 1 on any defect.
#   tests/probes.sh          (build/spheregrad, or SPHEREGRAD_CLI; about a minute)
# The probes that need a re-sealed tampered checkpoint are doctest cases (tests/test_train.cpp,
# "a checkpoint is verified"); the kills are tests/kill_campaign.sh.
set -u
SG=${SPHEREGRAD_CLI:-build/spheregrad}
[ -x "$SG" ] || { echo "no $SG: build it first (make)"; exit 1; }
SG=$(realpath "$SG")
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cd "$D"
tried=0 clean=0 accepted=0 crashes=0 hangs=0 silent=0 long=0 lost=0
fingerprint() { for f in "$@"; do [ -e "$f" ] && sha1sum "$f" || echo "missing $f"; done; }

# probe error|ok DESCRIPTION -- ARGS... ; PROTECT (a list of files) must be unchanged after it.
PROTECT=""
probe() {
  local want=$1 what=$2; shift 3
  local before after rc outcome
  before=$(fingerprint $PROTECT)
  timeout 60 ${WRAP:-} "$SG" "$@" > out.txt 2> err.txt; rc=$?
  after=$(fingerprint $PROTECT)
  tried=$((tried + 1))
  if [ $rc = 124 ]; then outcome="HANG"; hangs=$((hangs + 1))
  elif [ $rc -ge 128 ]; then outcome="CRASH (rc $rc)"; crashes=$((crashes + 1))
  elif [ "$before" != "$after" ]; then outcome="DATA LOST"; lost=$((lost + 1))
  elif [ $rc = 0 ] && [ "$want" = error ]; then outcome="SILENT ACCEPTANCE"; silent=$((silent + 1))
  elif [ $rc != 0 ] && [ "$want" = ok ]; then outcome="FAILED (rc $rc)"; silent=$((silent + 1))
  elif [ "$(wc -c < err.txt)" -gt 2048 ]; then outcome="LONG MESSAGE"; long=$((long + 1))
  elif [ $rc = 0 ]; then outcome="accepted"; accepted=$((accepted + 1))
  else outcome="clean error"; clean=$((clean + 1))
  fi
  printf '%-18s %-62s %s\n' "$outcome" "$what" "$(head -c 150 err.txt | tr '\n' ' ')"
}
killed_after() { SPHEREGRAD_KILL_AFTER=$1 "$SG" train $RUN --out $2 > /dev/null 2>&1 & { wait $!; } 2> /dev/null; }  # SIGKILL after file $1
same() { cmp -s "$1" "$2" || { echo "DIFFERS: $1 $2"; lost=$((lost + 1)); }; }

RUN="--steps 3000 --checkpoint-every 500 --quiet"
"$SG" train $RUN --out ref > /dev/null || exit 1

echo "== the run folder as a transaction"
for point in metrics.csv latents.npy latent_steps.npy checkpoint.safetensors report.html summary.json; do
  rm -rf k; killed_after $point k
  if [ -e k/summary.json ]; then probe error "killed after $point: finished; --resume refuses" -- train --resume k
  else probe ok "killed after $point: --resume finishes it" -- train --resume k; fi
  for f in metrics.csv checkpoint.safetensors latents.npy; do same ref/$f k/$f; done
done
# SIGTERM once the run has begun (its metrics file exists: the handler is in place by then).
rm -rf t; "$SG" train --steps 20000 --quiet --out t > /dev/null 2>&1 & pid=$!
while [ ! -e t/metrics.csv.tmp ] && kill -0 $pid 2> /dev/null; do sleep 0.01; done
kill -TERM $pid 2> /dev/null; { wait $pid; } 2> /dev/null
probe ok "SIGTERM mid-run left a checkpoint: --resume finishes it" -- train --resume t
# A full disk, as a limit on the size of any file written (ulimit -f, in KB): mid-run (the
# metrics file passes 200 KB after the first checkpoint), then in the final write (with a
# metrics row every 10 steps, the first file over 100 KB is a final output).
printf '#!/bin/bash\ntrap "" XFSZ\nulimit -f $LIMIT\nexec "$@"\n' > limited.sh; chmod +x limited.sh
"$SG" train $RUN --log-every 10 --out ref10 > /dev/null || exit 1
for case in "200 f1 ref" "100 f2 ref10"; do
  set -- $case; rm -rf $2
  extra=""; [ $3 = ref10 ] && extra="--log-every 10"
  LIMIT=$1 WRAP=./limited.sh probe error "disk full (files capped at $1 KB)" -- train $RUN $extra --out $2
  probe ok "  ... then, with room again, --resume finishes it" -- train --resume $2
  for x in metrics.csv checkpoint.safetensors latents.npy; do same $3/$x $2/$x; done
done
PROTECT="ref/summary.json ref/metrics.csv ref/checkpoint.safetensors"
probe error "train into a finished run" -- train $RUN --out ref
probe error "--resume a finished run" -- train --resume ref
rm -rf e; mkdir e; printf 'step,phase\n0,Train\n' > e/metrics.csv.tmp
probe ok "a folder left before its first checkpoint is run again" -- train $RUN --out e
PROTECT=""
COLUMNS="STEP,PHASE,ACTION,lr,reg-separate,reg-planar,reg-norm,reg-norm-v,reg-polar"
printf '%s\n0,Train,,0.01,0.001,0.02,0.01,0.02,0\n999,,,0.01,,,,,\n1000,,,1e30,,,,,\n' $COLUMNS > blowup.csv
rm -rf n
probe error "a non-finite loss after the first checkpoint" -- train $RUN --dopesheet blowup.csv --out n
for x in resume.safetensors metrics.csv.tmp; do [ -e n/$x ] || { echo "DATA LOST: n/$x is gone"; lost=$((lost + 1)); }; done

echo "== checkpoints"
rm -rf c; killed_after metrics.csv c
cp c/resume.safetensors resume.orig
size=$(stat -c %s resume.orig)
for at in 10 200 $((size / 3)) $((size / 2)) $((size - 9)); do
  cp resume.orig c/resume.safetensors
  printf '\x5a' | dd of=c/resume.safetensors bs=1 seek=$at conv=notrunc status=none
  probe error "a byte of the checkpoint changed at offset $at" -- train --resume c
done
cp resume.orig c/resume.safetensors; head -c $((size / 2)) resume.orig > c/resume.safetensors
probe error "a checkpoint cut in half" -- train --resume c
cp resume.orig c/resume.safetensors; cp ref/experiment.json c/experiment.json.keep
"$SG" experiment show ex-1.3 > c/experiment.json
probe error "a checkpoint resumed into another experiment's folder" -- train --resume c
cp c/experiment.json.keep c/experiment.json
head -c 1000 c/metrics.csv.tmp > m && mv m c/metrics.csv.tmp
probe error "metrics.csv.tmp shorter than the checkpoint counts" -- train --resume c

echo "== bounds"
probe error "--steps 4294967296" -- train --steps 4294967296
probe error "--batch 4294967297" -- train --batch 4294967297
probe error "--batch 100000000" -- train --batch 100000000
probe error "--threads 2147483648" -- train --threads 2147483648
probe error "llc --chains 4294967297" -- llc ref --chains 4294967297
probe error "llc --batch 100000000" -- llc ref --batch 100000000
probe error "llc --chains 10000 --draws 100000 (traces of 16 GB)" -- llc ref --chains 10000 --draws 100000
probe error "llc --sweep-nbeta 1:10:4294967297" -- llc ref --sweep-nbeta 1:10:4294967297
probe ok "sweep --seeds 18446744073709551615 (one seed, no wrap)" -- sweep --seeds 18446744073709551615 --steps 20 --folders none --quiet --out s
probe error "sweep --seeds 18446744073709551614-18446744073709551616" -- sweep --seeds 18446744073709551614-18446744073709551616 --steps 20 --quiet --out s2
probe error "batch 65536 with uniformity (a tape of 384 GiB)" -- train --batch 65536 --set 'regularizers.reg-separate={"term":"uniformity","t":2}' --out u
probe error "--steps 100000000 --snapshot-every 1 (latents of 800 GB)" -- train --steps 100000000 --snapshot-every 1 --out v
probe error "schedule /dev/zero" -- schedule /dev/zero
probe error "schedule /dev/urandom" -- schedule /dev/urandom
probe error "train /dev/zero (as an experiment file)" -- train /dev/zero
head -c 5000000 /dev/zero | tr '\0' 'x' > cell; printf 'STEP,PHASE,lr\n0,Train,%s\n' "$(cat cell)" > big.csv
probe error "a 5 MB malformed cell" -- schedule big.csv
printf '%s\n0,Train,,-0.01,0,0,0,0,0\n' $COLUMNS > neg.csv
probe error "a negative lr in a training dopesheet" -- train --dopesheet neg.csv --steps 10 --out neg
printf '%s\n0,Train,,0.01,-1,0,0,0,0\n' $COLUMNS > negw.csv
probe error "a negative weight in a training dopesheet" -- train --dopesheet negw.csv --steps 10 --out negw
printf '%s\n0,Train,explode,0.01,0,0,0,0,0\n' $COLUMNS > act.csv
probe error "an unknown ACTION in a training dopesheet" -- train --dopesheet act.csv --steps 10 --out act

echo "== every command protects what it wrote"
"$SG" sweep --seeds 0-1 --steps 50 --quiet --out sw > /dev/null
PROTECT="sw/summary.csv sw/runs/ex-1.7-seed0/summary.json"
probe error "sweep into an earlier sweep" -- sweep --seeds 0-1 --steps 50 --quiet --out sw
"$SG" sweep --seeds 0-1 --steps 60 --shard 1/2 --quiet --folders none --out sh > /dev/null
"$SG" sweep --seeds 0-1 --steps 50 --shard 2/2 --quiet --folders none --out sh > /dev/null
probe error "sweep merge of shards of different sweeps" -- sweep merge merged.csv sh/summary-shard-1-of-2.csv sh/summary-shard-2-of-2.csv
"$SG" compare ex-1.7 ex-1.3 --steps 50 --out cmp --quiet > /dev/null
PROTECT="cmp/comparison.md"
probe error "compare into an earlier comparison" -- compare ex-1.7 ex-1.3 --steps 50 --out cmp --quiet
PROTECT="ref/summary.json ref/metrics.csv ref/experiment.json"
"$SG" intervene ref --suppress red --quiet > /dev/null
PROTECT="$PROTECT ref/intervene-suppress-red/summary.json"
probe error "intervene again into its earlier output" -- intervene ref --suppress red --quiet
probe error "intervene --name ." -- intervene ref --suppress red --name . --quiet
probe error "intervene --name .." -- intervene ref --suppress red --name .. --quiet
probe error "intervene --out RUN" -- intervene ref --suppress red --out ref --quiet
probe error "intervene --out (a folder above RUN)" -- intervene ref --suppress red --out . --quiet
probe error "intervene --table RUN/summary.json" -- intervene ref --suppress red --name other --table ref/summary.json --quiet

echo
echo "| probes tried | clean errors | accepted as they should be | crashes | hangs | silent acceptances | overlong messages | data lost |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $tried | $clean | $accepted | $crashes | $hangs | $silent | $long | $lost |"
[ $((crashes + hangs + silent + long + lost)) = 0 ]
