#!/usr/bin/env python3
"""A spheregrad run folder in PyTorch and NumPy (docs/pytorch.md; `make pytorch-example`).

Rebuilds the run's model in PyTorch, loads checkpoint.safetensors with
load_state_dict(strict=True), encodes the RGB 8^3 validation cube in the order latents.npy uses,
and compares the result with the run's last latent snapshot. Needs torch and numpy (Debian's
python3-torch); the safetensors file is read with the standard library.

    python3 examples/python/load_in_pytorch.py out/ex-1.7-seed0
"""
import json
import struct
import sys

import numpy as np
import torch


def load_safetensors(path):
    """{name: tensor} and the metadata of a safetensors file (the format is 8 bytes of header
    length, a JSON header, then the tensors' bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = memoryview(data)[8 + length :]
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}  # (U64: the random streams)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] not in dtypes:
            continue
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtypes[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"])
    return tensors, header.get("__metadata__", {})


class Clamp01(torch.nn.Module):
    """The milestone-2 models' output: the identity while training, clamped to [0, 1] in eval."""

    def forward(self, x):
        return x if self.training else x.clamp(0, 1)


def autoencoder(model):
    """The encoder and decoder of a spheregrad experiment's "model" (experiment.json): Linear
    layers with the activation between them, so named as the checkpoint names them
    (encoder.0.weight, encoder.2.bias, ...); and whether the encoder normalizes its output."""
    k, hidden, depth = model["bottleneck"], model["hidden"], model["depth"]
    act = torch.nn.GELU if model["activation"] == "gelu" else torch.nn.ReLU
    output = {"sigmoid": torch.nn.Sigmoid, "clamp-in-eval": Clamp01, "identity": torch.nn.Identity}[model["output"]]

    def stack(widths):
        layers = []
        for i in range(len(widths) - 1):
            if i:
                layers.append(act())
            layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        return torch.nn.Sequential(*layers)

    return stack([3] + [hidden] * depth + [k]), torch.nn.Sequential(*stack([k] + [hidden] * depth + [3]), output()), \
        model["normalize"]


def rgb_cube(n=8):
    """The validation cube in latents.npy's order: r slowest, b fastest."""
    v = np.linspace(0, 1, n)
    return np.array([[r, g, b] for r in v for g in v for b in v], dtype=np.float32)


def main(run):
    tensors, metadata = load_safetensors(f"{run}/checkpoint.safetensors")
    experiment = json.loads(metadata["experiment.json"])
    encoder, decoder, normalize = autoencoder(experiment["model"])
    params = {k: v for k, v in tensors.items() if not k.startswith(("optimizer.", "rng.", "run."))}
    model = torch.nn.ModuleDict({"encoder": encoder, "decoder": decoder})
    model.load_state_dict(params, strict=True)  # every name and shape must match
    model.eval()
    with torch.no_grad():
        z = encoder(torch.from_numpy(rgb_cube()))
        if normalize:
            z = z / (z.norm(dim=1, keepdim=True) + 1e-8)
    latents = np.load(f"{run}/latents.npy")  # (snapshots, 512, k) float32
    steps = np.load(f"{run}/latent_steps.npy")  # (snapshots,) int64
    difference = np.abs(z.numpy() - latents[-1]).max()
    print(f"{run}: {experiment['name']} ({metadata['model']}), {sum(p.numel() for p in model.parameters())} "
          f"parameters loaded with strict=True")
    print(f"latents of the RGB 8^3 cube at step {steps[-1]} ({steps.dtype}): max |PyTorch - spheregrad| = {difference:.2e}")
    return 0 if difference < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "out/ex-1.7-seed0"))
