#!/usr/bin/python3
"""Runs the Google Benchmark suites of bench/ with repetitions and prints their results as the
Markdown tables of docs/performance.md (`make bench-report`).

Every timed benchmark runs --repetitions times (Google Benchmark's --benchmark_repetitions);
the tables show the median of the repetitions. The allocation counts are exact and run once.
The standard library only: no third-party Python package is needed.
"""
import argparse
import json
import os
import subprocess
import sys
import time

TIMED = "^(peak|gemm|tape|linear|angular_repulsion|pairwise_energy|data|train_step)/"
ALLOC = "^allocations/"


def busy_seconds():
    """CPU seconds the whole machine has been busy, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - (v[4] if len(v) > 4 else 0)) / os.sysconf("SC_CLK_TCK")


def run_suite(bench, pattern, repetitions):
    cmd = [bench, f"--benchmark_filter={pattern}", "--benchmark_format=json"]
    if repetitions > 1:
        cmd += [f"--benchmark_repetitions={repetitions}", "--benchmark_report_aggregates_only=true"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    rows = {}
    for row in json.loads(p.stdout)["benchmarks"]:
        if row.get("error_occurred"):
            continue
        if repetitions > 1 and row.get("aggregate_name") != "median":
            continue
        rows[row["run_name"]] = row
    return rows


def si(seconds):
    """A duration with a readable unit."""
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def num(v, digits=3):
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="build/run_bench")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--out", default=None, help="Markdown file (default: next to --bench)")
    ap.add_argument("--only", default=None, help="a benchmark filter instead of every suite, e.g. '^data/'")
    a = ap.parse_args()
    out_md = a.out or os.path.join(os.path.dirname(a.bench) or ".", "bench-report.md")
    started = time.perf_counter()
    load_before = os.getloadavg()
    busy0, children0 = busy_seconds(), os.times()
    if a.only:
        r = run_suite(a.bench, a.only, 1 if a.only.startswith("^allocations") else a.repetitions)
    else:
        r = run_suite(a.bench, TIMED, a.repetitions)
        r.update(run_suite(a.bench, ALLOC, 1))
    busy1, children1 = busy_seconds(), os.times()
    load_after = os.getloadavg()
    wall = time.perf_counter() - started
    ours = (children1.children_user - children0.children_user) + (children1.children_system - children0.children_system)
    others = max(0.0, (busy1 - busy0 - ours) / wall)

    lines = []
    p = lines.append
    p(f"Medians of {a.repetitions} repetitions; load average {load_before[0]:.2f} before, "
      f"{load_after[0]:.2f} after; other processes kept {others:.2f} of the {os.cpu_count()} cores busy "
      f"on average meanwhile; {wall:.0f} s in all.")
    p("")

    clock = r.get("peak/clock/iterations:5")
    if clock:
        p("### FP32 peak")
        p("")
        p("| quantity | value |")
        p("|---|---|")
        p(f"| core clock, measured (dependent adds) | {clock['measured_GHz']:.2f} GHz |")
        p(f"| core clock under 512-bit FMA load (the same adds beside 16 FMAs) | {clock['vector_GHz']:.2f} GHz |")
        p(f"| clock in /proc/cpuinfo (nominal) | {clock['cpuinfo_GHz']:.2f} GHz |")
        p(f"| FP32 lanes per vector x FMA units x 2 | {clock['lanes']:.0f} x {clock['fma_units']:.0f} x 2 = "
          f"{clock['lanes'] * clock['fma_units'] * 2:.0f} flops per cycle |")
        p(f"| theoretical peak at the vector clock, 1 core / 2 cores | {clock['peak_1core_GFLOPS']:.0f} / "
          f"{clock['peak_2core_GFLOPS']:.0f} GFLOP/s (at the scalar clock: "
          f"{clock['peak_1core_at_scalar_clock_GFLOPS']:.0f} per core; at the nominal clock: "
          f"{clock['peak_1core_at_cpuinfo_GFLOPS']:.0f}) |")
        for width in (512, 256):
            f = r.get(f"peak/fma_{width}bit")
            if f:
                p(f"| {width}-bit FMA loop, 1 core | {f['GFLOPS']:.0f} GFLOP/s = {f['flops_per_cycle']:.1f} flops "
                  f"per cycle = {f['fma_units']:.2f} FMA units |")
        p("")

    gemm = [(k, v) for k, v in r.items() if k.startswith("gemm/")]
    if gemm:
        p("### GEMM (square, FP32)")
        p("")
        p("| product | n | threads | GFLOP/s | % of peak | best iteration: GFLOP/s | % of peak |")
        p("|---|---:|---:|---:|---:|---:|---:|")
        for k, v in gemm:
            name = "ours (sg::matmul)" if k.startswith("gemm/ours") else "Eigen, one call"
            n = k.split("n:")[1].split("/")[0]
            p(f"| {name} | {n} | {v['threads']:.0f} | {num(v['GFLOPS'])} | "
              f"{num(v['pct_peak'], 2)} % | {num(v['best_GFLOPS'])} | {num(v['best_pct'], 2)} % |")
        p("")

    tape = [(k, v) for k, v in r.items() if k.startswith("tape/")]
    if tape:
        p("### Tape overhead per recorded op (1x1 tensors, one thread)")
        p("")
        p("| type | expression | ops | record + rewind | record + backward + rewind |")
        p("|---|---|---:|---:|---:|")
        for t in ("float", "double"):
            for chain, label in ((0, "micrograd"), (1, "chain")):
                f = r.get(f"tape/{t}/chain:{chain}/backward:0")
                b = r.get(f"tape/{t}/chain:{chain}/backward:1")
                if f and b:
                    p(f"| {t} | {label} | {f['ops']:.0f} | {f['per_op'] * 1e9:.1f} ns | {b['per_op'] * 1e9:.1f} ns |")
        p("")

    lin = {k: v for k, v in r.items() if k.startswith("linear/")}
    if lin:
        p("### Linear layers of ColorMLP(4): time per call (forward; forward + sum + backward)")
        p("")
        layers = ["encoder.0 3->16", "encoder.2 16->4", "decoder.0 4->16", "decoder.2 16->3"]
        p("| batch | threads | " + " | ".join(layers) + " |")
        p("|---:|---:|" + "---:|" * len(layers))
        for batch in (16, 64, 256, 1024, 4096):
            for threads in (1, 2):
                cells = []
                for layer in range(4):
                    f = lin.get(f"linear/layer:{layer}/batch:{batch}/threads:{threads}/backward:0/real_time")
                    b = lin.get(f"linear/layer:{layer}/batch:{batch}/threads:{threads}/backward:1/real_time")
                    if f and b:
                        cells.append(f"{si(f['real_time'] * 1e-9)}; {si(b['real_time'] * 1e-9)}")
                if cells:
                    p(f"| {batch} | {threads} | " + " | ".join(cells) + " |")
        p("")

    rep = {k: v for k, v in r.items() if k.startswith("angular_repulsion/")}
    if rep:
        p("### Angular repulsion (p = 10), forward + backward, z (B,4)")
        p("")
        p("| batch | threads | fused | composed | composed / fused | arena, fused / composed |")
        p("|---:|---:|---:|---:|---:|---:|")
        for batch in (16, 64, 256, 1024, 4096):
            for threads in (1, 2):
                f = rep.get(f"angular_repulsion/fused/batch:{batch}/threads:{threads}/real_time")
                c = rep.get(f"angular_repulsion/composed/batch:{batch}/threads:{threads}/real_time")
                if f and c:
                    p(f"| {batch} | {threads} | {si(f['real_time'] * 1e-6)} | {si(c['real_time'] * 1e-6)} | "
                      f"{c['real_time'] / f['real_time']:.2g}x | {f['arena_MiB']:.2g} / {c['arena_MiB']:.3g} MiB |")
        p("")

    energy = {k: v for k, v in r.items() if k.startswith("pairwise_energy/")}
    if energy:
        p("### Pairwise energy (Coulomb, s = 1) beside the fused repulsion, forward + backward, z (B,4), steps/s")
        p("")
        p("| batch | threads | Euclidean | angular | fused repulsion (p = 10) | pairs/s, Euclidean |")
        p("|---:|---:|---:|---:|---:|---:|")
        for batch in (64, 256, 1024, 4096):
            for threads in (1, 2):
                key = f"batch:{batch}/threads:{threads}/real_time"
                e, a = energy.get("pairwise_energy/coulomb/" + key), energy.get("pairwise_energy/angular_coulomb/" + key)
                f = rep.get("angular_repulsion/fused/" + key)
                if e and a:
                    p(f"| {batch} | {threads} | {num(1e6 / e['real_time'])} | {num(1e6 / a['real_time'])} | "
                      f"{num(1e6 / f['real_time']) if f else 'n/a'} | {e['pairs'] / 1e6:,.0f} M |")
        p("")

    data = {k: v for k, v in r.items() if k.startswith("data/")}
    if data:
        p("### Data side of a step: weighted draws from the HSV cube (+ the three M1 labels)")
        p("")
        p("| batch | draws only, per sample | draws + labels, per sample | draws + labels, per batch |")
        p("|---:|---:|---:|---:|")
        for batch in (64, 4096):
            d = data.get(f"data/sample_batch/batch:{batch}/labels:0")
            l = data.get(f"data/sample_batch/batch:{batch}/labels:1")
            if d and l:
                p(f"| {batch} | {si(d['per_sample'])} | {si(l['per_sample'])} | {si(l['per_sample'] * batch)} |")
        p("")

    steps = {k: v for k, v in r.items() if k.startswith("train_step/")}
    if steps:
        p("### Training step (ours alone), steps/s")
        p("")
        p("| batch | full, 1 thread | full, 2 threads | 2 / 1 | simple, 1 thread | simple, 2 threads |")
        p("|---:|---:|---:|---:|---:|---:|")
        for batch in (16, 64, 256, 1024, 4096):
            def sps(variant, t):
                v = steps.get(f"train_step/{variant}/batch:{batch}/threads:{t}/min_time:0.500/manual_time")
                return v["steps_per_s"] if v else None
            f1, f2, s1, s2 = sps("ex-1.7", 1), sps("ex-1.7", 2), sps("simple", 1), sps("simple", 2)
            if f1 and f2:
                p(f"| {batch} | {num(f1)} | {num(f2)} | {f2 / f1:.2f}x | {num(s1) if s1 else 'n/a'} | "
                  f"{num(s2) if s2 else 'n/a'} |")
        p("")

    alloc = {k: v for k, v in r.items() if k.startswith("allocations/")}
    if alloc:
        p("### Heap allocations per steady-state training step (Ex 1.7)")
        p("")
        p("| batch | threads | allocations per step | allocations of a whole S-step run | S |")
        p("|---:|---:|---:|---:|---:|")
        for k, v in alloc.items():
            batch = k.split("batch:")[1].split("/")[0]
            p(f"| {batch} | {v['threads']:.0f} | {v['allocs_per_step']:g} | {v['allocs_setup']:.0f} | {v['steps']:.0f} |")
        p("")

    text = "\n".join(lines)
    print(text)
    with open(out_md, "w") as f:
        f.write(text + "\n")
    print(f"\n(written to {out_md})", file=sys.stderr)


if __name__ == "__main__":
    main()
