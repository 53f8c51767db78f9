#!/usr/bin/python3
"""Side-by-side throughput of the Ex 1.7 training step: spheregrad against PyTorch and LibTorch.

Run by `make bench-compare`, which builds what it needs first. For every round, batch size and
thread count it runs, one after the other (so that load from other processes hits every side
alike, and in an order rotated each round):
  - ours:     build/run_bench --benchmark_filter=train_step/<variant>/batch:B/threads:T
              (runs of S steps from a fresh model for at least half a second; the training
              loop's own clock; no files written);
  - pytorch:  bench/peer/ex17_step.py with Debian's python3-torch (/usr/bin/python3);
  - libtorch: build/peer_libtorch, the same step in PyTorch's C++ API (when libtorch-dev is
              installed);
then reports the median steps/s over the rounds and the ratio ours / peer. The peers run at their
best Debian set-up: OpenBLAS (libopenblas0-openmp, through LD_LIBRARY_PATH) and tcmalloc
(libtcmalloc-minimal4, through LD_PRELOAD); each peer reports the BLAS and the allocator its
process actually mapped, and the tables say them (--plain-peers: as installed, no preload).

The whole command: `spheregrad train` (Ex 1.7, 10,001 steps, its default outputs: metrics.csv,
checkpoint, figures, report), wall time of the process, against the PyTorch Ex 1.7 loop for
the same 10,001 steps (the loop's own time: Python's start and `import torch` excluded).

Bitwise reproducibility:
  - ours: `spheregrad train` writes metrics.csv (every loss term of every step, 9 digits) and
    checkpoint.safetensors (parameters, Adam state, generator states); the bytes of both are
    compared between two runs with the same seed, and between --threads 1 and --threads 2;
  - peers: three runs of a fixed number of steps with the same seed (1 thread, 1 thread, 2
    threads); the hashes of their final parameters are compared.

Beside every row it shows how many cores other processes kept busy during the runs (from
/proc/stat, minus the runs' own CPU time): on a shared machine a 2-thread run whose second core
is taken measures the neighbours, not the code.

Prints Markdown (the tables of docs/performance.md) and writes it, with the raw numbers as
JSON, next to the benchmark binary.
"""
import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BATCHES = [16, 64, 256, 1024, 4096]
THREADS = [1, 2]
# Peer timing runs: untimed warm-up steps, then timed steps until PEER_SECONDS have passed and
# at least the minimum count is done.
PEER_WARMUP = {16: 20, 64: 20, 256: 10, 1024: 2, 4096: 1}
PEER_MIN_STEPS = {16: 20, 64: 20, 256: 10, 1024: 3, 4096: 2}
PEER_SECONDS = 0.8
# Steps of the reproducibility runs (exact counts: their final parameters are compared).
REPRO_STEPS = {16: 500, 64: 500, 256: 200, 1024: 50, 4096: 10}
PEER_REPRO_STEPS = {16: 50, 64: 50, 256: 20, 1024: 4, 4096: 2}
# The peers' best set-up on Debian (bench/peer/; the Makefile's torch-deps installs both).
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
EX17_STEPS = 10001  # a whole Ex 1.7 run


def peer_environment(plain):
    """The environment of a peer process: OpenBLAS and tcmalloc unless `plain`."""
    env = dict(os.environ)
    if plain:
        return env
    for path in (OPENBLAS_DIR, TCMALLOC):
        if not os.path.exists(path):
            sys.exit(f"compare: {path} is missing: install libopenblas0-openmp and libtcmalloc-minimal4 "
                     "(make torch-deps), or pass --plain-peers")
    env["LD_LIBRARY_PATH"] = OPENBLAS_DIR + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["LD_PRELOAD"] = TCMALLOC + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
    return env


def cpu_jiffies():
    """(busy, total) CPU time of the whole machine, from /proc/stat, in clock ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def run(cmd, timeout=600, env=None):
    """Runs cmd; returns its stdout and how many cores OTHER processes kept busy meanwhile (the
    machine's busy time minus the child's own CPU time, over the wall time)."""
    t0 = time.perf_counter()
    busy0, _ = cpu_jiffies()
    child0 = os.times()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    child1 = os.times()
    busy1, _ = cpu_jiffies()
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    ours_cpu = (child1.children_user - child0.children_user) + (child1.children_system - child0.children_system)
    others = max(0.0, ((busy1 - busy0) / os.sysconf("SC_CLK_TCK") - ours_cpu) / wall) if wall > 0 else 0.0
    return p.stdout, others


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON in output:\n" + text[-1000:])


def ours(bench, variant, batch, threads):
    name = "ex-1\\.7" if variant == "full" else "simple"
    out, others = run([bench, f"--benchmark_filter=^train_step/{name}/batch:{batch}/threads:{threads}/",
                       "--benchmark_format=json"])
    rows = json.loads(out)["benchmarks"]
    if len(rows) != 1:
        raise RuntimeError(f"expected one benchmark row for {variant} {batch} {threads}, got {len(rows)}")
    return {"steps_per_s": rows[0]["steps_per_s"], "others": others}


def peer(side, binary, variant, batch, threads, env, repro=False):
    """One peer run: timed (repro=False) or a fixed number of steps whose final parameters are
    hashed (repro=True)."""
    if side == "pytorch":
        cmd = ["/usr/bin/python3", os.path.join(HERE, "ex17_step.py")]
    else:
        cmd = [binary]
    if repro:
        steps, warmup, seconds = PEER_REPRO_STEPS[batch], 0, 0.0
    else:
        steps, warmup, seconds = PEER_MIN_STEPS[batch], PEER_WARMUP[batch], PEER_SECONDS
    out, others = run(cmd + ["--batch", str(batch), "--threads", str(threads), "--steps", str(steps),
                             "--warmup", str(warmup), "--seconds", str(seconds), "--variant", variant, "--seed", "0"],
                        env=env)
    r = last_json_line(out)
    return {"steps_per_s": r["steps_per_s"], "steps": r["steps"], "version": r.get("torch"),
            "hash": r.get("params_sha256") or r.get("params_hash"), "others": others,
            "blas": r.get("blas", "?"), "malloc": r.get("malloc", "?")}


def whole_command(cli, env, workdir):
    """Seconds of `spheregrad train` (the process, outputs included) and of the PyTorch Ex 1.7 loop
    over the same number of steps (the loop alone)."""
    t0 = time.perf_counter()
    run([cli, "train", "--quiet", "--overwrite", "--out", os.path.join(workdir, "command")])
    ours_seconds = time.perf_counter() - t0
    out, _ = run(["/usr/bin/python3", os.path.join(HERE, "ex17_step.py"), "--batch", "64", "--threads", "1",
                  "--steps", str(EX17_STEPS), "--warmup", "0", "--seconds", "0", "--variant", "full"], env=env)
    return ours_seconds, last_json_line(out)["seconds"]


def peer_reproducibility(side, binary, batch, env):
    """Final-parameter hashes of run A (1 thread), run B (1 thread, same seed), run C (2 threads)."""
    h = [peer(side, binary, "full", batch, t, env, repro=True)["hash"] for t in (1, 1, 2)]
    return {"run_to_run": h[0] == h[1], "threads_1_vs_2": h[0] == h[2], "steps": PEER_REPRO_STEPS[batch]}


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def ours_reproducibility(cli, batch, workdir):
    """Digests of metrics.csv and checkpoint.safetensors: run A (1 thread), run B (1 thread,
    same seed), run C (2 threads)."""
    digests = []
    for tag, threads in (("a", 1), ("b", 1), ("c", 2)):
        out_dir = os.path.join(workdir, f"b{batch}-{tag}")
        run([cli, "train", "--steps", str(REPRO_STEPS[batch]), "--batch", str(batch), "--threads", str(threads),
             "--quiet", "--snapshot-every", "0", "--out", out_dir])
        digests.append(tuple(file_digest(os.path.join(out_dir, f))
                             for f in ("metrics.csv", "checkpoint.safetensors")))
    return {"run_to_run": digests[0] == digests[1], "threads_1_vs_2": digests[0] == digests[2],
            "steps": REPRO_STEPS[batch]}


def machine(bench):
    info = {"python": platform.python_version(), "kernel": platform.release()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache"):
                info[key.strip()] = value.strip()
        info["avx512f"] = " avx512f " in (" " + lscpu.replace("\n", " ") + " ")
    except OSError:
        pass
    try:
        out, _ = run([bench, "--benchmark_filter=^peak/clock", "--benchmark_format=json"])
        row = json.loads(out)["benchmarks"][0]
        info["measured_GHz"] = row["measured_GHz"]
        info["peak_1core_GFLOPS"] = row["peak_1core_GFLOPS"]
    except (RuntimeError, KeyError, IndexError, json.JSONDecodeError):
        pass
    return info


def fmt_rate(v):
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    r = a / b
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="build/run_bench")
    ap.add_argument("--cli", default="build/spheregrad")
    ap.add_argument("--libtorch", default="build/peer_libtorch", help="'' to skip LibTorch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--out", default=None, help="Markdown file (default: next to --bench)")
    ap.add_argument("--plain-peers", action="store_true", help="run the peers as installed (no OpenBLAS, no tcmalloc)")
    a = ap.parse_args()
    env = peer_environment(a.plain_peers)
    batches = [int(b) for b in a.batches.split(",")]
    out_md = a.out or os.path.join(os.path.dirname(a.bench) or ".", "bench-compare.md")
    have_libtorch = bool(a.libtorch) and os.path.exists(a.libtorch)
    started = time.perf_counter()
    load_before = os.getloadavg()

    sides = ["ours", "pytorch"] + (["libtorch"] if have_libtorch else [])
    configs = [("full", b, t) for b in batches for t in THREADS]
    if 64 in batches:
        configs += [("simple", 64, t) for t in THREADS]
    results = {}  # (side, variant, batch, threads) -> list of per-round dicts
    info = machine(a.bench)
    for r in range(a.rounds):
        order = sides[r % len(sides):] + sides[:r % len(sides)]
        for variant, batch, threads in configs:
            for side in order:
                if side == "ours":
                    res = ours(a.bench, variant, batch, threads)
                else:
                    res = peer(side, a.libtorch, variant, batch, threads, env)
                results.setdefault((side, variant, batch, threads), []).append(res)
                print(f"  round {r + 1}/{a.rounds}  {side:8s} {variant:6s} batch {batch:5d} threads {threads}: "
                      f"{res['steps_per_s']:10.1f} steps/s  (other processes: {res['others']:.2f} cores)",
                      file=sys.stderr, flush=True)

    repro = {side: {} for side in sides}
    command = []  # (ours seconds, PyTorch loop seconds) per round
    with tempfile.TemporaryDirectory(prefix="sg-repro-") as workdir:
        for r in range(a.rounds):
            command.append(whole_command(a.cli, env, workdir))
            print(f"  round {r + 1}/{a.rounds}  whole command: spheregrad train {command[-1][0]:.3f} s, PyTorch loop "
                  f"{command[-1][1]:.2f} s", file=sys.stderr, flush=True)
        for b in batches:
            for side in sides:
                try:
                    if side == "ours":
                        repro[side][b] = ours_reproducibility(a.cli, b, workdir)
                    else:
                        repro[side][b] = peer_reproducibility(side, a.libtorch, b, env)
                except RuntimeError as e:
                    print(f"  reproducibility run failed: {e}", file=sys.stderr)
                print(f"  reproducibility {side:8s} batch {b:5d}: {repro[side].get(b)}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()

    def median(side, variant, b, t):
        rows = results.get((side, variant, b, t))
        return statistics.median(x["steps_per_s"] for x in rows) if rows else None

    def others(variant, b, t):
        """Cores kept busy by other processes during this configuration's runs: median (max)."""
        v = [x["others"] for side in sides for x in results.get((side, variant, b, t), [])]
        return f"{statistics.median(v):.2f} ({max(v):.2f})" if v else "n/a"

    def spread(side, variant, b, t):
        rows = results.get((side, variant, b, t))
        if not rows or len(rows) < 2:
            return ""
        v = [x["steps_per_s"] for x in rows]
        return f" ({fmt_rate(min(v))}-{fmt_rate(max(v))})"

    lines = []
    p = lines.append
    torch_version = next((x[0]["version"] for k, x in results.items() if k[0] == "pytorch"), None) or "?"
    p("### Machine and run")
    p("")
    p(f"- CPU: {info.get('Model name', '?')}, {info.get('CPU(s)', '?')} vCPUs, "
      f"{'AVX-512' if info.get('avx512f') else 'no AVX-512'}, core clock measured at "
      f"{info.get('measured_GHz', 0):.2f} GHz (bench/bench_gemm.cpp: peak/clock)")
    p(f"- PyTorch {torch_version} (Debian python3-torch, CPU), Python {info['python']}; "
      f"LibTorch: {'the same library through its C++ API (build/peer_libtorch)' if have_libtorch else 'not measured (libtorch-dev missing)'}")
    for side in sides[1:]:
        mapped = {(x["blas"], x["malloc"]) for k, rows in results.items() if k[0] == side for x in rows}
        p(f"- {side} mapped " + "; ".join(f"BLAS {b}, allocator {m}" for b, m in sorted(mapped)) +
          (" (as installed: --plain-peers)" if a.plain_peers else " (OpenBLAS and tcmalloc asked for)"))
    p(f"- {a.rounds} rounds, sides interleaved per configuration; median steps/s over the rounds, "
      f"(min-max) beside it; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
      f"{time.perf_counter() - started:.0f} s in all")
    p(f"- busy cores of others: how many of the {os.cpu_count()} cores other processes kept busy during "
      "the configuration's runs (median, max), from /proc/stat minus the runs' own CPU time. A "
      "2-thread run needs both cores: where others hold one, each fork-join waits for the scheduler "
      "and its numbers say more about the neighbours than about the code")
    p("")
    for variant, title in (("full", "Full Ex 1.7 step (all five regularizers)"),
                           ("simple", "Simplified step (MSE + unitarity + angular repulsion), batch 64")):
        if not any(k[1] == variant for k in results):
            continue
        p(f"### {title}")
        p("")
        head = "| batch | threads | ours steps/s | PyTorch steps/s | ours / PyTorch |"
        rule = "|---:|---:|---:|---:|---:|"
        if have_libtorch:
            head += " LibTorch steps/s | ours / LibTorch |"
            rule += "---:|---:|"
        head += " busy cores of others |"
        rule += "---:|"
        p(head)
        p(rule)
        for b in batches:
            for t in THREADS:
                if ("ours", variant, b, t) not in results:
                    continue
                o, pt = median("ours", variant, b, t), median("pytorch", variant, b, t)
                row = (f"| {b} | {t} | {fmt_rate(o)}{spread('ours', variant, b, t)} | "
                       f"{fmt_rate(pt)}{spread('pytorch', variant, b, t)} | {fmt_ratio(o, pt)} |")
                if have_libtorch:
                    lt = median("libtorch", variant, b, t)
                    row += f" {fmt_rate(lt)}{spread('libtorch', variant, b, t)} | {fmt_ratio(o, lt)} |"
                row += f" {others(variant, b, t)} |"
                p(row)
        p("")

    if command:
        ours_s = statistics.median(c[0] for c in command)
        loop_s = statistics.median(c[1] for c in command)
        p("### The whole command: Ex 1.7, 10,001 steps, batch 64, 1 thread")
        p("")
        p("| ours: `spheregrad train`, default outputs (process) | PyTorch: the Ex 1.7 loop (loop only) | ours / PyTorch |")
        p("|---:|---:|---:|")
        p(f"| {ours_s:.3f} s ({min(c[0] for c in command):.3f}-{max(c[0] for c in command):.3f}) | "
          f"{loop_s:.2f} s ({min(c[1] for c in command):.2f}-{max(c[1] for c in command):.2f}) | "
          f"{fmt_ratio(loop_s, ours_s)} |")
        p("")
    p("### Bitwise reproducibility")
    p("")
    p("| side | same seed, two runs | 1 vs 2 threads | what is compared |")
    p("|---|---|---|---|")

    def verdict(side, key):
        rows = repro.get(side, {})
        if not rows:
            return "not run"
        bad = [str(b) for b, v in rows.items() if not v[key]]
        return "identical at every batch" if not bad else "DIFFERS at batch " + ", ".join(bad)

    what = {"ours": "bytes of metrics.csv (every term, every step) and checkpoint.safetensors of `spheregrad train`",
            "pytorch": "the final parameters' bytes (SHA-256)",
            "libtorch": "the final parameters' bytes (FNV-1a)"}
    labels = {"ours": "ours", "pytorch": "PyTorch", "libtorch": "LibTorch"}
    for side in sides:
        steps = ", ".join(f"{v['steps']} @ {b}" for b, v in repro.get(side, {}).items())
        p(f"| {labels[side]} | {verdict(side, 'run_to_run')} | {verdict(side, 'threads_1_vs_2')} | "
          f"{what[side]} after a fixed number of steps (steps @ batch: {steps}) |")
    p("")

    # The targets that this comparison can check.
    p("### Targets checked here")
    p("")
    checks = []
    o64, t64 = median("ours", "full", 64, 1), median("pytorch", "full", 64, 1)
    if o64 and t64:
        checks.append(("ours >= 100x PyTorch, full step, batch 64, 1 thread", o64 / t64 >= 100, fmt_ratio(o64, t64)))
    for t in THREADS:
        o, pt = median("ours", "full", 4096, t), median("pytorch", "full", 4096, t)
        if o and pt:
            checks.append((f"ours >= 30x PyTorch at batch 4096, {t} thread{'s' if t > 1 else ''}", o / pt >= 30,
                           fmt_ratio(o, pt)))
    if have_libtorch:
        slower = [(b, t) for b in batches for t in THREADS
                  if median("ours", "full", b, t) and median("libtorch", "full", b, t)
                  and median("ours", "full", b, t) <= median("libtorch", "full", b, t)]
        checks.append(("ours faster than LibTorch at every batch and thread count", not slower,
                       "yes" if not slower else "not at " + ", ".join(f"B={b} T={t}" for b, t in slower)))
    o1, o2 = median("ours", "full", 4096, 1), median("ours", "full", 4096, 2)
    if o1 and o2:
        checks.append(("ours: 2 threads >= 1.8x 1 thread at batch 4096", o2 / o1 >= 1.8, fmt_ratio(o2, o1)))
    if command:
        checks.append(("`spheregrad train` >= 100x the PyTorch Ex 1.7 loop", loop_s / ours_s >= 100,
                       fmt_ratio(loop_s, ours_s)))
    p("| target | met | measured |")
    p("|---|---|---|")
    for name, ok, value in checks:
        p(f"| {name} | {'yes' if ok else 'NO'} | {value} |")
    p("")

    text = "\n".join(lines)
    print(text)
    with open(out_md, "w") as f:
        f.write(text + "\n")
    raw = {"machine": info, "load_before": load_before, "load_after": load_after, "rounds": a.rounds,
           "results": [{"side": k[0], "variant": k[1], "batch": k[2], "threads": k[3], "runs": v}
                       for k, v in results.items()],
           "reproducibility": {side: {str(b): v for b, v in rows.items()} for side, rows in repro.items()},
           "whole_command": [{"ours_seconds": o, "pytorch_loop_seconds": t} for o, t in command]}
    with open(os.path.splitext(out_md)[0] + ".json", "w") as f:
        json.dump(raw, f, indent=1)
    print(f"\n(written to {out_md} and {os.path.splitext(out_md)[0]}.json)", file=sys.stderr)


if __name__ == "__main__":
    main()
