#!/usr/bin/python3
"""Regenerates the measured parts of docs/findings.md from runs.

    make findings                    # the full studies (200 seeds), into docs/findings.md
    make findings-check              # 4 seeds each, into build/findings-check.md (make test runs it)

The document's generated parts sit between marker lines

    <!-- findings:NAME begin -->  ...  <!-- findings:NAME end -->

and this script rewrites exactly those, from the sweep tables of its studies; everything else
(the prose that says what the numbers mean) is left as written. The runs are deterministic, so
a second run on the same build leaves the file byte-identical. Standard library only.

Statistics: rates with 95 % Wilson score intervals; two rates compared with Fisher's exact test
(two-sided) and Newcombe's hybrid-score interval for their difference; two means compared with
the difference and its 95 % interval by the normal approximation (Welch's standard error), which
the sample sizes used here (>= 100 runs per group) justify.
"""
import argparse
import ast
import csv
import json
import math
import os
import re
import struct
import subprocess
import sys

Z = 1.959963984540054  # the 97.5 % point of the standard normal


# ---------------------------------------------------------------- statistics

def wilson(k, n):
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + Z * Z / n
    c = (p + Z * Z / (2 * n)) / d
    h = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def fisher(k1, n1, k2, n2):
    """Two-sided p of Fisher's exact test on the 2 x 2 table (k1, n1 - k1; k2, n2 - k2)."""
    total, ks = n1 + n2, k1 + k2

    def prob(a):
        return math.comb(n1, a) * math.comb(n2, ks - a) / math.comb(total, ks)

    observed = prob(k1)
    lo, hi = max(0, ks - n2), min(ks, n1)
    return min(1.0, sum(prob(a) for a in range(lo, hi + 1) if prob(a) <= observed * (1 + 1e-9)))


def newcombe(k1, n1, k2, n2):
    """95 % interval of p1 - p2 (Newcombe's method 10, from the two Wilson intervals)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def mean_sd(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def mean_difference(xs, ys):
    (mx, sx), (my, sy) = mean_sd(xs), mean_sd(ys)
    se = math.sqrt(sx * sx / len(xs) + sy * sy / len(ys))
    return mx - my, mx - my - Z * se, mx - my + Z * se


def quantile(xs, q):
    """The q-quantile by linear interpolation between order statistics (numpy's default)."""
    s = sorted(xs)
    pos = q * (len(s) - 1)
    i = int(math.floor(pos))
    return s[i] if i + 1 >= len(s) else s[i] + (pos - i) * (s[i + 1] - s[i])


def median(xs):
    return quantile(xs, 0.5)


# ---------------------------------------------------------------- formatting

def pct(x):
    return f"{100 * x:.1f}"


def rate(k, n):
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {pct(k / n)} % [{pct(lo)}, {pct(hi)}]"


def pvalue(p):
    return "< 1e-4" if p < 1e-4 else f"{p:.2g}"


def p_is(p):
    """"p < 1e-4" or "p = 0.03"."""
    return "p < 1e-4" if p < 1e-4 else f"p = {p:.2g}"


def g3(x):
    return f"{x:.3g}"


# ---------------------------------------------------------------- runs

def reusable(args, out, command, product):
    """With --reuse: whether `product` exists, made by the same `command` (stamped in out/command.txt)."""
    stamp = os.path.join(out, "command.txt")
    return args.reuse and os.path.exists(product) and os.path.exists(stamp) and open(stamp).read() == " ".join(command)


def run_once(args, out, command, product):
    """Runs `command` (which writes into the folder `out`) unless --reuse finds `product` made by the same command."""
    reuse = reusable(args, out, command, product)
    shown = " ".join(command)
    if len(shown) > 300:  # an intervention on 60 run folders
        shown = shown[:150] + " ... " + shown[-120:]
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]  # findings, or paper when paper.py uses this
    print(f"{name}: " + ("reusing " if reuse else "") + shown, file=sys.stderr)
    if not reuse:
        subprocess.run(command, check=True)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "command.txt"), "w") as f:
            f.write(" ".join(command))


def sweep(args, name, experiments, seeds, extra=(), folders="none"):
    out = os.path.join(args.out, name)
    command = [args.cli, "sweep", "--experiments", ",".join(experiments), "--seeds", seeds, "--folders", folders,
               "--jobs", str(args.jobs), "--out", out, "--overwrite", "--quiet", *extra]
    table = os.path.join(out, "summary.csv")
    run_once(args, out, command, table)
    rows = read_csv(table)
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        sys.exit(f"findings: {len(bad)} runs of {name} failed, e.g. {bad[0]['run']}: {bad[0]['error']}")
    # Keyed by the experiment's name as asked: a changed experiment (--steps) has a label of its own,
    # and runs are numbered experiment-major, so labels appear in the order asked.
    labels = list(dict.fromkeys(r["experiment"] for r in rows))
    return {name: [r for r in rows if r["experiment"] == label] for name, label in zip(experiments, labels)}


def seed_list(seeds):
    """"0-19" or "3" as a list of ints."""
    lo, _, hi = seeds.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def json_metrics(path):
    with open(path) as f:
        return json.load(f)["metrics"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def crumpled(r):
    return r["crumpled"] == "1"


def crumpled_36(r):
    return r["crumpled_36"] == "1"


def severe(r):
    return int(r["hue_inversions_36"]) >= 3 or abs(int(r["hue_winding_36"])) != 1


def visible(r):
    return r["visible_fold"] == "1"


def count(rows, test):
    return sum(1 for r in rows if test(r))


def values(rows, column):
    return [float(r[column]) for r in rows]


# The final measures two groups of runs are compared on, and whether lower is better.
MEASURES = [("recon_mse_validation", "recon MSE (RGB 8^3)", True), ("red_cosine", "red cosine", False),
            ("radius_std", "radius spread", True), ("planarity_vibrant", "off the hue plane", True),
            ("spacing_error_deg", "spacing off 60 (deg)", True)]


def compare_means(x_rows, y_rows):
    """Table lines "| measure | mean x | mean y | x - y [95% CI] |", and the measures where x is better and
    where it is worse beyond chance (the interval excludes 0)."""
    lines, better, worse = [], [], []
    for column, label, lower_is_better in MEASURES:
        xs, ys = values(x_rows, column), values(y_rows, column)
        d, lo, hi = mean_difference(xs, ys)
        lines.append(f"| {label} | {g3(mean_sd(xs)[0])} | {g3(mean_sd(ys)[0])} | {g3(d)} [{g3(lo)}, {g3(hi)}] |")
        if lo > 0 or hi < 0:
            (better if (d < 0) == lower_is_better else worse).append(label)
    return lines, better, worse


# ---------------------------------------------------------------- studies

CURRICULA = [("ex-1.7", "full data from step 0"), ("ex-1.7-curriculum", "curriculum, else as Ex 1.7"),
             ("ex-1.5", "curriculum (smooth)"), ("ex-1.5-angular", "ditto, angular repulsion"),
             ("ex-1.6-smooth", "curriculum (smooth)"), ("ex-1.6-stepped", "curriculum (stepped)")]
# The last step of each curriculum's first phase, "Primary & secondary" (its dopesheet).
SIX_COLOR_PHASE_END = {"ex-1.5": 3000, "ex-1.5-angular": 3000, "ex-1.6-smooth": 500, "ex-1.6-stepped": 500,
                       "ex-1.7-curriculum": 500}


def curriculum(args, seeds):
    by = sweep(args, "curriculum", [e for e, _ in CURRICULA], seeds)
    n = len(by["ex-1.7"])
    out = [f"{n} seeds per experiment (`{seeds}`). Any inversion = a hue out of order on the 360-hue ring "
           "(crumpled at 360 hues) or on the 36-hue ring; severe = 3 or more inversions at 36 hues or a winding "
           "other than +-1; visible fold = a fold of at least 10 deg on any of the three rings.", "",
           "| experiment | data | any inversion, 360 hues | any inversion, 36 hues | visible fold (>= 10 deg) | severe |",
           "|---|---|---|---|---|---|"]
    for e, data in CURRICULA:
        rows = by[e]
        out.append(f"| {e} | {data} | " + " | ".join(rate(count(rows, t), len(rows))
                                                    for t in (crumpled, crumpled_36, visible, severe)) + " |")
    out += ["", "Sizes (degrees; the largest over the three rings): the largest fold among the runs with any "
            "inversion at 360 hues, and over all runs the largest gap between hues 1 deg apart and the largest "
            "departure of the primaries' spacing from 60 deg. Median [90th percentile, max].", "",
            "| experiment | runs with an inversion | their largest fold | largest gap | spacing off 60 |",
            "|---|---|---|---|---|"]

    def spread(xs):
        return f"{g3(quantile(xs, 0.5))} [{g3(quantile(xs, 0.9))}, {g3(max(xs))}]" if xs else "-"

    for e, _ in CURRICULA:
        rows = by[e]
        folded = [r for r in rows if crumpled(r)]
        out.append(f"| {e} | {len(folded)} | {spread(values(folded, 'fold_deg'))} | "
                   f"{spread(values(rows, 'gap_deg'))} | {spread(values(rows, 'spacing_error_deg'))} |")
    out += ["", "Differences of visible-fold rates (Fisher's exact test, two-sided; the difference with its 95 % "
            "interval, percentage points):", "",
            "| comparison | rates | difference [95% CI] | p |", "|---|---|---|---|"]
    pairs = [("ex-1.7-curriculum", "ex-1.7"), ("ex-1.5", "ex-1.7"), ("ex-1.6-smooth", "ex-1.7"),
             ("ex-1.6-stepped", "ex-1.7"), ("ex-1.6-smooth", "ex-1.6-stepped"), ("ex-1.5-angular", "ex-1.5")]
    for a, b in pairs:
        ka, na, kb, nb = count(by[a], visible), len(by[a]), count(by[b], visible), len(by[b])
        lo, hi = newcombe(ka, na, kb, nb)
        out.append(f"| {a} vs {b} | {pct(ka / na)} % vs {pct(kb / nb)} % | {pct(ka / na - kb / nb)} "
                   f"[{pct(lo)}, {pct(hi)}] | {pvalue(fisher(ka, na, kb, nb))} |")
    mse = ", ".join(f"{e} {mean_sd(values(by[e], 'recon_mse_validation'))[0]:.2g}" for e, _ in CURRICULA)
    red = ", ".join(f"{e} {mean_sd(values(by[e], 'red_cosine'))[0]:.2f}" for e, _ in CURRICULA)
    out += ["", f"Mean reconstruction MSE (RGB 8^3): {mse}.", "", f"Mean red cosine: {red}."]
    visible_rate = {e: (count(by[e], visible), len(by[e])) for e, _ in CURRICULA}
    measured = "; ".join(f"{e} {rate(*visible_rate[e])}" for e, _ in CURRICULA)
    k17, n17 = visible_rate["ex-1.7"]
    curricula = [e for e, _ in CURRICULA if e != "ex-1.7"]
    near = [e for e in curricula if wilson(*visible_rate[e])[0] <= 0.25 <= wilson(*visible_rate[e])[1]]
    verdict = ("25 % lies within the interval for " + (", ".join(near) or "none") + "; not for "
               + (", ".join(e for e in curricula if e not in near) or "none") + ". \"Never\": "
               + ("holds for visible folds" if k17 == 0 else f"no, full data folds visibly in {k17} of {n17}"))
    summary = (f"| cur | curricula crumple in about 25 % of runs; full data never did | visible folds (>= 10 deg), "
               f"{n17} seeds each: {measured} | {verdict} |")
    return "\n".join(out), by, summary


def origin(args, seeds, final):
    """Is a curriculum run that ends folded already folded when its six-color phase ends?"""
    out = ["The same seeds, stopped at the end of the first phase (\"Primary & secondary\": the six primaries "
           "and secondaries only) and measured there, against the same runs at their end. Visible fold as above.",
           "", "| experiment | phase ends at step | folded at its end | folded at the end of the run | "
           "of those, already folded at the phase's end | end folded, given folded at phase end / not | p |",
           "|---|---|---|---|---|---|---|"]
    verdicts = []
    for e, end in SIX_COLOR_PHASE_END.items():
        early = {r["seed"]: r for r in sweep(args, "origin-" + e, [e], seeds, ["--steps", str(end)])[e]}
        late = {r["seed"]: r for r in final[e]}
        both = [(visible(early[s]), visible(late[s])) for s in late]
        early_folded = sum(1 for a, _ in both if a)
        late_folded = sum(1 for _, b in both if b)
        already = sum(1 for a, b in both if a and b)
        k1 = already
        n1 = early_folded
        k2 = sum(1 for a, b in both if not a and b)
        n2 = len(both) - early_folded
        given = f"{rate(k1, n1) if n1 else '-'} / {rate(k2, n2) if n2 else '-'}"
        p = fisher(k1, n1, k2, n2) if n1 and n2 else 1.0
        out.append(f"| {e} | {end} | {early_folded}/{len(both)} | {late_folded}/{len(both)} | "
                   f"{already}/{late_folded} | {given} | {pvalue(p) if n1 and n2 else '-'} |")
        verdicts.append((e, already, late_folded, p, n1 and n2 and k1 / n1 > k2 / n2))
    # It originates there when a fold at the phase's end predicts a fold at the run's end.
    yes = [e for e, _, _, p, predicts in verdicts if predicts and p < 0.05]
    summary = ("| origin | crumpling originates in the six-color phase | of the runs folded at their end, those already "
               "folded when the six-color phase ended: " + "; ".join(f"{e} {a}/{b}" for e, a, b, _, _ in verdicts)
               + "; a fold at the phase's end predicts one at the run's end (Fisher p < 0.05) for " + (", ".join(yes) or "none")
               + " | yes for " + (", ".join(yes) or "none") + "; not for "
               + (", ".join(e for e, *_ in verdicts if e not in yes) or "none") + " |")
    return "\n".join(out), summary


def midway(args, seeds):
    """Ex 1.6: the latent space at the end of "All hues" (step 4999), smooth against stepped."""
    by = sweep(args, "midway", ["ex-1.6-smooth", "ex-1.6-stepped"], seeds, ["--steps", "5000"])
    s, t = by["ex-1.6-smooth"], by["ex-1.6-stepped"]
    out = [f"{len(s)} seeds each (`{seeds}`), stopped after step 4999, the last of \"All hues\". Means, and "
           "smooth minus stepped with its 95 % interval:", "",
           "| measure | smooth | stepped | difference [95% CI] |", "|---|---|---|---|"]
    significant = []
    for column, label in [("fold_deg", "largest fold (deg)"), ("gap_deg", "largest gap (deg)"),
                          ("spacing_error_deg", "spacing off 60 (deg)"), ("radius_std", "radius spread (sd of the norm)"),
                          ("planarity_vibrant", "off the hue plane (mean z^2, dims >= 2)"),
                          ("recon_mse_validation", "recon MSE (RGB 8^3)")]:
        xs, ys = values(s, column), values(t, column)
        d, lo, hi = mean_difference(xs, ys)
        out.append(f"| {label} | {g3(mean_sd(xs)[0])} | {g3(mean_sd(ys)[0])} | {g3(d)} [{g3(lo)}, {g3(hi)}] |")
        if lo > 0 or hi < 0:
            significant.append(f"{label}: {'smooth' if d > 0 else 'stepped'} higher by {g3(abs(d))}")
    ks, kt = count(s, visible), count(t, visible)
    out += ["", f"Visible fold at step 4999: smooth {rate(ks, len(s))}, stepped {rate(kt, len(t))}; "
            f"Fisher {p_is(fisher(ks, len(s), kt, len(t)))}."]
    summary = (f"| 1.6d | smooth is noisier midway | the latent space after step 4999 (end of \"All hues\"), {len(s)} "
               f"seeds each; differences whose 95 % interval excludes 0: " + ("; ".join(significant) or "none")
               + f"; visible folds {pct(ks / len(s))} % vs {pct(kt / len(t))} % ({p_is(fisher(ks, len(s), kt, len(t)))}) | "
               + ("partly: " if significant else "no: ") + "see \"Midway\" below |")
    return "\n".join(out), summary


def epochs(args, seeds, final):
    """Ex 1.7 as the original iterated it (3600 samples per epoch at batch 64: every 57th batch holds 16)."""
    by = sweep(args, "epoch", ["ex-1.7"], seeds, ["--set", "epoch=3600"])
    ours = final["ex-1.7"]
    theirs = by["ex-1.7"]
    out = [f"{len(theirs)} seeds (`{seeds}`): Ex 1.7 with `epoch: 3600` (the original's short last batch) against "
           "Ex 1.7 with every batch full. Means, and the difference with its 95 % interval:", "",
           "| measure | epochs of 3600 | full batches | difference [95% CI] |", "|---|---|---|---|"]
    for column, label in [("recon_mse_validation", "recon MSE (RGB 8^3)"), ("red_cosine", "red cosine"),
                          ("radius_mean", "radius"), ("planarity_vibrant", "off the hue plane"),
                          ("spacing_error_deg", "spacing off 60 (deg)"), ("separate_final", "separate (last batch)")]:
        xs, ys = values(theirs, column), values(ours, column)
        d, lo, hi = mean_difference(xs, ys)
        out.append(f"| {label} | {g3(mean_sd(xs)[0])} | {g3(mean_sd(ys)[0])} | {g3(d)} [{g3(lo)}, {g3(hi)}] |")
    ka, kb = count(theirs, visible), count(ours, visible)
    ca, cb = count(theirs, crumpled), count(ours, crumpled)
    out += ["", f"Visible folds: {rate(ka, len(theirs))} against {rate(kb, len(ours))} (Fisher p = "
            f"{pvalue(fisher(ka, len(theirs), kb, len(ours)))}); any inversion at 360 hues: {rate(ca, len(theirs))} "
            f"against {rate(cb, len(ours))} ({p_is(fisher(ca, len(theirs), cb, len(ours)))})."]
    return "\n".join(out)


def pictures(args, by):
    """One run of each kind, trained again with its folder; its latent plot is copied beside the document."""
    def first(rows, test):
        return next((r for r in rows if test(r)), None)

    def median_of(rows):
        rows = sorted(rows, key=lambda r: (float(r["fold_deg"]), int(r["seed"])))
        return rows[(len(rows) - 1) // 2] if rows else None

    all_rows = [r for e, _ in CURRICULA for r in by[e]]
    gappy = [r for r in all_rows if not crumpled(r) and not visible(r)]
    kinds = [("clean", "a clean wheel", "ex-1.7", first(by["ex-1.7"], lambda r: not crumpled(r) and not crumpled_36(r))),
             ("kink", "an inversion no eye sees", "ex-1.7", first(by["ex-1.7"], lambda r: crumpled(r) and not visible(r))),
             ("small-fold", "the smallest visible fold", "ex-1.6-smooth",
              min((r for r in by["ex-1.6-smooth"] if visible(r)), key=lambda r: (float(r["fold_deg"]), int(r["seed"])),
                  default=None)),
             ("typical-fold", "a typical Ex 1.5 fold (the median size)", "ex-1.5",
              median_of([r for r in by["ex-1.5"] if visible(r)])),
             ("gap", "no inversion, the largest gap", None,
              max(gappy, key=lambda r: (float(r["gap_deg"]), -int(r["seed"])), default=None))]
    folder = os.path.join(os.path.dirname(args.write or args.doc), "findings")
    os.makedirs(folder, exist_ok=True)
    cells, captions = [], []
    for name, what, experiment, r in kinds:
        if r is None:
            continue
        experiment = experiment or next(e for e, _ in CURRICULA if r in by[e])
        out = os.path.join(args.out, "pictures", name)
        subprocess.run([args.cli, "train", experiment, "--seed", r["seed"], "--out", out, "--overwrite", "--quiet"],
                       check=True)
        target = os.path.join(folder, name + ".svg")
        with open(os.path.join(out, "latents_dim1_dim0.svg")) as f, open(target + ".tmp", "w") as g:
            g.write(f.read())
        os.replace(target + ".tmp", target)
        cells.append(f"![{what}](findings/{name}.svg)")
        captions.append(f"{what}: {experiment} seed {r['seed']}, {r['hue_inversions']} inversions at 360 hues, "
                        f"largest fold {g3(float(r['fold_deg']))} deg, largest gap {g3(float(r['gap_deg']))} deg")
    out = ["Latents of the RGB 8^3 cube on dims 1 (across) and 0 (up), each dot in its color, one run of each kind "
           "from the table above (trained again with its folder):", "",
           "| " + " | ".join(cells) + " |", "|" + "---|" * len(cells), "| " + " | ".join(captions) + " |"]
    return "\n".join(out)


def all_criteria(r):
    """Ex 1.8's criteria: no visible fold, red cos > 0.9, radius in [0.9, 1.1], planarity < 0.05, resultant < 0.2."""
    return (not visible(r) and float(r["red_cosine"]) > 0.9 and 0.9 <= float(r["radius_mean"]) <= 1.1
            and float(r["planarity_vibrant"]) < 0.05 and float(r["hue_resultant"]) < 0.2)


def ablations(args, seeds, test_seeds, final):
    """Ex 1.8: every subset of Ex 1.7's five regularizers dropped; then each one alone on more seeds, with tests."""
    out_dir = os.path.join(args.out, "ablations")
    subsets = sweep(args, "ablations", ["ex-1.7"], seeds, ["--ablations", "subsets"])
    rows = read_csv(os.path.join(out_dir, "summary.csv"))
    groups = {}
    for r in rows:
        groups.setdefault(r["without"], []).append(r)
    out = [f"Seeds `{seeds}` for each of the 31 subsets. All criteria = no visible fold, red cos > 0.9, radius in "
           "[0.9, 1.1], planarity < 0.05, hue resultant < 0.2. Means over the seeds:", "",
           "| dropped | any inversion 36 / 360 | visible fold | red cos | radius | planarity | resultant | recon | all criteria |",
           "|---|---|---|---|---|---|---|---|---|"]
    for without, g in groups.items():
        m = {c: mean_sd(values(g, c))[0] for c in
             ("red_cosine", "radius_mean", "planarity_vibrant", "hue_resultant", "recon_mse_validation")}
        out.append(f"| {without or '(none)'} | {count(g, crumpled_36)} / {count(g, crumpled)} | {count(g, visible)} | "
                   f"{m['red_cosine']:.3f} | {m['radius_mean']:.3f} | {m['planarity_vibrant']:.3f} | "
                   f"{m['hue_resultant']:.3f} | {m['recon_mse_validation']:.2e} | {count(g, all_criteria)}/{len(g)} |")
    singles = ["reg-separate", "reg-planar", "reg-polar", "reg-norm", "reg-norm-v"]
    one = sweep(args, "ablations-one", ["ex-1.7"], test_seeds, ["--ablations", ";".join(singles)])
    rows = read_csv(os.path.join(args.out, "ablations-one", "summary.csv"))
    full = final["ex-1.7"]
    kf, nf = count(full, all_criteria), len(full)
    out += ["", f"Each regularizer dropped alone, seeds `{test_seeds}`, against the full set on the seeds of the "
            f"curriculum study (`{args.seeds}`): the share of runs meeting all criteria, Fisher's test, and the "
            "differences of the means with their 95 % intervals:", "",
            "| dropped | all criteria | full set | p | visible fold | resultant difference | planarity difference | "
            "red cos difference | radius difference |",
            "|---|---|---|---|---|---|---|---|---|"]
    verdicts, diff = {}, {}
    for name in singles:
        g = [r for r in rows if r["without"] == name]
        k, n = count(g, all_criteria), len(g)
        p = fisher(k, n, kf, nf)
        diffs = []
        for column in ("hue_resultant", "planarity_vibrant", "red_cosine", "radius_mean"):
            d, lo, hi = mean_difference(values(g, column), values(full, column))
            diff[(name, column)] = (d, lo, hi)
            diffs.append(f"{g3(d)} [{g3(lo)}, {g3(hi)}]")
        diff[(name, "visible")] = rate(count(g, visible), n)
        out.append(f"| {name} | {rate(k, n)} | {rate(kf, nf)} | {pvalue(p)} | {diff[(name, 'visible')]} | "
                   + " | ".join(diffs) + " |")
        verdicts[name] = p < 0.05
    needed = [n for n in singles if verdicts[n]]

    def shift(name, column):
        d, lo, hi = diff[(name, column)]
        return f"{g3(d)} [{g3(lo)}, {g3(hi)}] (full set {mean_sd(values(full, column))[0]:.3f})"

    def up(name, column):
        return diff[(name, column)][1] > 0

    def down(name, column):
        return diff[(name, column)][2] < 0

    both = groups.get("reg-norm-v+reg-norm", [])
    rows_out = [
        f"| 1.8a | without separate, points bunch on one side | dropped alone: hue resultant {shift('reg-separate', 'hue_resultant')}; "
        f"visible folds {diff[('reg-separate', 'visible')]} | " + ("yes" if up("reg-separate", "hue_resultant") else "no") + " |",
        f"| 1.8b | without norm, points bunch in the middle | dropped alone: radius {shift('reg-norm', 'radius_mean')}"
        + (f"; without both unitarity terms ({len(both)} seeds): {mean_sd(values(both, 'radius_mean'))[0]:.3f}" if both else "")
        + f"; visible folds {diff[('reg-norm', 'visible')]} | " + ("yes" if down("reg-norm", "radius_mean") else "no") + " |",
        f"| 1.8c | without planar, hues leave dims 0-1 | dropped alone: planarity {shift('reg-planar', 'planarity_vibrant')}; "
        f"visible folds {diff[('reg-planar', 'visible')]} | " + ("yes" if up("reg-planar", "planarity_vibrant") else "no") + " |",
        f"| 1.8d | without polar, red leaves dim 0 | dropped alone: red cos {shift('reg-polar', 'red_cosine')} | "
        + ("yes" if down("reg-polar", "red_cosine") else "no") + " |",
        "| 1.8e | all five regularizers are needed | each dropped alone: the share of runs meeting all criteria "
        "differs from the full set's (Fisher p < 0.05) for " + (", ".join(needed) or "none") + " | "
        + ("yes" if len(needed) == len(singles) else "no: " + ", ".join(n for n in singles if n not in needed)
           + " is not shown to be needed") + " |"]
    return "\n".join(out), rows_out


# Ex 1.7's published end state: (summary column, label, published value).
PUBLISHED_17 = [("final_total", "total loss", 4.2e-3), ("separate_final", "separate (raw)", 2.7),
                ("recon_mse_validation", "recon MSE", 4e-4)]


def ex17(args, final):
    """Ex 1.7's published end state (recon about 4e-4, separate about 2.7, total about 4.2e-3) against ours."""
    rows = final["ex-1.7"]
    out = [f"Ex 1.7 at the end of its 10001 steps, {len(rows)} seeds (`{args.seeds}`): the published values against "
           "ours (the last step's batch for the losses; the RGB 8^3 cube for the reconstruction MSE).", "",
           "| quantity | published | our mean | our 5th-95th percentile | published value inside? | our runs at or above it |",
           "|---|---|---|---|---|---|"]
    outside = []
    for column, label, published in PUBLISHED_17:
        xs = values(rows, column)
        lo, hi = quantile(xs, 0.05), quantile(xs, 0.95)
        if not lo <= published <= hi:
            outside.append(label)
        out.append(f"| {label} | {g3(published)} | {g3(mean_sd(xs)[0])} | {g3(lo)} - {g3(hi)} | "
                   f"{'yes' if lo <= published <= hi else 'no'} | {sum(1 for x in xs if x >= published)} of {len(xs)} |")
    summary = ("| 1.7t | Ex 1.7 ends with total about 4.2e-3, separate about 2.7, recon about 4e-4 | "
               + "; ".join(f"{label}: mean {g3(mean_sd(values(rows, c))[0])}" for c, label, _ in PUBLISHED_17)
               + f", {len(rows)} seeds | " + ("partly: outside our 5th-95th percentiles: " + ", ".join(outside) if outside
                                              else "yes: every published value lies within our 5th-95th percentiles") + " |")
    return "\n".join(out), summary


def constant_weights(args, seeds, final):
    """Lesson 2, varying hyperparameters beat constant ones: Ex 1.7 with every regularizer weight held at its
    mean over the scheduled run (the lr schedule kept), against the schedule."""
    ref = os.path.join(args.out, "schedule-ex-1.7")
    subprocess.run([args.cli, "train", "ex-1.7", "--out", ref, "--overwrite", "--quiet"], check=True)
    log = read_csv(os.path.join(ref, "metrics.csv"))
    columns = ["reg-separate", "reg-planar", "reg-norm", "reg-norm-v", "reg-polar"]
    means = {c: sum(float(r[c]) for r in log) / len(log) for c in columns}
    with open("examples/experiments/ex-1.7.csv", newline="") as f:
        sheet = list(csv.reader(f))
    header = sheet[0]
    lines = [",".join(header)]
    for i, row in enumerate(sheet[1:]):
        cells = dict(zip(header, row))
        if i == 0:
            cells.update({c: repr(means[c]) for c in columns})
        elif not cells["lr"]:
            continue
        else:
            cells.update({c: "" for c in columns})
        lines.append(",".join(cells[h] for h in header))
    path = os.path.join(args.out, "ex-1.7-constant.csv")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    g = sweep(args, "constant", ["ex-1.7"], seeds, ["--dopesheet", path])["ex-1.7"]
    full = final["ex-1.7"]
    out = [f"Ex 1.7 with every regularizer's weight constant at its mean over the scheduled run ("
           + ", ".join(f"{c} {means[c]:.4g}" for c in columns) + "; the lr schedule unchanged), "
           f"seeds `{seeds}`, against the schedule (seeds `{args.seeds}`):", "",
           "| measure | constant | scheduled | difference [95% CI] or p |", "|---|---|---|---|"]
    k, n, kf, nf = count(g, all_criteria), len(g), count(full, all_criteria), len(full)
    out.append(f"| all Ex 1.8 criteria | {rate(k, n)} | {rate(kf, nf)} | {p_is(fisher(k, n, kf, nf))} |")
    kv, kfv = count(g, visible), count(full, visible)
    out.append(f"| visible fold | {rate(kv, n)} | {rate(kfv, nf)} | {p_is(fisher(kv, n, kfv, nf))} |")
    lines, _, better = compare_means(g, full)  # where constant is worse, the schedule is better
    out += lines
    worse_rate = fisher(k, n, kf, nf) < 0.05 and k / n < kf / nf
    summary = ("| L2 | varying hyperparameters beat constant ones | Ex 1.7 with constant weights (each at its mean) "
               f"meets all criteria in {pct(k / n)} % of {n} runs against {pct(kf / nf)} % scheduled; the schedule is "
               "better beyond chance in: " + (", ".join(better + (["the criteria"] if worse_rate else [])) or "nothing")
               + " | " + ("yes" if better or worse_rate else "not shown") + " |")
    return "\n".join(out), summary


def gently(args, seeds, final):
    """Ex 1.6 without its per-sample focus weighting: new data arrives at full weight."""
    names = ["ex-1.6-smooth", "ex-1.6-stepped"]
    off = ["--set", "reconstruction.focus_weighted=false", "--set", "regularizers.reg-planar.focus_weighted=false",
           "--set", "regularizers.reg-norm.focus_weighted=false"]
    by = sweep(args, "gently", names, seeds, off)
    out = [f"Seeds `{seeds}`: each Ex 1.6 schedule with and without the per-sample focus weighting of its "
           "reconstruction, reg-planar and reg-norm (the curriculum's sampling unchanged).", "",
           "| schedule | visible fold, weighted | visible fold, unweighted | p | recon MSE weighted / unweighted | "
           "difference [95% CI] |", "|---|---|---|---|---|---|"]
    verdicts = []
    for e in names:
        w, u = final[e], by[e]
        kw, ku = count(w, visible), count(u, visible)
        p = fisher(kw, len(w), ku, len(u))
        d, lo, hi = mean_difference(values(u, "recon_mse_validation"), values(w, "recon_mse_validation"))
        out.append(f"| {e} | {rate(kw, len(w))} | {rate(ku, len(u))} | {pvalue(p)} | "
                   f"{g3(mean_sd(values(w, 'recon_mse_validation'))[0])} / {g3(mean_sd(values(u, 'recon_mse_validation'))[0])} | "
                   f"{g3(d)} [{g3(lo)}, {g3(hi)}] |")
        verdicts.append((e, p < 0.05 and ku / len(u) > kw / len(w), lo > 0))
    helps = [e for e, folds, recon in verdicts if folds or recon]
    summary = ("| gently | new data must be introduced gently (Ex 1.6's per-sample weighting) | without the weighting: "
               + "; ".join(f"{e} folds more often beyond chance: {'yes' if f else 'no'}, reconstructs worse beyond "
                           f"chance: {'yes' if r else 'no'}" for e, f, r in verdicts)
               + " | " + ("yes for " + ", ".join(helps) if helps else "not shown") + " |")
    return "\n".join(out), summary


def spikes(args, seeds):
    """Ex 1.6: the loss's response to each new phase, over a window long enough for both schedules."""
    window, span = 50, 1500
    by = sweep(args, "spikes", ["ex-1.6-smooth", "ex-1.6-stepped"], seeds, ["--snapshot-every", "0"], folders="full")
    out = [f"Seeds `{seeds}`. At each start of a new phase t: the largest {window}-step running mean of the total loss "
           f"within the {span} steps from t, over the median of the 100 steps before t; and the step (after t) where "
           "that running mean peaks. Median [10th, 90th percentile] over the seeds:", "",
           "| phase start | schedule | ratio | peak, steps after the start |", "|---|---|---|---|"]
    ratios = {}
    short = {}  # (phase instance start, phase) -> experiment -> [largest total of the 50 steps from it / median before]
    for e, rows in by.items():
        instances = phase_instances(e)
        for r in rows:
            log = read_csv(os.path.join(args.out, "spikes", "runs", f"{r['experiment']}-seed{r['seed']}", "metrics.csv"))
            total = [float(x["total"]) for x in log]
            for t in instances:
                short.setdefault((t, log[t]["phase"]), {}).setdefault(e, []).append(
                    max(total[t:t + window]) / median(total[t - 100:t]))
            starts = [i for i in range(1, len(log)) if log[i]["phase"] != log[i - 1]["phase"]]
            for t in starts:
                base = median(total[max(0, t - 100):t])
                end = min(len(total), t + span)
                means = [sum(total[j:j + window]) / window for j in range(t, end - window + 1)]
                k = max(range(len(means)), key=lambda j: means[j])
                ratios.setdefault((t, log[t]["phase"]), {}).setdefault(e, []).append((means[k] / base, k))
    separated = []
    for (t, phase), per in sorted(ratios.items()):
        for e in ("ex-1.6-smooth", "ex-1.6-stepped"):
            xs = [x for x, _ in per.get(e, [])]
            ks = [k for _, k in per.get(e, [])]
            if xs:
                out.append(f"| {t} ({phase}) | {e} | {g3(quantile(xs, 0.5))} [{g3(quantile(xs, 0.1))}, "
                           f"{g3(quantile(xs, 0.9))}] | {g3(quantile(ks, 0.5))} [{g3(quantile(ks, 0.1))}, {g3(quantile(ks, 0.9))}] |")
        smooth = [x for x, _ in per.get("ex-1.6-smooth", [])]
        stepped = [x for x, _ in per.get("ex-1.6-stepped", [])]
        if smooth and stepped and quantile(stepped, 0.1) > quantile(smooth, 0.9):
            separated.append(str(t))
    def medians(e):
        return ", ".join(f"{g3(quantile([x for x, _ in per[e]], 0.5))}x peaking {g3(quantile([k for _, k in per[e]], 0.5))} "
                         f"steps after {t}" for (t, _), per in sorted(ratios.items()) if e in per)

    n = len(by["ex-1.6-stepped"])
    table50 = [f"Seeds `{seeds}`: at each phase start of either schedule (the stepped one repeats phases, each repeat "
               f"with its lr warm-up), the largest total loss of the {window} steps from the start over the median of "
               "the 100 steps before it. Median [10th, 90th percentile] over the seeds; - where the schedule has no "
               "phase start:", "", "| phase start | smooth | stepped |", "|---|---|---|"]
    for (t, phase), per in sorted(short.items()):
        cells = [f"{g3(quantile(per[e], 0.5))} [{g3(quantile(per[e], 0.1))}, {g3(quantile(per[e], 0.9))}]" if e in per
                 else "-" for e in ("ex-1.6-smooth", "ex-1.6-stepped")]
        table50.append(f"| {t} ({phase}) | {cells[0]} | {cells[1]} |")
    summary = (f"| 1.6a | stepped has loss spikes at phase starts (smooth does not) | {n} seeds, the largest {window}-step "
               f"mean within {span} steps over the level before: stepped {medians('ex-1.6-stepped')}; smooth "
               f"{medians('ex-1.6-smooth')} (medians) | " + ("yes: the stepped response is above the smooth one's in "
                                                              "90 % of seeds at " + ", ".join(separated)
                                                              if separated else "not shown")
               + ("; the smooth schedule has a slower rise of its own (a median above 2x at "
                  + ", ".join(str(t) for (t, _), per in sorted(ratios.items())
                              if quantile([x for x, _ in per.get("ex-1.6-smooth", [(0, 0)])], 0.5) > 2) + ")"
                  if any(quantile([x for x, _ in per.get("ex-1.6-smooth", [(0, 0)])], 0.5) > 2 for per in ratios.values())
                  else "") + " |")
    return "\n".join(out), "\n".join(table50), summary


def phase_instances(experiment):
    """The steps (> 0) where the experiment's dopesheet starts a phase: its rows with a PHASE and an absolute STEP."""
    return [int(r["STEP"]) for r in read_csv(os.path.join("examples", "experiments", experiment + ".csv"))
            if r["PHASE"] and r["STEP"].isdigit() and int(r["STEP"]) > 0]


def soft(args, seeds, final):
    """Stochastic labels (a draw per sample, as the original) against soft labels (the probability itself)."""
    g = sweep(args, "soft", ["ex-1.7"], seeds, ["--set", "soft_labels=true"])["ex-1.7"]
    full = final["ex-1.7"]
    k, n, kf, nf = count(g, all_criteria), len(g), count(full, all_criteria), len(full)
    out = [f"Ex 1.7 with its stochastic labels (seeds `{args.seeds}`) against soft labels (`soft_labels: true`, seeds "
           f"`{seeds}`):", "", "| measure | stochastic | soft | stochastic minus soft [95% CI] or p |", "|---|---|---|---|",
           f"| all Ex 1.8 criteria | {rate(kf, nf)} | {rate(k, n)} | {p_is(fisher(k, n, kf, nf))} |"]
    lines, better, worse = compare_means(full, g)
    out += lines
    if fisher(k, n, kf, nf) < 0.05:
        (worse if kf / nf < k / n else better).append("the criteria")
    summary = ("| labels | stochastic labels work as well as soft ones | Ex 1.7, stochastic against soft: worse beyond "
               "chance in " + (", ".join(worse) or "nothing") + "; better in " + (", ".join(better) or "nothing")
               + f" ({n} and {nf} seeds) | " + ("yes" if not worse else "partly") + " |")
    return "\n".join(out), summary


def conflict(args, seeds):
    """The repulsion conflict: each term's gradient with respect to the latents, split into radial and tangential
    parts (spheregrad compare --probe-every), compared on the same steps, each term over the rows it acts on."""
    probe_every = 25
    variants = [("ex-1.5", "Euclidean, correct form"), ("ex-1.5-original", "Euclidean, original form"),
                ("ex-1.5-angular", "angular")]
    steps = {v: [] for v, _ in variants}  # (sep radial, sep cosine, norm radial) on the steps both were probed
    norm_all = {v: [] for v, _ in variants}
    selective = {}  # (run, term) -> probes
    for seed in seed_list(seeds):
        for names in ([v for v, _ in variants], ["ex-1.7", "ex-1.7-curriculum"]):
            out = os.path.join(args.out, "conflict", f"{names[0]}-seed{seed}")
            run_once(args, out, [args.cli, "compare", *names, "--probe-every", str(probe_every), "--seed", str(seed),
                                 "--out", out, "--overwrite", "--quiet"], os.path.join(out, "gradients.csv"))
            by_step = {}
            for r in read_csv(os.path.join(out, "gradients.csv")):
                by_step.setdefault((r["preset"], int(r["step"])), {})[r["term"]] = r
                if r["preset"].startswith("ex-1.7"):
                    selective.setdefault((r["preset"], r["term"]), []).append(r)
                elif r["term"] == "reg-norm":
                    norm_all[r["preset"]].append(float(r["radial"]))
            for (preset, _), terms in sorted(by_step.items()):
                if preset in steps and "reg-separate" in terms and "reg-norm" in terms:
                    sep, norm = terms["reg-separate"], terms["reg-norm"]
                    steps[preset].append((float(sep["radial"]), float(sep["radial_cosine"]), float(norm["radial"])))
    n_seeds = len(seed_list(seeds))
    finals = {v: [json_metrics(os.path.join(args.out, "conflict", f"ex-1.5-seed{seed}", "runs", v, "summary.json"))
                  for seed in seed_list(seeds)] for v, _ in variants}
    out = [f"Seeds `{seeds}`, a probe every {probe_every} steps (`spheregrad compare ex-1.5 ex-1.5-original "
           f"ex-1.5-angular --probe-every {probe_every} --seed S`). On the probe steps where reg-separate is computed "
           "(its weight above 0, in the first phase) -- the same steps for every term -- means over steps and seeds; "
           "radial > 0 pulls inward:", "",
           "| run | repulsion | probe steps | reg-separate radial | its radial cosine | reg-norm radial, same steps | "
           "sum of the two | reg-norm's pull / repulsion's push | reg-norm radial over all its probes |",
           "|---|---|---|---|---|---|---|---|---|"]
    m = {}
    for v, what in variants:
        rows = steps[v]
        sep = mean_sd([a for a, _, _ in rows])[0]
        cos = mean_sd([c for _, c, _ in rows])[0]
        norm = mean_sd([b for _, _, b in rows])[0]
        m[v] = (sep, cos, norm)
        ratio = f"{-norm / sep:.3f}" if abs(sep) >= 1e-6 else "-"
        out.append(f"| {v} | {what} | {len(rows)} | {g3(sep)} | {g3(cos)} | {g3(norm)} | {g3(sep + norm)} | {ratio} | "
                   f"{g3(mean_sd(norm_all[v])[0])} |")
    out += ["", "The same runs at their end (means over the seeds; the vibrant ring's spacing is the largest departure "
            "from 60 deg of the angle between neighbouring primaries and secondaries at s = v = 1):", "",
            "| run | visible fold | radius | vibrant spacing off 60 (deg) | planarity | recon MSE (RGB 8^3) |",
            "|---|---|---|---|---|---|"]
    for v, _ in variants:
        ms = finals[v]
        folds = sum(1 for x in ms if x["visible_fold"])
        spacing = [max(abs(abs(d) - 60) for d in x["spacing_deg"]) for x in ms]
        out.append(f"| {v} | {folds}/{len(ms)} | {mean_sd([x['radius_mean'] for x in ms])[0]:.3f} | "
                   f"{g3(mean_sd(spacing)[0])} | {g3(mean_sd([x['planarity_vibrant'] for x in ms])[0])} | "
                   f"{g3(mean_sd([x['recon_mse_validation'] for x in ms])[0])} |")
    out += ["", "Ex 1.7's selective terms (and the same terms on the curriculum variant), each over the samples it "
            "selects: probes where the term was computed (a selective term is skipped when its batch holds none of "
            "its samples), the mean number of rows per probe, and its gradient's parts:", "",
            "| run | term | probes | rows per probe | radial (signed) | abs radial | abs tangential | radial cosine |",
            "|---|---|---|---|---|---|---|---|"]
    for (preset, term), rows in selective.items():
        def mean_of(c):
            return mean_sd([float(r[c]) for r in rows])[0]
        out.append(f"| {preset} | {term} | {len(rows)} | {mean_of('rows'):.1f} | {g3(mean_of('radial'))} | "
                   f"{g3(mean_of('radial_abs'))} | {g3(mean_of('tangential_abs'))} | {g3(mean_of('radial_cosine'))} |")
    (sep, cos, norm), (_, acos, anorm) = m["ex-1.5"], m["ex-1.5-angular"]
    holds = cos > 0.9 and sep < 0 < norm and acos < 0.01 and abs(anorm) < abs(norm) / 10
    summary = (f"| 4 | Euclidean repulsion has radial and tangential parts and fights unitarity; angular repulsion does "
               f"not | {n_seeds} seeds, on the steps where the repulsion acts: Euclidean repulsion's gradient has "
               f"radial cosine {cos:.3f} and pushes outward ({g3(sep)}); unitarity pulls inward on the same steps "
               f"({g3(norm)}), {-norm / sep:.3f} times the push; with angular repulsion (radial cosine {g3(acos)}) "
               f"unitarity's radial part on those steps is {g3(anorm)}, {abs(norm / anorm):.0f} times smaller in size | "
               + ("yes" if holds else "no") + " |")
    return "\n".join(out), summary


def magnitudes(args, seeds):
    """Ex 1.5's logged repulsion, original form against correct, from the conflict study's first seed."""
    seed = seed_list(seeds)[0]
    runs = os.path.join(args.out, "conflict", f"ex-1.5-seed{seed}", "runs")
    original = read_csv(os.path.join(runs, "ex-1.5-original", "metrics.csv"))
    correct = read_csv(os.path.join(runs, "ex-1.5", "metrics.csv"))
    constant = 1e6 / 6
    raw1 = float(original[1]["reg-separate:raw"])
    total = [float(r["total"]) for r in original]
    peak = max(range(len(total)), key=lambda i: total[i])
    above = [i for i, t in enumerate(total) if t >= 1e4]
    values = [(float(r["reg-separate:raw"]), i) for i, r in enumerate(correct) if r["reg-separate:raw"]]
    top, top_step = max(values)
    end = values[-1][0]
    at_peak = float(original[peak]["reg-separate:raw"])
    hexagon = float(original[values[-1][1]]["reg-separate:raw"]) - constant
    out = (f"Seed {seed}. In the original form reg-separate logs {raw1:.8g} at step 1: {constant:.8g} (= 1e6/6, the six "
           f"self-pairs' 1/(0 + 1e-6) over 36 entries, with zero gradient) plus {raw1 - constant:.3g} of geometry. The "
           f"total loss is the weight times that: it is above 1e4 from step {above[0]} to step {above[-1]} (where the "
           f"weight passes {float(original[above[0]]['reg-separate']):.3f}) and peaks at {total[peak]:.4g} at step "
           f"{peak} (weight {float(original[peak]['reg-separate']):.3g}), where the term logs {at_peak:.8g}, "
           f"{100 * constant / at_peak:.4f} % of it the constant. At the phase's last step the geometry is "
           f"{hexagon:.3g} (a unit hexagon gives 35/72 = 0.486 in this form). The correct form's largest logged value "
           f"is {top:.3g} (step {top_step}), and it ends the phase at {end:.4g} (a unit hexagon gives 7/12 = 0.5833).")
    summary = (f"| 1.5/4 | the loss shows values of order 1e4, and they come from the self-pairs | original form: reg-separate "
               f"logs {raw1:.4g} = 1e6/6 + {raw1 - constant:.3g} from step 1; the total is above 1e4 from step {above[0]} "
               f"to {above[-1]} and peaks at {total[peak]:.2g} at step {peak}; the correct form's largest value is "
               f"{top:.2g} (step {top_step}) and it ends at {end:.4g} | yes: at the peak the logged term is "
               f"{100 * constant / at_peak:.4f} % constant; the published \"nearly 10,000\" is the curve's height at "
               f"weight {float(original[above[0]]['reg-separate']):.2f}, not its peak (see Ex 1.5) |")
    return out, summary


# The interventions of milestone 2 (docs/research.md, section 5): (experiment, name, intervene arguments).
M2_INTERVENTIONS = [("ex-2.4.1", "suppress-p0", ["--suppress", "red", "--p", "0"]),
                    ("ex-2.4.1", "suppress-p2", ["--suppress", "red", "--p", "2"]),
                    ("ex-2.4.1", "repel-p0", ["--repel", "red", "--p", "0"]),
                    ("ex-2.4.1", "ablate", ["--ablate", "0"]),
                    ("ex-2.9.1", "ablate", ["--ablate", "0"]),
                    ("ex-2.9.1", "prune", ["--prune", "0"]),
                    ("ex-2.9.1", "suppress-p0", ["--suppress", "red", "--p", "0"])]
BLACK = 0.2  # red's reconstruction counts as black when its brightest channel (HSV value) is at most this


def m2(args, seeds):
    """Milestone 2: suppression and deletion of red, 60 seeds of Ex 2.4.1 and Ex 2.9.1, every intervention."""
    by = sweep(args, "m2", ["ex-2.4.1", "ex-2.9.1"], seeds, folders="full")
    folder = os.path.join(args.out, "m2")
    tables = {}
    for e, name, how in M2_INTERVENTIONS:
        runs = [os.path.join(folder, "runs", f"{r['experiment']}-seed{r['seed']}") for r in by[e]]
        table = os.path.join(folder, f"{e}-{name}.csv")
        run_once(args, os.path.join(folder, f"{e}-{name}"), [args.cli, "intervene", *runs, *how, "--name", f"intervene-{name}",
                                                            "--table", table, "--overwrite", "--quiet"], table)
        tables[(e, name)] = read_csv(table)

    def col(e, name, c):
        return [float(r[c]) for r in tables[(e, name)]]

    def dist(xs):
        m, sd = mean_sd(xs)
        return f"mean {m:.3f} (sd {sd:.3f}), median {quantile(xs, 0.5):.3f}, range {min(xs):.3f}-{max(xs):.3f}"

    def signed(x):
        return f"{x:+.3f}"

    def small(x):
        return "0" if x == 0 else f"{x:+.2g}"

    # Red's reconstruction after deleting dim 0 of Ex 2.9.1, read from each run's colors.csv.
    reds = []
    for r in tables[("ex-2.9.1", "ablate")]:
        rows = read_csv(os.path.join(r["run"], "intervene-ablate", "colors.csv"))
        red = next(x for x in rows if x["set"] == "named" and x["name"] == "red")
        reds.append(tuple(float(red[c]) for c in ("out_r", "out_g", "out_b")))
    n = len(reds)
    black = {t: sum(1 for rgb in reds if max(rgb) <= t) for t in (0.1, BLACK, 0.3)}
    # A run that failed to train: its cube MSE before any intervention far above the rest's.
    before = col("ex-2.9.1", "ablate", "cube_mse_before")
    failed = [int(r["seed"]) for r, b in zip(tables[("ex-2.9.1", "ablate")], before) if b > 100 * quantile(before, 0.5)]

    sup, red_sup, cyan_sup = col("ex-2.4.1", "suppress-p0", "r2"), col("ex-2.4.1", "suppress-p0", "red_dmse"), \
        col("ex-2.4.1", "suppress-p0", "cyan_dmse")
    abl, red_abl, cyan_abl = col("ex-2.9.1", "ablate", "r2"), col("ex-2.9.1", "ablate", "red_dmse"), \
        col("ex-2.9.1", "ablate", "cyan_dmse")
    best_sup = max(range(len(sup)), key=lambda i: sup[i])
    best_abl = max(range(len(abl)), key=lambda i: abl[i])
    m, sd = mean_sd(sup)
    half = Z * sd / math.sqrt(len(sup))
    prune_diff = max(col("ex-2.9.1", "ablate", "ablate_prune_max_abs_diff"))
    same_scores = all(abs(a - b) < 1e-6 for a, b in zip(abl, col("ex-2.9.1", "prune", "r2")))
    best_rgb = reds[best_abl]
    out = [f"Seeds `{seeds}` of each experiment; every intervention on every run (`spheregrad intervene RUN... "
           "--table FILE`). Published values from the paper's 60-seed statistics and its best run's table.", "",
           "| experiment | published (60 seeds) | ours |", "|---|---|---|",
           f"| Ex 2.4.1, suppress red (full projection-out, p = 0), R^2 | mean 0.952, range 0.882-0.991 | {dist(sup)}; "
           f"{sum(1 for x in sup if x >= 0.95)} of {len(sup)} >= 0.95; 95 % interval of the mean {m - half:.3f}-{m + half:.3f} |",
           f"| Ex 2.4.1, suppress red, red dMSE | +0.28 (the best run's table: +0.284) | mean {signed(mean_sd(red_sup)[0])}, "
           f"range {signed(min(red_sup))} .. {signed(max(red_sup))}; {signed(red_sup[best_sup])} at our best run "
           f"(seed {tables[('ex-2.4.1', 'suppress-p0')][best_sup]['seed']}, R^2 {sup[best_sup]:.3f}) |",
           f"| Ex 2.4.1, suppress red, cyan dMSE | about 0 (+0.000) | "
           + (f"exactly 0 in all {len(cyan_sup)} runs" if not any(cyan_sup) else f"largest {max(map(abs, cyan_sup)):.2g}") + " |",
           f"| Ex 2.9.1, ablate dim 0, R^2 | best 0.985 | best {abl[best_abl]:.3f} (seed "
           f"{tables[('ex-2.9.1', 'ablate')][best_abl]['seed']}), {dist(abl)}; {sum(1 for x in abl if x >= 0.95)} of "
           f"{len(abl)} >= 0.95 |",
           f"| Ex 2.9.1, ablate dim 0, red dMSE | +0.34 (about 1/3: red reconstructed as black) | mean "
           f"{signed(mean_sd(red_abl)[0])}, median {signed(quantile(red_abl, 0.5))}, range {signed(min(red_abl))} .. "
           f"{signed(max(red_abl))}; {signed(red_abl[best_abl])} at our best run (red -> "
           f"({best_rgb[0]:.2f}, {best_rgb[1]:.2f}, {best_rgb[2]:.2f})) |",
           f"| Ex 2.9.1, ablate dim 0, red reconstructed as black (its brightest channel <= {BLACK}) | red as black | "
           f"{rate(black[BLACK], n)}; at most 0.1: {black[0.1]}, at most 0.3: {black[0.3]} |",
           f"| Ex 2.9.1, ablate dim 0, cyan dMSE | unchanged | mean {small(mean_sd(cyan_abl)[0])}, at most "
           f"{signed(max(cyan_abl))} (above 1e-3 in {sum(1 for x in cyan_abl if x > 1e-3)} of {len(cyan_abl)}) |",
           f"| Ex 2.9.1, prune dim 0 | same as ablation | " + ("the same scores in every run" if same_scores else
                                                                "scores differ") + f"; outputs differ by at most {prune_diff:.2g} |",
           "", "Beyond the published figures, the same runs give:", "",
           "| intervention | R^2 mean (range) | red dMSE mean | cyan dMSE mean |", "|---|---|---|---|"]
    for e, name, label in [("ex-2.4.1", "suppress-p2", "suppress red, p = 2 (the \"typical\" falloff)"),
                           ("ex-2.4.1", "repel-p0", "repel red, p = 0 (turn to the equator)"),
                           ("ex-2.4.1", "ablate", "ablate dim 0 (no anti-terms: the control)"),
                           ("ex-2.9.1", "suppress-p0", "suppress red, p = 0")]:
        r2 = col(e, name, "r2")
        out.append(f"| Ex {e[3:]}, {label} | {mean_sd(r2)[0]:.3f} ({min(r2):.3f}-{max(r2):.3f}) | "
                   f"{signed(mean_sd(col(e, name, 'red_dmse'))[0])} | {small(mean_sd(col(e, name, 'cyan_dmse'))[0])} |")
    if failed:
        rest = [x for x, r in zip(abl, tables[("ex-2.9.1", "ablate")]) if int(r["seed"]) not in failed]
        out += ["", f"Failed to train (reconstruction MSE before any intervention over 100 times the median): Ex 2.9.1 "
                f"seed{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))}; without "
                f"{'them' if len(failed) > 1 else 'it'} the ablation R^2 mean is {mean_sd(rest)[0]:.3f}."]
    inside = m - half <= 0.952 <= m + half
    rows = [f"| 2.4a | suppression of red: R^2 0.952 mean (0.882-0.991) over 60 seeds | Ex 2.4.1, {len(sup)} seeds, full "
            f"projection-out (p = 0): R^2 {dist(sup)}; 95 % interval of the mean {m - half:.3f}-{m + half:.3f} | "
            + ("yes (the published mean within our interval)" if inside else
               f"{'nearly' if abs(m - 0.952) < 0.01 else 'no'}: the published mean is outside our interval") + " |",
            f"| 2.4b | suppression: red dMSE +0.28, cyan about 0 | red {signed(mean_sd(red_sup)[0])} mean "
            f"({signed(min(red_sup))} .. {signed(max(red_sup))}); cyan "
            + ("exactly 0 in every run" if not any(cyan_sup) else f"at most {max(map(abs, cyan_sup)):.2g}") + " | "
            + ("yes" if min(red_sup) <= 0.28 <= max(red_sup) and max(map(abs, cyan_sup)) < 1e-3 else "partly") + " |",
            f"| 2.9a | deletion: ablating dim 0 of a 5-D bottleneck with 2 nonlinear layers, best R^2 0.985 | Ex 2.9.1, "
            f"{len(abl)} seeds: best {abl[best_abl]:.3f}, {dist(abl)}; pruning gives the same outputs (max "
            f"difference {prune_diff:.2g}) | " + ("yes" if abl[best_abl] >= 0.985 else
                                                  f"nearly (best {abl[best_abl]:.3f} against 0.985)") + " |",
            f"| 2.9b | deletion: red dMSE +0.34 (red reconstructed as black), cyan unchanged | red "
            f"{signed(mean_sd(red_abl)[0])} mean, range {signed(min(red_abl))} .. {signed(max(red_abl))}; red "
            f"reconstructed as black (brightest channel <= {BLACK}) in {black[BLACK]} of {n}; cyan "
            f"{small(mean_sd(cyan_abl)[0])} mean | "
            + (f"yes on average; \"as black\" in {pct(black[BLACK] / n)} % of runs" if abs(mean_sd(red_abl)[0] - 0.34) < 0.03
               else "no") + " |"]
    return "\n".join(out), rows


def ex12(args, seeds, detail_seeds):
    """Ex 1.2, the 2-D wheel with a held-out band: order, gap, final MSE, orientation."""
    rows = sweep(args, "ex12", ["ex-1.2"], seeds)["ex-1.2"]
    detail = sweep(args, "ex12-detail", ["ex-1.2"], detail_seeds, folders="full")["ex-1.2"]
    gaps = []
    out = [f"Seeds `{detail_seeds}` in detail (the trained hues are those at v = 1; the gap is the largest angle between "
           "consecutive trained hues, and the hue it opens after):", "",
           "| seed | trained hues: inversions, winding | largest gap (deg) | after hue | red's angle (deg) | final MSE |",
           "|---|---|---|---|---|---|"]
    for r in detail:
        m = json_metrics(os.path.join(args.out, "ex12-detail", "runs", f"{r['experiment']}-seed{r['seed']}", "summary.json"))
        gaps.append((m["train_gap_deg"], m["train_gap_after_deg"]))
        out.append(f"| {r['seed']} | {r['train_hue_inversions']}, {r['train_hue_winding']} | {m['train_gap_deg']:.1f} | "
                   f"{m['train_gap_after_deg']} | {float(r['red_angle_deg']):.0f} | {float(r['final_recon']):.4f} |")

    def ordered(r):
        return r["train_hue_inversions"] == "0" and abs(int(r["train_hue_winding"])) == 1

    mse = values(rows, "final_recon")
    n = len(rows)
    k_order = count(rows, ordered)
    at_published = sum(1 for x in mse if x >= 0.016)
    # Rayleigh's test of a uniform orientation: z = n R^2, R the length of the mean unit vector of red's angles.
    angles = [math.radians(float(r["red_angle_deg"])) for r in rows]
    R = math.hypot(sum(map(math.cos, angles)), sum(map(math.sin, angles))) / n
    z = n * R * R
    p_uniform = math.exp(-z) * (1 + (2 * z - z * z) / (4 * n) - (24 * z - 132 * z * z + 76 * z ** 3 - 9 * z ** 4) / (288 * n * n))
    p_uniform = min(1.0, max(0.0, p_uniform))  # the series can leave [0, 1] for extreme z
    after = sorted({a for _, a in gaps})
    out += ["", f"Over seeds `{seeds}`: the trained hues in order (0 inversions, winding +-1) in {rate(k_order, n)}; "
            f"final MSE median {median(mse):.4f}, 10th-90th percentile {quantile(mse, 0.1):.4f}-{quantile(mse, 0.9):.4f}, "
            f"{at_published} at or above 0.016 (max {max(mse):.3f}); red's angle: mean resultant length {R:.3f}, "
            f"Rayleigh's test of a uniform orientation {p_is(p_uniform)}."]
    widths = [g for g, _ in gaps]
    rows_out = [
        f"| 1.2a | Ex 1.2: an ordered circle with a gap where teal-blue was held out | {len(detail)} seeds in detail: the "
        f"largest gap opens after hue {', '.join(map(str, after))} (the band is 150-240), {min(widths):.1f}-{max(widths):.1f} "
        f"deg wide for the 91 deg held out; over {n} seeds {rate(k_order, n)} keep the trained hues in order | "
        f"yes, in {pct(k_order / n)} % of runs |",
        f"| 1.2b | Ex 1.2: final MSE 0.0162 | over {n} seeds: median {median(mse):.4f}, 90th percentile "
        f"{quantile(mse, 0.9):.4f}, {at_published} of {n} at or above 0.016 (max {max(mse):.3f}) | "
        + ("yes" if quantile(mse, 0.05) <= 0.0162 <= quantile(mse, 0.95) else "partly") + ": 0.0162 lies "
        + ("within" if quantile(mse, 0.05) <= 0.0162 <= quantile(mse, 0.95) else "beyond")
        + f" our 5th-95th percentiles; the typical run reaches {median(mse) / 0.0162:.0%} of it |",
        f"| 1.2c | Ex 1.2: orientation random per seed | red's angle over {n} seeds: mean resultant length {R:.3f}, "
        f"Rayleigh's test {p_is(p_uniform)} | "
        + ("yes: no preferred orientation" if p_uniform > 0.05 else "no: a preferred orientation") + " |"]
    return "\n".join(out), rows_out


def ex13(args, seeds, detail):
    """Ex 1.3, the 3-D stepped curriculum: the dome and how often it crumples."""
    rows = sweep(args, "ex13", ["ex-1.3"], seeds)["ex-1.3"]
    first = [r for r in rows if int(r["seed"]) in seed_list(detail)]
    out = [f"Seeds `{detail}` (dome height: mean |z_2| of the 360 hues at s = 1, v = 0.5; on one side: the share of "
           "that displacement on the side the majority takes):", "",
           "| seed | any inversion (36 / 360) | visible fold | radius | planarity (vibrant) | dome height | dome on one side |",
           "|---|---|---|---|---|---|---|"]
    for r in first:
        def inv(flag, k):
            return f"yes ({r[k]})" if r[flag] == "1" else "no"
        out.append(f"| {r['seed']} | {inv('crumpled_36', 'hue_inversions_36')} / {inv('crumpled', 'hue_inversions')} | "
                   f"{'yes' if visible(r) else 'no'} | {float(r['radius_mean']):.2f} | {float(r['planarity_vibrant']):.3f} | "
                   f"{float(r['dome_height']):.2f} | {float(r['dome_consistency']):.2f} |")
    n = len(rows)
    one_side = [r for r in rows if float(r["dome_consistency"]) >= 0.9]
    heights = values(one_side, "dome_height")
    radius = values(rows, "radius_mean")
    kv, ki = count(rows, visible), count(rows, crumpled_36)
    out += ["", f"Over seeds `{seeds}`: a dome on one side (at least 90 % of the displacement) in {rate(len(one_side), n)}, "
            f"its height median {median(heights):.2f} (10th-90th percentile {quantile(heights, 0.1):.2f}-"
            f"{quantile(heights, 0.9):.2f}); a visible fold in {rate(kv, n)}, any inversion at 36 hues in {rate(ki, n)}; "
            f"radius {quantile(radius, 0.1):.2f}-{quantile(radius, 0.9):.2f} (10th-90th percentile)."]
    rows_out = [
        f"| 1.3a | Ex 1.3: a dome | {n} seeds: darker hues (v = 0.5) lie on one side of the hue plane in "
        f"{rate(len(one_side), n)}, {median(heights):.2f} off the plane (median of mean |z_2|) | "
        + ("yes" if len(one_side) / n > 0.5 else "no") + " |",
        f"| 1.3b | Ex 1.3: very sensitive to curriculum hyperparameters | with the published hyperparameters fixed, "
        f"{n} seeds: the vibrant wheel has an inversion at 36 hues in {rate(ki, n)}; a fold of 10 deg or more on one of "
        f"the three rings in {rate(kv, n)}; radius {quantile(radius, 0.1):.2f}-{quantile(radius, 0.9):.2f}, not the "
        f"unit sphere | sensitive even to the seed |"]
    return "\n".join(out), rows_out


def curriculum_rows(final):
    """Summary rows read off the curriculum study's final states: Ex 1.5, 1.6 and 1.7 as published."""
    def clean(rows):
        return [r for r in rows if not visible(r)]

    e15, smooth, stepped, e17 = final["ex-1.5"], final["ex-1.6-smooth"], final["ex-1.6-stepped"], final["ex-1.7"]
    n = len(e15)
    c15 = clean(e15)
    ks, kt = count(smooth, visible), count(stepped, visible)
    d, lo, hi = mean_difference(values(smooth, "recon_mse_validation"), values(stepped, "recon_mse_validation"))
    fold_worse = fisher(ks, len(smooth), kt, len(stepped)) < 0.05 and ks > kt
    recon_worse = lo > 0
    both_clean = [(a, b) for a, b in zip(smooth, stepped) if not visible(a) and not visible(b)]
    shape = []
    for column, label in [("radius_mean", "radius"), ("spacing_error_deg", "spacing off 60 (deg)"),
                          ("planarity_vibrant", "planarity")]:
        dd, l2, h2 = mean_difference([float(a[column]) for a, _ in both_clean], [float(b[column]) for _, b in both_clean])
        shape.append(f"{label} {g3(dd)} [{g3(l2)}, {g3(h2)}]")
    k17 = count(e17, visible)
    i17 = count(e17, crumpled_36)
    return [
        f"| 1.5 | Ex 1.5: a sphere-like space | {n} seeds: radius {mean_sd(values(e15, 'radius_mean'))[0]:.3f} (spread "
        f"{mean_sd(values(e15, 'radius_std'))[0]:.3f}); {rate(len(c15), n)} without a visible fold, their vibrant primaries "
        f"{median(values(c15, 'spacing_min_deg')):.1f}-{median(values(c15, 'spacing_max_deg')):.1f} deg apart (medians of "
        f"the smallest and largest angle), recon {median(values(c15, 'recon_mse_validation')):.2g} | "
        "yes, when it does not fold |",
        f"| 1.6b | the spikes are defused by the lr warm-up | the stepped runs recover: {rate(len(stepped) - kt, len(stepped))} "
        f"end without a visible fold, recon {mean_sd(values(stepped, 'recon_mse_validation'))[0]:.2g} on average | "
        "yes (the spikes still happen: 1.6a) |",
        f"| 1.6c | smooth is no better | {len(smooth)} seeds each: visible folds smooth {pct(ks / len(smooth))} % vs "
        f"stepped {pct(kt / len(stepped))} % (Fisher {p_is(fisher(ks, len(smooth), kt, len(stepped)))}); recon "
        f"smooth minus stepped {g3(d)} [{g3(lo)}, {g3(hi)}] | "
        + ("yes -- smooth is worse" if fold_worse or recon_worse else "yes -- no better, no worse") + " |",
        f"| 1.6e | final shapes nearly identical | the {len(both_clean)} seeds where neither schedule folds: smooth minus "
        f"stepped " + "; ".join(shape) + f"; where one folds the shapes differ ({len(smooth) - len(both_clean)} seeds) | "
        "mostly: alike when neither folds |",
        f"| 1.7 | Ex 1.7: smooth sphere, wheel in dims 0-1, red on top; never crumpled | {len(e17)} seeds: radius "
        f"{mean_sd(values(e17, 'radius_mean'))[0]:.3f}, red cos {mean_sd(values(e17, 'red_cosine'))[0]:.3f} on average, "
        f"planarity {mean_sd(values(e17, 'planarity_vibrant'))[0]:.3f}; all Ex 1.8 criteria in "
        f"{rate(count(e17, all_criteria), len(e17))}; visible folds {k17}, an inversion at 36 hues in {i17} (folds under "
        f"{max(values(e17, 'fold_deg')):.1f} deg) | " + ("yes (no visible fold)" if k17 == 0 else "no") + " |"]


def read_latents(path):
    """The last snapshot of a run's latents.npy (float32, shape (snapshots, 512, k)) as 512 rows of k floats."""
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[8:10], "little")
    shape = ast.literal_eval(data[10:10 + size].decode("latin1"))["shape"]
    k = shape[-1]
    body = data[10 + size:]
    last = struct.unpack(f"<{512 * k}f", body[len(body) - 4 * 512 * k:])
    return [last[i * k:(i + 1) * k] for i in range(512)]


def cube_likeness(z):
    """Whether a latent cloud keeps the RGB cube's shape: over the 296 colors on the surface of the RGB 8^3 cube, the
    Pearson correlation of |z| with the color's distance from the cube's center (1 at a face center, sqrt 3 at a
    corner). A sphere puts every color at the same radius (about 0); a linear image of the cube gives about 1."""
    norms, dist = [], []
    for i, zi in enumerate(z):
        c = (i // 64, (i // 8) % 8, i % 8)
        if 0 in c or 7 in c:
            norms.append(math.sqrt(sum(v * v for v in zi)))
            dist.append(math.sqrt(sum((2 * x / 7 - 1) ** 2 for x in c)))
    mn, md = sum(norms) / len(norms), sum(dist) / len(dist)
    cov = sum((a - mn) * (b - md) for a, b in zip(norms, dist))
    return cov / math.sqrt(sum((a - mn) ** 2 for a in norms) * sum((b - md) ** 2 for b in dist))


def cube(args, seeds):
    """Ex 1.8's "a single unitarity term gives a more cube-like shape": each of Ex 1.7's two unitarity terms alone."""
    by_without = {}
    rows = sweep(args, "cube", ["ex-1.7"], seeds, ["--ablations", "none;reg-norm-v;reg-norm"], folders="full")["ex-1.7"]
    for r in rows:
        folder = r["experiment"] + (f"-without-{r['without']}" if r["without"] else "") + f"-seed{r['seed']}"
        z = read_latents(os.path.join(args.out, "cube", "runs", folder, "latents.npy"))
        by_without.setdefault(r["without"], []).append((cube_likeness(z), float(r["radius_std"])))
    full = by_without[""]
    out = [f"Seeds `{seeds}`: Ex 1.7 with both unitarity terms, with reg-norm alone (reg-norm-v dropped) and with "
           "reg-norm-v alone (reg-norm dropped). Cube-likeness = the correlation, over the colors on the surface of the "
           "RGB 8^3 cube, of |z| with the color's distance from the cube's center (about 0 on a sphere, about 1 for a "
           "linear image of the cube); radius spread = sd of |z| over the whole cube. Means, and the difference from "
           "both terms with its 95 % interval:", "",
           "| unitarity | cube-likeness | difference [95% CI] | radius spread | difference [95% CI] |", "|---|---|---|---|---|"]
    verdict = {}
    for without, label in [("", "both terms"), ("reg-norm-v", "reg-norm alone (all samples)"),
                           ("reg-norm", "reg-norm-v alone (vibrant samples)")]:
        g = by_without[without]
        cells = []
        for i in (0, 1):
            xs, ys = [x[i] for x in g], [x[i] for x in full]
            if without:
                d, lo, hi = mean_difference(xs, ys)
                cells.append(f"{g3(mean_sd(xs)[0])} | {g3(d)} [{g3(lo)}, {g3(hi)}]")
                if i == 0:
                    verdict[label] = (d, lo > 0)
            else:
                cells.append(f"{g3(mean_sd(xs)[0])} | -")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    def mean_of(w):
        return mean_sd([x[0] for x in by_without[w]])[0]

    # Cube-like: the radius follows the cube's (a correlation above 0.5); otherwise "rounder or not" only.
    cube_like = [l for w, l in [("reg-norm-v", "reg-norm alone"), ("reg-norm", "reg-norm-v alone")]
                 if mean_of(w) > 0.5 and verdict[next(k for k in verdict if k.startswith(l))][1]]
    slightly = [l for w, l in [("reg-norm-v", "reg-norm alone"), ("reg-norm", "reg-norm-v alone")]
                if l not in cube_like and verdict[next(k for k in verdict if k.startswith(l))][1]]
    summary = ("| 1.8f | a single unitarity term gives a more cube-like shape | " + f"{len(full)} seeds, cube-likeness of "
               f"the latent cloud (see Ex 1.8): both terms {g3(mean_sd([x[0] for x in full])[0])}; "
               + "; ".join(f"{l} {g3(mean_sd([x[0] for x in by_without[w]])[0])}" for w, l in
                           [("reg-norm-v", "reg-norm alone"), ("reg-norm", "reg-norm-v alone")])
               + " | " + ("yes for " + " and ".join(cube_like) if cube_like else "no")
               + ("; " + " and ".join(slightly) + ": less round beyond chance, but still a sphere" if slightly else "") + " |")
    return "\n".join(out), summary


# ---------------------------------------------------------------- the document

def replace_regions(text, parts, prefix="findings"):
    """Each part's body between its markers <!-- PREFIX:NAME begin --> and <!-- PREFIX:NAME end -->."""
    for name, body in parts.items():
        pattern = re.compile(r"(<!-- %s:%s begin -->\n).*?(<!-- %s:%s end -->)" % (prefix, name, prefix, name), re.S)
        if not pattern.search(text):
            sys.exit(f"{prefix}: the document has no region '{name}' (<!-- {prefix}:{name} begin --> ... end -->)")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def rewrite_document(args, parts, prefix):
    """args.doc with its regions replaced, to args.write (or over args.doc), atomically. The document is
    read only now, after the runs, so that prose edited meanwhile is kept."""
    with open(args.doc) as f:
        text = replace_regions(f.read(), parts, prefix)
    target = args.write or args.doc
    with open(target + ".tmp", "w") as f:
        f.write(text)
    os.replace(target + ".tmp", target)
    print(f"{prefix}: wrote {target}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default="build/spheregrad")
    p.add_argument("--doc", default="docs/findings.md", help="the document whose regions are rewritten")
    p.add_argument("--write", help="write the result here instead of over --doc")
    p.add_argument("--out", default="out/findings", help="the studies' sweep folders")
    p.add_argument("--seeds", default="0-199", help="seeds of the crumple studies")
    p.add_argument("--midway-seeds", default="0-99", help="seeds of the Ex 1.6 midway study")
    p.add_argument("--spike-seeds", default="0-49", help="seeds of the Ex 1.6 loss-spike study (run folders kept)")
    p.add_argument("--ablation-seeds", default="0-4", help="seeds of each of Ex 1.8's 31 subsets")
    p.add_argument("--ablation-test-seeds", default="0-99", help="seeds of each regularizer dropped alone")
    p.add_argument("--conflict-seeds", default="0-19", help="seeds of the repulsion-conflict gradient probes")
    p.add_argument("--m2-seeds", default="0-59", help="seeds of the milestone-2 interventions (as published: 60)")
    p.add_argument("--ex12-detail-seeds", default="0-9", help="seeds shown one by one for Ex 1.2 and Ex 1.3")
    p.add_argument("--cube-seeds", default="0-49", help="seeds of the single-unitarity-term study")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--reuse", action="store_true",
                   help="reuse a study's table made by the same command (for editing the document; make findings "
                        "never passes it, as a new build may measure differently)")
    args = p.parse_args()
    args.cli = os.path.join(".", os.path.normpath(args.cli))  # one spelling, so that --reuse recognizes a command
    table, final, cur_row = curriculum(args, args.seeds)
    origin_table, origin_row = origin(args, args.seeds, final)
    midway_table, midway_row = midway(args, args.midway_seeds)
    ablation_table, ablation_rows = ablations(args, args.ablation_seeds, args.ablation_test_seeds, final)
    ex17_table, ex17_row = ex17(args, final)
    constant_table, constant_row = constant_weights(args, args.midway_seeds, final)
    gently_table, gently_row = gently(args, args.seeds, final)
    spikes_table, spikes50_table, spikes_row = spikes(args, args.spike_seeds)
    soft_table, soft_row = soft(args, args.seeds, final)
    conflict_table, conflict_row = conflict(args, args.conflict_seeds)
    magnitudes_text, magnitudes_row = magnitudes(args, args.conflict_seeds)
    m2_table, m2_rows = m2(args, args.m2_seeds)
    ex12_table, ex12_rows = ex12(args, args.seeds, args.ex12_detail_seeds)
    ex13_table, ex13_rows = ex13(args, args.midway_seeds, args.ex12_detail_seeds)
    cube_table, cube_row = cube(args, args.cube_seeds)
    e15, e16b, e16c, e16e, e17 = curriculum_rows(final)
    rows = [*ex12_rows, *ex13_rows, magnitudes_row, conflict_row, e15, spikes_row, e16b, e16c, midway_row, e16e, e17,
            ex17_row, *ablation_rows, cube_row, cur_row, origin_row, constant_row, gently_row, soft_row, *m2_rows]
    summary = "| # | claim (as published) | measured | holds? |\n|---|---|---|---|\n" + "\n".join(rows)
    parts = {"summary": summary, "ex17": ex17_table, "constant": constant_table, "gently": gently_table, "spikes": spikes_table, "spikes50": spikes50_table, "soft": soft_table, "ablations": ablation_table,
             "curriculum": table, "origin": origin_table, "midway": midway_table,
             "epoch": epochs(args, args.seeds, final), "conflict": conflict_table, "magnitudes": magnitudes_text, "m2": m2_table, "ex12": ex12_table, "ex13": ex13_table, "cube": cube_table, "pictures": pictures(args, final)}
    rewrite_document(args, parts, "findings")


if __name__ == "__main__":
    main()
