#!/bin/bash
# The reports in a real browser: headless Chromium (Debian's chromium) loads each kind of
# report.html and the test fails on a script error, a chart that drew nothing, a latent panel
# without points, or a page that never finished. The pages report on themselves (body[data-*],
# examples/report/assets/report.js); a broken copy of a page is checked too, so the check
# itself is known to fail when it should. Screenshots land in build/browser/ to look at.
#   make browser-test        (installs chromium if missing; CI runs it)
set -u
SG=${SPHEREGRAD_CLI:-build/spheregrad}
OUT=${BROWSER_OUT:-build/browser}
BROWSER=${CHROMIUM:-chromium}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
failures=0
browse() {  # browse FILE ARGS...: chromium on FILE with ARGS; the page's scripts run first
  timeout 120 "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --virtual-time-budget=10000 "${@:2}" "file://$1" 2> /dev/null
}
# check PAGE CHARTS [POINTS]: the rendered page says it is ready, with no errors, CHARTS charts
# that drew, and POINTS (a regular expression; default 512, the whole cube) latents or dots drawn
check() {
  local body
  body=$(browse "$1" --dump-dom | grep -o '<body[^>]*>' | head -1)
  for want in 'data-ready="1"' 'data-errors="0"' "data-charts=\"$2\""; do
    case "$body" in *"$want"*) ;; *) echo "FAILED: $1: no $want in $body"; return 1 ;; esac
  done
  echo "$body" | grep -Eq "data-latent-points=\"${3:-512}\"" || { echo "FAILED: $1: points: $body"; return 1; }
  echo "ok: $1 ($body)"
}
for ex in ex-1.7 ex-1.6-stepped ex-2.4.1; do
  "$SG" train "$ex" --steps 1200 --overwrite --quiet --out "$OUT/$ex" || { failures=$((failures + 1)); continue; }
  check "$OUT/$ex/report.html" 3 || failures=$((failures + 1))
  browse "$OUT/$ex/report.html" --window-size=1250,1000 --screenshot="$OUT/$ex.png" > /dev/null
done
# Two interventions add themselves to their run's report, each with its three panels.
"$SG" intervene "$OUT/ex-2.4.1" --suppress red --p 0 --overwrite --quiet &&
  "$SG" intervene "$OUT/ex-2.4.1" --ablate 0 --overwrite --quiet &&
  check "$OUT/ex-2.4.1/report.html" 3 && browse "$OUT/ex-2.4.1/report.html" --dump-dom | grep -q 'data-interventions="2"' ||
  { echo "FAILED: $OUT/ex-2.4.1/report.html: the interventions are not all shown"; failures=$((failures + 1)); }
browse "$OUT/ex-2.4.1/report.html" --window-size=1250,3000 --screenshot="$OUT/ex-2.4.1-interventions.png" > /dev/null
# A comparison of two curricula, and a sweep of two experiments.
"$SG" compare ex-1.6-smooth ex-1.6-stepped --steps 1200 --overwrite --quiet --out "$OUT/compare" &&
  check "$OUT/compare/comparison.html" 14 || failures=$((failures + 1))
browse "$OUT/compare/comparison.html" --window-size=1250,2400 --screenshot="$OUT/comparison.png" > /dev/null
"$SG" sweep --experiments ex-1.7,ex-1.7-curriculum --seeds 0-3 --steps 600 --overwrite --quiet --out "$OUT/sweep" &&
  check "$OUT/sweep/report.html" 16 '[1-9][0-9]*' || failures=$((failures + 1))
browse "$OUT/sweep/report.html" --window-size=1250,1800 --screenshot="$OUT/sweep.png" > /dev/null
# The check fails on a page whose script breaks.
sed 's/const DATA = /const DATA = null; const UNUSED = /' "$OUT/ex-1.7/report.html" > "$OUT/broken.html"
if check "$OUT/broken.html" 3 > /dev/null; then echo "FAILED: a broken page passed the check"; failures=$((failures + 1))
else echo "ok: a broken page fails the check"; fi
echo "screenshots: $OUT/*.png"
[ $failures = 0 ]
