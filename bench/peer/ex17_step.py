#!/usr/bin/python3
"""The Ex 1.7 training step in PyTorch, written to match spheregrad's step operation by operation.

One step (docs/research.md and docs/losses.md, examples/experiment/train.cpp: Run::train_step):
  - set Adam's lr and the five regularizer weights from the Ex 1.7 dopesheet at this step
    (the same keyframes and minimum-jerk transitions that spheregrad realizes);
  - sample B cells of the HSV cube (36 x 10 x 10) with replacement, probability = bias;
  - draw the M1 labels per sample, per draw: red 0.5 redness^10, vibrant 0.5 vibrancy^100,
    desaturated 0.5 (1 - vibrancy)^10 (drawn but unused by Ex 1.7, as spheregrad draws it);
  - ColorMLP(4): 3-16 GELU 16-4 | 4-16 GELU 16-3 Sigmoid, PyTorch's default initialization;
  - loss = MSE(reconstruction, x)
         + w_polar    * anchor ||z - (1,0,0,0)||^2, selective on red (skipped when no red)
         + w_separate * angular repulsion p = 10, no shift, mean over the batch
         + w_planar   * planarity sum_{d>=2} z_d^2, selective on vibrant
         + w_norm_v   * unitarity (||z|| - 1)^2, selective on vibrant
         + w_norm     * unitarity, mean over the batch
    where "selective" is sum(alpha l) / (sum(alpha) + 1e-8), skipped when sum(alpha) = 0;
  - loss.item() (spheregrad logs the total every step), backward, Adam (lr from the sheet).
--variant simple keeps only MSE + unitarity (reg-norm) + angular repulsion (reg-separate),
the shape of the step behind the issue's figure of about 1,360 steps/s at batch 64.

Prints one JSON object: steps/s over the timed steps (after --warmup untimed ones) and a
SHA-256 of the final parameters, for the bitwise reproducibility check of bench/peer/compare.py
(meaningful between runs of the same number of steps: --seconds 0).
"""
import argparse
import hashlib
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

# Ex 1.7 keyframes (docs/schedule.md), resolved to absolute steps: {column: [(step, value)]}.
EX17_KEYFRAMES = {
    "lr": [(0, 1e-8), (10, 0.01), (5000, 0.01), (10000, 0.005)],
    "reg-separate": [(0, 0.001), (500, 0.02), (2500, 0.01), (5000, 0.001)],
    "reg-planar": [(0, 0.02), (2500, 0.08), (5000, 0.02)],
    "reg-norm": [(0, 0.01), (5000, 0.2)],
    "reg-norm-v": [(0, 0.02)],
    "reg-polar": [(5000, 0.006), (7500, 0.0002)],
}


def realized(keyframes, step):
    """A column's value at `step`: the first value until its first keyframe, then rest-to-rest
    minimum-jerk transitions between consecutive keyframes, then the last value held."""
    if step <= keyframes[0][0]:
        return keyframes[0][1]
    for (t0, v0), (t1, v1) in zip(keyframes, keyframes[1:]):
        if step < t1:
            tau = (step - t0) / (t1 - t0)
            return v0 + (v1 - v0) * tau**3 * (10 - 15 * tau + 6 * tau * tau)
    return keyframes[-1][1]


def hsv_cube(n_h=36, n_s=10, n_v=10):
    """The HSV cube in spheregrad's row order (hue outermost) and its bias weights."""
    h = (torch.arange(n_h, dtype=torch.float64) / n_h).repeat_interleave(n_s * n_v)
    s = torch.linspace(0, 1, n_s, dtype=torch.float64).repeat_interleave(n_v).repeat(n_h)
    v = torch.linspace(0, 1, n_v, dtype=torch.float64).repeat(n_h * n_s)
    h6 = (h - h.floor()) * 6
    sector = h6.floor().long() % 6
    f = h6 - h6.floor()
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = torch.stack([v, q, p, p, t, v], 1).gather(1, sector[:, None])[:, 0]
    g = torch.stack([t, v, v, q, p, p], 1).gather(1, sector[:, None])[:, 0]
    b = torch.stack([p, p, t, v, v, q], 1).gather(1, sector[:, None])[:, 0]
    rgb = torch.stack([r, g, b], 1).float()
    bias = (1 - v) / (n_s * n_h) + (1 - s) * v / n_h + s * v
    return rgb, bias


def label_probabilities(rgb):
    """Per cell: P(red), P(vibrant), P(desaturated) of milestone 1."""
    rgb = rgb.double()
    redness = rgb[:, 0] * (1 - rgb[:, 1] / 2 - rgb[:, 2] / 2)
    vibrancy = rgb.max(1).values - rgb.min(1).values
    return torch.stack([0.5 * redness**10, 0.5 * vibrancy**100, 0.5 * (1 - vibrancy) ** 10], 1).float()


class ColorMLP(torch.nn.Module):
    def __init__(self, k=4):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.GELU(), torch.nn.Linear(16, k))
        self.decoder = torch.nn.Sequential(torch.nn.Linear(k, 16), torch.nn.GELU(), torch.nn.Linear(16, 3),
                                           torch.nn.Sigmoid())

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z


def selective(per_sample, alpha):
    """sum(alpha l) / (sum(alpha) + 1e-8), or None when no sample is selected."""
    total = alpha.sum()
    if total.item() == 0:
        return None
    return (per_sample * (alpha / (total + 1e-8))).sum()


def unitarity(z):
    return (z.norm(dim=1) - 1) ** 2


def angular_repulsion(z, power=10):
    unit = z / (z.norm(dim=1, keepdim=True) + 1e-8)
    s = unit @ unit.T
    s = s.masked_fill(torch.isclose(s, torch.ones_like(s)), 0.0)  # self-pairs and duplicates
    return (s**power).sum(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1000, help="timed steps (at least)")
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="keep timing steps until this many seconds have passed too (0: exactly --steps)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps before them")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variant", choices=["full", "simple"], default="full")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rgb, bias = hsv_cube()
    probs = label_probabilities(rgb)
    model = ColorMLP(4)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    red_axis = torch.tensor([1.0, 0.0, 0.0, 0.0])
    total_steps = a.warmup + a.steps
    columns = ["lr", "reg-separate", "reg-planar", "reg-norm", "reg-norm-v", "reg-polar"]
    sched = [[realized(EX17_KEYFRAMES[c], i) for c in columns] for i in range(total_steps)]
    full = a.variant == "full"

    def step(i):
        lr, w_separate, w_planar, w_norm, w_norm_v, w_polar = sched[i]
        for group in opt.param_groups:
            group["lr"] = lr
        index = torch.multinomial(bias, a.batch, replacement=True)
        x = rgb[index]
        labels = (torch.rand(a.batch, 3) < probs[index]).float()
        out, z = model(x)
        total = F.mse_loss(out, x)
        red, vibrant = labels[:, 0], labels[:, 1]
        if full:
            term = selective(((z - red_axis) ** 2).sum(1), red)
            if term is not None:
                total = total + w_polar * term
        total = total + w_separate * angular_repulsion(z).mean()
        if full:
            term = selective((z[:, 2:] ** 2).sum(1), vibrant)
            if term is not None:
                total = total + w_planar * term
            term = selective(unitarity(z), vibrant)
            if term is not None:
                total = total + w_norm_v * term
        total = total + w_norm * unitarity(z).mean()
        value = total.item()
        if not math.isfinite(value):
            sys.exit(f"non-finite loss at step {i}")
        opt.zero_grad()
        total.backward()
        opt.step()

    for i in range(a.warmup):
        step(i)
    start = time.perf_counter()
    i, seconds = a.warmup, 0.0
    while i < a.warmup + a.steps or seconds < a.seconds:
        if i == len(sched):
            sched.extend([realized(EX17_KEYFRAMES[c], k) for c in columns] for k in range(i, 2 * i))
        step(i)
        i += 1
        seconds = time.perf_counter() - start
    timed = i - a.warmup

    digest = hashlib.sha256()
    for name, p in model.state_dict().items():
        digest.update(name.encode())
        digest.update(p.detach().contiguous().numpy().tobytes())
    print(json.dumps({"side": "pytorch", "variant": a.variant, "batch": a.batch, "threads": a.threads,
                      "steps": timed, "warmup": a.warmup, "seconds": seconds,
                      "steps_per_s": timed / seconds, "params_sha256": digest.hexdigest(),
                      "torch": torch.__version__, **mapped_libraries()}))


def mapped_libraries():
    """The BLAS and the allocator this process actually mapped (from /proc/self/maps)."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    blas = sorted(p for p in paths if "blas" in p.rsplit("/", 1)[-1])
    return {"blas": ", ".join(blas) or "none", "malloc": "tcmalloc" if any("tcmalloc" in p for p in paths) else "glibc"}


if __name__ == "__main__":
    main()
