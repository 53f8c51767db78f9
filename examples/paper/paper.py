#!/usr/bin/python3
"""Reproduces the paper "Sparse Concept Anchoring" (docs/paper.md) from runs.

    make paper          # 60 seeds of each of the five experiments, into docs/paper.md and docs/paper/
    make paper-check    # 4 seeds each, into build/paper-check.md (make test runs it)

For each experiment (Ex 2.4.1, 2.5.1, 2.7.1, 2.9.1, 2.10.1): a sweep of seeds with run folders,
its interventions on every run (`spheregrad intervene --table`), the paper's model selection (the
Pareto front over validation reconstruction MSE, validation organization loss and the score; the
highest score on the front is the chosen model), and from those the document's generated regions
(<!-- paper:NAME begin/end -->): the score distributions beside the published ones with a test, the
three per-color tables with all 17 colors, the paper's textual claims each with a verdict, and the
figures of every chosen model and intervention. Everything else in docs/paper.md is prose, left as
written. Runs are deterministic, so a second run on the same build leaves the document and its
figures byte-identical. Standard library only; the statistics and the run helpers are shared with
examples/findings/findings.py.
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "findings"))
import findings as F  # noqa: E402  (the shared statistics, run_once, sweep, read_csv, json_metrics)

COLORS = ["red", "orange", "yellow", "lime", "green", "teal", "cyan", "azure", "blue", "purple", "magenta", "pink",
          "black", "dark gray", "gray", "light gray", "white"]

# Each experiment: the score's arguments, the interventions (name, intervene arguments), the one the
# model is selected by, and the published 60-seed statistics (score min, mean, max, sd or None, front size).
EXPERIMENTS = {
    "ex-2.4.1": {"title": "anchored", "score": ["--score-power", "2"],
                 "interventions": [("suppression", ["--suppress", "red", "--p", "0"]), ("ablation", ["--ablate", "0"])],
                 "selected_by": "suppression", "published": (0.882, 0.952, 0.991, 0.024, "4"),
                 "chosen": {"suppression": 0.99, "ablation": 0.37}},
    "ex-2.5.1": {"title": "single anchor", "score": ["--score-power", "2"],
                 "interventions": [("suppression", ["--suppress", "red", "--p", "0"]), ("ablation", ["--ablate", "0"])],
                 "selected_by": "suppression", "published": (0.851, 0.923, 0.976, None, "8"),
                 "chosen": {"suppression": 0.98, "ablation": 0.47}},
    "ex-2.7.1": {"title": "hue subspace", "score": ["--concept", "vibrancy", "--score-power", "2.3"],
                 "interventions": [("ablation", ["--ablate", "0,1"]), ("suppression", ["--zero", "0,1"])],
                 "selected_by": "ablation", "published": (0.616, 0.825, 0.912, None, "44"),
                 "chosen": {"ablation": 0.93, "suppression": 0.89}},
    "ex-2.9.1": {"title": "isolated", "score": ["--score-power", "3"],
                 "interventions": [("ablation", ["--ablate", "0"]), ("pruning", ["--prune", "0"]),
                                   ("suppression", ["--suppress", "red", "--p", "0"])],
                 "selected_by": "ablation", "published": (0.062, 0.857, 0.985, 0.154, "22-33"),
                 "chosen": {"ablation": 0.985, "pruning": 0.99, "suppression": 0.98}},
    "ex-2.10.1": {"title": "isolated without anti-anchor", "score": ["--score-power", "3"],
                  "interventions": [("ablation", ["--ablate", "0"])],
                  "selected_by": "ablation", "published": (0.038, 0.850, 0.977, 0.141, "52"),
                  "chosen": {"ablation": 0.95}},
}

# The paper's per-color tables (MSE of the chosen model; intervention columns: the change from its baseline).
PUBLISHED_TABLES = {
    "table1": [("ex-2.4.1", "baseline"), ("ex-2.4.1", "suppression"), ("ex-2.4.1", "ablation"),
               ("ex-2.9.1", "suppression"), ("ex-2.9.1", "ablation")],
    "table2": [("ex-2.5.1", "baseline"), ("ex-2.5.1", "suppression"), ("ex-2.5.1", "ablation")],
    "table3": [("ex-2.7.1", "baseline"), ("ex-2.7.1", "suppression"), ("ex-2.7.1", "ablation")],
}
PUBLISHED = {  # color -> values in the order of the table's columns
    "table1": {
        "red": (0.000646, 0.283566, 0.332687, 0.213170, 0.343180), "orange": (0.000063, 0.153663, 0.137482, 0.127903, 0.143432),
        "yellow": (0.000411, 0.045808, 0.030973, 0.036188, 0.024397), "lime": (0.000108, 0.0, 0.000006, 0.000436, 0.000427),
        "green": (0.000220, 0.0, 0.034676, 0.000541, 0.000510), "teal": (0.000001, 0.0, 0.140236, 0.000167, 0.000167),
        "cyan": (0.001273, 0.0, 0.341103, -0.000029, -0.000029), "azure": (0.000013, 0.0, 0.152602, 0.000082, 0.000082),
        "blue": (0.000310, 0.0, 0.034144, 0.000046, 0.000045), "purple": (0.000053, 0.0, 0.000002, 0.000006, 0.000006),
        "magenta": (0.000249, 0.048394, 0.034419, 0.010696, 0.009267), "pink": (0.000201, 0.157893, 0.148011, 0.103092, 0.124145),
        "black": (0.0, 0.000010, 0.000008, 0.000569, 0.000541), "dark gray": (0.000122, 0.000156, 0.000154, 0.000477, 0.000476),
        "gray": (0.000064, -0.000057, -0.000057, 0.000757, 0.000750), "light gray": (0.000019, -0.000007, -0.000007, 0.002422, 0.002489),
        "white": (0.000109, -0.000093, -0.000094, 0.000634, 0.000617)},
    "table2": {
        "red": (0.000570, 0.233233, 0.333869), "orange": (0.000023, 0.119690, 0.137202), "yellow": (0.000037, 0.040287, 0.029353),
        "lime": (0.000014, 0.0, 0.0), "green": (0.000109, 0.0, 0.025527), "teal": (0.000031, 0.0, 0.135105),
        "cyan": (0.000125, 0.0, 0.247848), "azure": (0.000082, 0.0, 0.132055), "blue": (0.000121, 0.0, 0.024473),
        "purple": (0.000014, 0.000167, 0.000165), "magenta": (0.000279, 0.041149, 0.030989), "pink": (0.0, 0.120681, 0.132281),
        "black": (0.000528, 0.004112, 0.003650), "dark gray": (0.000019, 0.001252, 0.001274), "gray": (0.000056, 0.000024, 0.000024),
        "light gray": (0.000011, 0.0, 0.000791), "white": (0.000166, 0.0, 0.001297)},
    "table3": {
        "red": (0.000792, 0.181123, 0.332541), "orange": (0.000019, 0.123888, 0.155590), "yellow": (0.000705, 0.174233, 0.317164),
        "lime": (0.000051, 0.144522, 0.159756), "green": (0.000586, 0.223323, 0.312581), "teal": (0.000006, 0.190066, 0.173706),
        "cyan": (0.000943, 0.260203, 0.314469), "azure": (0.000171, 0.215764, 0.181120), "blue": (0.000535, 0.270747, 0.332799),
        "purple": (0.000002, 0.195608, 0.189248), "magenta": (0.000382, 0.240461, 0.252689), "pink": (0.000018, 0.151000, 0.186851),
        "black": (0.000392, 0.000496, 0.000456), "dark gray": (0.000070, 0.000235, 0.000227), "gray": (0.000054, 0.000238, 0.000235),
        "light gray": (0.000010, 0.000231, 0.000229), "white": (0.000089, 0.001026, 0.000954)},
}


def pareto_front(runs):
    """The runs no other run dominates on (lower validation MSE, lower organization loss, higher score)."""
    def dominates(a, b):
        no_worse = a["mse"] <= b["mse"] and a["org"] <= b["org"] and a["score"] >= b["score"]
        better = a["mse"] < b["mse"] or a["org"] < b["org"] or a["score"] > b["score"]
        return no_worse and better
    return [r for r in runs if not any(dominates(o, r) for o in runs if o is not r)]


def study(args, experiment):
    """One experiment: its sweep, every intervention on every run, the front and the chosen run."""
    spec = EXPERIMENTS[experiment]
    rows = F.sweep(args, experiment, [experiment], args.seeds, folders="full")[experiment]
    folder = os.path.join(args.out, experiment)
    runs = [os.path.join(folder, "runs", f"{r['experiment']}-seed{r['seed']}") for r in rows]
    tables = {}
    for name, how in spec["interventions"]:
        table = os.path.join(folder, f"{name}.csv")
        F.run_once(args, os.path.join(folder, name), [args.cli, "intervene", *runs, *how, *spec["score"], "--name",
                                                      f"paper-{name}", "--table", table, "--overwrite", "--quiet"], table)
        tables[name] = {r["seed"]: r for r in F.read_csv(table)}
    scored = []
    for r, run in zip(rows, runs):
        metrics = F.json_metrics(os.path.join(run, "summary.json"))
        scored.append({"seed": r["seed"], "run": run, "mse": metrics["recon_mse_validation"],
                       "org": metrics["organization_validation"],
                       "score": float(tables[spec["selected_by"]][r["seed"]]["r2"]),
                       "scores": {name: float(t[r["seed"]]["r2"]) for name, t in tables.items()}})
    front = pareto_front(scored)
    chosen = max(front, key=lambda r: (r["score"], -int(r["seed"])))
    return {"runs": scored, "front": front, "chosen": chosen, "tables": tables}


def expected_front(n, objectives):
    """The expected Pareto-front size of n runs whose objectives are independent and continuous:
    A(n, 1) = 1, A(n, d) = sum over i <= n of A(i, d - 1) / i (A(n, 2) is the harmonic number H_n)."""
    a = [1.0] * (n + 1)
    for _ in range(objectives - 1):
        total, b = 0.0, [0.0] * (n + 1)
        for i in range(1, n + 1):
            total += a[i] / i
            b[i] = total
        a = b
    return a[n]


def fronts(studies):
    """Why the fronts differ in size: ours on three objectives and on two, beside what independent
    objectives give, and the objectives' correlations; and whether the chosen run depends on the front."""
    n = len(next(iter(studies.values()))["runs"])
    out = [f"Front sizes over the {n} runs of each experiment: the published front, ours (three objectives), ours "
           "without the organization loss (validation MSE and the score only), ours with one objective's sense "
           "reversed (what a sign slip would give), and the size expected when the "
           f"objectives are independent ({expected_front(n, 2):.1f} for two, {expected_front(n, 3):.1f} for three, "
           f"{expected_front(n, 4):.1f} for four, {expected_front(n, 5):.1f} for five). Then the Pearson "
           "correlations of our objectives over the runs (a negative one between two things both wanted is a "
           "trade-off, which enlarges a front), and whether the chosen run is the best-scoring run of all.", "",
           "| experiment | front: published | ours | ours, MSE and score only | ours with the organization loss / "
           "the MSE / the score reversed | corr(MSE, org) | corr(MSE, score) | corr(org, score) | chosen = best "
           "score of all? |", "|---|---|---|---|---|---|---|---|---|"]
    for e, s in studies.items():
        runs = s["runs"]
        # The other readings: one objective's sense reversed (a sign slip), or the organization loss left out.
        flipped = {k: len(pareto_front([{**r, k: -r[k]} for r in runs])) for k in ("org", "mse", "score")}
        two = len(pareto_front([{**r, "org": 0.0} for r in runs]))
        mse, org, score = ([r[k] for r in runs] for k in ("mse", "org", "score"))
        best = max(runs, key=lambda r: (r["score"], -int(r["seed"])))
        out.append(f"| {e} | {EXPERIMENTS[e]['published'][4]} | {len(s['front'])} | {two} | {flipped['org']} / "
                   f"{flipped['mse']} / {flipped['score']} | {correlation(mse, org):+.2f} | "
                   f"{correlation(mse, score):+.2f} | {correlation(org, score):+.2f} | "
                   f"{'yes' if best is s['chosen'] else 'no'} |")
    return "\n".join(out)


def tails(args, studies):
    """The isolated models' lower tails on more seeds: the first runs and --tail-seeds more, scored by
    ablation. The extra runs' folders are removed once their table is written (they take 2.5 MB each)."""
    out = [f"The isolated models on seeds `{args.seeds}` and `{args.tail_seeds}`, scored by ablation as above. "
           "Our mean with its 95 % interval beside the published; the spread, the worst run, how many runs "
           "score at or below the published minimum, and from that rate the chance that a sample of "
           f"{len(studies['ex-2.9.1']['runs'])} runs includes one (1 - (1 - rate)^n); the share of failed runs "
           "(score below 0.5).", "",
           "| experiment | runs | published mean (sd), min | our mean [95 % interval] (sd) | published mean inside? "
           "| our min | runs <= published min | chance in a sample of the paper's size | runs below 0.5 |",
           "|---|---|---|---|---|---|---|---|---|"]
    for e in ("ex-2.9.1", "ex-2.10.1"):
        spec = EXPERIMENTS[e]
        name, how = next((n, h) for n, h in spec["interventions"] if n == spec["selected_by"])
        folder = os.path.join(args.out, "tails", e)
        table = os.path.join(folder, f"{name}.csv")
        runs = [os.path.join(folder, "runs", f"{e}-seed{seed}") for seed in F.seed_list(args.tail_seeds)]
        command = [args.cli, "intervene", *runs, *how, *spec["score"], "--name", f"paper-{name}", "--table", table,
                   "--overwrite", "--quiet"]
        if not F.reusable(args, os.path.join(folder, name), command, table):
            fresh = argparse.Namespace(**{**vars(args), "reuse": False})  # the runs were removed
            F.sweep(fresh, os.path.join("tails", e), [e], args.tail_seeds, folders="full")
            F.run_once(fresh, os.path.join(folder, name), command, table)
            shutil.rmtree(os.path.join(folder, "runs"))
        xs = [r["score"] for r in studies[e]["runs"]] + [float(r["r2"]) for r in F.read_csv(table)]
        n, sample = len(xs), len(studies[e]["runs"])
        m, sd = F.mean_sd(xs)
        half = F.Z * sd / n ** 0.5
        lo, mean_p, _, sd_p, _ = spec["published"]
        low = sum(1 for x in xs if x <= lo)
        chance = 1 - (1 - low / n) ** sample
        out.append(f"| {e} | {n} | {mean_p:.3f} ({sd_p:.3f}), {lo:.3f} | {m:.3f} [{m - half:.3f}, {m + half:.3f}] "
                   f"({sd:.3f}) | {'yes' if m - half <= mean_p <= m + half else 'no'} | {min(xs):.3f} | {low} | "
                   f"{pct(chance)} % | "
                   f"{F.rate(sum(1 for x in xs if x < 0.5), n)} |")
    return "\n".join(out)


def named(run, intervention=None):
    """The 17 named colors' MSE (baseline) or dMSE (an intervention) of one run."""
    if intervention is None:
        return F.json_metrics(os.path.join(run, "summary.json"))["recon_mse_named"]
    with open(os.path.join(run, f"paper-{intervention}", "summary.json")) as f:
        data = json.load(f)["named"]
    return {c: data[c]["dmse"] for c in COLORS}


def distributions(args, studies):
    out = [f"Seeds `{args.seeds}` of each experiment. The score of the intervention each is selected by, over all "
           "runs: ours beside the published (min / mean / max, sd); the test: is the published mean inside the 95 % "
           "interval of our mean (t interval, normal approximation)? Then the Pareto front's size and the chosen run's "
           "scores.", "",
           "| experiment | score of | published min / mean / max (sd) | ours min / mean / max (sd) | 95 % interval of "
           "our mean | published mean inside? | front: published / ours | chosen: published | chosen: ours (seed) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for e, s in studies.items():
        spec = EXPERIMENTS[e]
        xs = [r["score"] for r in s["runs"]]
        m, sd = F.mean_sd(xs)
        half = F.Z * sd / len(xs) ** 0.5
        lo, mean_p, hi, sd_p, front_p = spec["published"]
        pub = f"{lo:.3f} / {mean_p:.3f} / {hi:.3f}" + (f" ({sd_p:.3f})" if sd_p else "")
        chosen_p = ", ".join(f"{k} {v:g}" for k, v in spec["chosen"].items())
        chosen = s["chosen"]
        ours_chosen = ", ".join(f"{k} {v:.3f}" for k, v in chosen["scores"].items())
        out.append(f"| {e} ({spec['title']}) | {spec['selected_by']} | {pub} | {min(xs):.3f} / {m:.3f} / {max(xs):.3f} "
                   f"({sd:.3f}) | {m - half:.3f} - {m + half:.3f} | {'yes' if m - half <= mean_p <= m + half else 'no'} | "
                   f"{front_p} / {len(s['front'])} | {chosen_p} | {ours_chosen} ({chosen['seed']}) |")
    return "\n".join(out)


def correlation(xs, ys):
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return sxy / (sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5


def per_color_table(name, studies):
    columns = PUBLISHED_TABLES[name]
    header = "| color | " + " | ".join(f"{e[3:]} {what}: published / ours" for e, what in columns) + " |"
    out = [header, "|---|" + "---|" * len(columns)]
    ours = {}
    for e, what in columns:
        run = studies[e]["chosen"]["run"]
        ours[(e, what)] = named(run, None if what == "baseline" else what)
    for color in COLORS:
        cells = [f"{p:.6f} / {ours[c][color]:.6f}" for c, p in zip(columns, PUBLISHED[name][color])]
        out.append(f"| {color} | " + " | ".join(cells) + " |")
    seeds = ", ".join(f"{e} seed {studies[e]['chosen']['seed']}" for e in dict.fromkeys(e for e, _ in columns))
    out += ["", f"Ours: the chosen runs ({seeds}); MSE of the baseline, and each intervention's change from it. "
            "How each column agrees over the 17 colors: the Pearson correlation of published and ours, and the "
            "largest difference (ours minus published):", "", "| column | correlation | largest difference |",
            "|---|---|---|"]
    for i, c in enumerate(columns):
        pub = [PUBLISHED[name][color][i] for color in COLORS]
        mine = [ours[c][color] for color in COLORS]
        worst = max(range(len(COLORS)), key=lambda j: abs(mine[j] - pub[j]))
        out.append(f"| {c[0][3:]} {c[1]} | {correlation(pub, mine):.3f} | {mine[worst] - pub[worst]:+.4f} "
                   f"({COLORS[worst]}) |")
    return "\n".join(out)


def pct(x):
    return f"{100 * x:.0f}"


def claims(studies):
    """The paper's textual claims, each with our number and a verdict."""
    def scores(e, what):
        return [r["scores"][what] for r in studies[e]["runs"]]

    def chosen_dmse(e, what, color):
        return named(studies[e]["chosen"]["run"], what)[color]

    sup = F.mean_sd(scores("ex-2.4.1", "suppression"))
    abl = F.mean_sd(scores("ex-2.9.1", "ablation"))
    rows = ["| claim (as published) | ours | holds? |", "|---|---|---|"]
    rows.append(f"| suppression R^2 0.95 +- 0.02 across runs (2.4.1) | {sup[0]:.3f} +- {sup[1]:.3f} | "
                + ("yes" if abs(sup[0] - 0.95) <= 0.02 else "no") + " |")
    rows.append(f"| ablation R^2 0.86 +- 0.15 across runs (2.9.1) | {abl[0]:.3f} +- {abl[1]:.3f} | "
                + ("yes" if abs(abl[0] - 0.86) <= 0.05 else "no") + " |")
    red_sup = {e: chosen_dmse(e, "suppression", "red") for e in ("ex-2.4.1", "ex-2.5.1", "ex-2.9.1")}
    rows.append("| suppression sends red toward the decoder's bias output: MSE about 1/4 | red dMSE of the chosen "
                "models: " + ", ".join(f"{e[3:]} {v:.3f}" for e, v in red_sup.items()) + " | "
                + ("yes" if all(0.15 <= v <= 0.3 for v in red_sup.values()) else "partly") + " |")
    red_abl = {e: chosen_dmse(e, "ablation", "red") for e in ("ex-2.4.1", "ex-2.5.1", "ex-2.9.1", "ex-2.10.1")}
    rows.append("| ablation to a random on-sphere direction: red's expected MSE 1/3 | red dMSE of the chosen models: "
                + ", ".join(f"{e[3:]} {v:.3f}" for e, v in red_abl.items()) + f"; mean over the 2.9.1 runs "
                f"{F.mean_sd([named(r['run'], 'ablation')['red'] for r in studies['ex-2.9.1']['runs']])[0]:.3f} | "
                + ("yes" if all(0.2 <= v <= 0.45 for v in red_abl.values()) else "partly") + " |")
    # Cyan counts as spared by an ablation when its MSE rises by less than 0.01 (a thirtieth of red's 1/3).
    cyan = {e: [named(r["run"], "ablation")["cyan"] for r in studies[e]["runs"]]
            for e in ("ex-2.4.1", "ex-2.5.1", "ex-2.9.1", "ex-2.10.1")}
    share = {e: sum(1 for v in vs if v < 0.01) / len(vs) for e, vs in cyan.items()}
    rows.append("| ablation spares cyan only in the isolated architecture (2.9.1) | runs whose cyan dMSE under ablation "
                "stays below 0.01 (mean dMSE): " + ", ".join(f"{e[3:]} {pct(share[e])} % ({F.mean_sd(v)[0]:.3f})"
                                                            for e, v in cyan.items()) + " | "
                + ("yes" if share["ex-2.9.1"] >= 0.9 and all(share[e] < 0.5 for e in share if e != "ex-2.9.1")
                   else "partly: " + ", ".join(f"{e[3:]} spares it in {pct(share[e])} %" for e in share
                                                if e != "ex-2.9.1" and share[e] >= 0.5) if share["ex-2.9.1"] >= 0.9
                   else "no") + " |")
    anchored = F.mean_sd(scores("ex-2.4.1", "ablation"))
    rows.append(f"| ablating the anchored-only model gives a poor score (2.4.1: 0.37) | 2.4.1 ablation R^2 "
                f"{anchored[0]:.3f} +- {anchored[1]:.3f}; chosen run {studies['ex-2.4.1']['chosen']['scores']['ablation']:.3f} | "
                + ("yes" if anchored[0] < 0.6 else "no") + " |")
    return "\n".join(rows)


def figures(args, studies):
    """Each chosen model and intervention in the paper's three panels: latents, reconstruction grid, error curves."""
    folder = os.path.join(os.path.dirname(args.write or args.doc), "paper")
    os.makedirs(folder, exist_ok=True)

    def copy(source, name):
        target = os.path.join(folder, name)
        with open(source) as f, open(target + ".tmp", "w") as g:
            g.write(f.read())
        os.replace(target + ".tmp", target)
        return f"paper/{name}"

    out = []
    for e, s in studies.items():
        run, seed = s["chosen"]["run"], s["chosen"]["seed"]
        latents = copy(os.path.join(run, "latents_dim1_dim0.svg"), f"{e}-latents.svg")
        for name, _ in EXPERIMENTS[e]["interventions"]:
            grid = copy(os.path.join(run, f"paper-{name}", "patches.svg"), f"{e}-{name}-patches.svg")
            curves = copy(os.path.join(run, f"paper-{name}", "mse_vs_hue.svg"), f"{e}-{name}-errors.svg")
            out += [f"**{e} ({EXPERIMENTS[e]['title']}), seed {seed}, {name}** (R^2 {s['chosen']['scores'][name]:.3f})", "",
                    f"| ![latents of {e}]({latents}) | ![reconstruction grid]({grid}) | ![error curves]({curves}) |",
                    "|---|---|---|", "| latents, dims 1 (across) and 0 (up): red on top | reconstructed (cell) around "
                    "true (inset) colors, after | MSE against hue, before and after |", ""]
    return "\n".join(out).rstrip()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default="build/spheregrad")
    p.add_argument("--doc", default="docs/paper.md", help="the document whose regions are rewritten")
    p.add_argument("--write", help="write the result here instead of over --doc")
    p.add_argument("--out", default="out/paper", help="the sweeps' folders")
    p.add_argument("--seeds", default="0-59", help="seeds of every experiment (published: 60)")
    p.add_argument("--tail-seeds", default="60-299", help="more seeds of the isolated models, for their lower tails")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--reuse", action="store_true", help="reuse a study made by the same command (for editing)")
    args = p.parse_args()
    args.cli = os.path.join(".", os.path.normpath(args.cli))
    studies = {e: study(args, e) for e in EXPERIMENTS}
    parts = {"distributions": distributions(args, studies), "fronts": fronts(studies), "tails": tails(args, studies),
             "claims": claims(studies), "figures": figures(args, studies)}
    for name in PUBLISHED_TABLES:
        parts[name] = per_color_table(name, studies)
    F.rewrite_document(args, parts, "paper")


if __name__ == "__main__":
    main()
