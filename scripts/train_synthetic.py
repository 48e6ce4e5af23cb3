#!/usr/bin/env python
"""Train a tiny AlphaGenome-architecture teacher on the synthetic genome and compare its held-out Pearson
with no-learning baselines (issue 12's "known function" bar).

Steps: make the genome of ``scripts/make_synthetic_genome.py`` where the config's ``[data]`` paths point
(unless it is there), train with :func:`genome_plugin.train.loop.train` for ``[loop] steps``, then score
the **test** fold (never seen in training nor used to choose anything) with Pearson's r per target,
pooled over every valid position of the fold in data space, as the loop's validation metric is, for:

- ``trained``: the trained model;
- ``init``: the same architecture and seed before any step (what the weights alone give);
- ``gc``: GC content of the input (151 bp centred window at 1 bp, the bin at 128 bp), the textbook
  sequence-composition baseline; for contact maps the product of the two bins' GC content;
- ``distance``: contact maps only, the train fold's mean contact per diagonal offset (no sequence:
  the decay alone), the baseline a contact model must beat to have learnt anything about CTCF;
- a constant (e.g. mean) predictor has no variance, so its Pearson is undefined; counted as 0.

Prints a table and writes ``pearson.json`` into ``--out`` (with CPU and wall seconds of the training).

Usage::

    python scripts/train_synthetic.py [--config train/configs/synthetic_tiny.toml] [--out build/synthetic_run]
        [--steps N] [--layers N]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GC_WINDOW = 151
_ONE_D_HEADS = {"dnase": "dnase", "rna_seq": "rna_seq", "atac": "atac", "cage": "cage", "procap": "procap",
                "chip_tf": "chip_tf", "chip_histone": "chip_histone"}


def make_genome_module():
    path = REPO / "scripts" / "make_synthetic_genome.py"
    spec = importlib.util.spec_from_file_location("make_synthetic_genome", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PooledPearson:
    """Pearson's r per (target, track), accumulated batch by batch over positions with weight > 0."""

    def __init__(self) -> None:
        self.sums: dict[str, np.ndarray] = {}

    def add(self, key: str, prediction: np.ndarray, target: np.ndarray, weight: np.ndarray) -> None:
        x, y = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
        w = np.broadcast_to(np.asarray(weight, np.float64), x.shape)
        axes = tuple(range(x.ndim - 1))
        m = np.stack([np.sum(w * v, axis=axes) for v in (np.ones_like(x), x, y, x * x, y * y, x * y)])
        self.sums[key] = self.sums.get(key, 0.0) + m

    def result(self) -> dict[str, list[float]]:
        out = {}
        for key, (n, sx, sy, sxx, syy, sxy) in self.sums.items():
            with np.errstate(invalid="ignore", divide="ignore"):
                cov, vx, vy = sxy / n - sx * sy / n**2, sxx / n - (sx / n) ** 2, syy / n - (sy / n) ** 2
                r = cov / np.sqrt(vx * vy)
            out[key] = [float(v) if np.isfinite(v) and vx_ > 1e-12 else math.nan for v, vx_ in zip(r, vx, strict=True)]
        return out


def gc_prediction(sequence: np.ndarray, key: str) -> np.ndarray:
    """The GC baseline for target ``key`` from one-hot input [B, S, 4] (see the module docstring)."""
    gc = sequence[..., 1] + sequence[..., 2]
    resolution = int(key.split("@")[1])
    if key.startswith("contact_maps"):
        bins = gc.reshape(gc.shape[0], -1, resolution).mean(axis=2)
        return (bins[:, :, None] * bins[:, None, :])[..., None]
    if resolution == 1:
        kernel = np.ones(GC_WINDOW) / GC_WINDOW
        return np.stack([np.convolve(row, kernel, mode="same") for row in gc])[..., None]
    return gc.reshape(gc.shape[0], -1, resolution).mean(axis=2)[..., None]


def distance_profile(batches: Iterable[dict], key: str = "contact_maps@2048") -> np.ndarray:
    """Mean target per diagonal offset over ``batches`` (weights respected), for the distance baseline."""
    totals, counts = None, None
    for batch in batches:
        target, weight = batch["targets"][key][..., 0], batch["weights"][key][..., 0]
        n = target.shape[1]
        offsets = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
        if totals is None:
            totals, counts = np.zeros(n), np.zeros(n)
        for d in range(n):
            mask = (offsets == d)[None] & (weight > 0)
            totals[d] += target[mask].sum()
            counts[d] += mask.sum()
    return totals / np.maximum(counts, 1)


def model_predictor(model) -> Callable[[dict], dict[str, np.ndarray]]:
    """Data-space predictions of every 1-D track and contact-map target of a batch, from ``model`` in eval mode."""
    import jax
    from flax import nnx

    from genome_plugin.model.config import HEAD_SPECS
    from genome_plugin.train.losses import head_for_target

    @nnx.jit(static_argnames="heads")
    def forward(model, sequence, organism, heads):
        return model(sequence, organism, heads=heads)

    def predict(batch: dict) -> dict[str, np.ndarray]:
        keys = list(batch["targets"])
        heads = tuple(sorted({head_for_target(k)[0] for k in keys}))
        model.eval()
        outputs = jax.device_get(forward(model, batch["sequence"], batch["organism_index"], heads))
        out = {}
        for key in keys:
            head, resolution = head_for_target(key)
            kind = HEAD_SPECS[head].kind
            if kind == "genome_tracks":
                out[key] = np.asarray(outputs[head][f"predictions_{resolution}bp"], np.float32)
            elif kind == "contact_maps":
                out[key] = np.asarray(outputs[head]["predictions"], np.float32)
        return out

    return predict


def evaluate(data, fold: str, predictors: dict[str, Callable[[dict], dict[str, np.ndarray]]]) -> dict:
    """``{predictor: {target: [r per track]}}`` over one pass of ``fold``."""
    pooled = {name: PooledPearson() for name in predictors}
    for batch in data.batches(fold):
        for name, predictor in predictors.items():
            for key, prediction in predictor(batch).items():
                pooled[name].add(key, prediction, batch["targets"][key], batch["weights"][key])
    return {name: p.result() for name, p in pooled.items()}


def baselines(data, *, distance_batches: int = 32) -> dict[str, Callable[[dict], dict[str, np.ndarray]]]:
    """The sequence-composition and distance-only predictors of the module docstring."""
    keys = list(data.target_keys)
    out = {"gc": lambda batch: {k: gc_prediction(batch["sequence"], k) for k in keys}}
    if "contact_maps@2048" in keys:
        profile = distance_profile(data.batches("train", num_steps=distance_batches))

        def distance(batch: dict) -> dict[str, np.ndarray]:
            b, n = batch["sequence"].shape[0], profile.size
            offsets = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
            return {"contact_maps@2048": np.broadcast_to(profile[offsets][None, :, :, None], (b, n, n, 1))}

        out["distance"] = distance
    return out


def run(config_path: Path, out: Path, *, steps: int | None = None, layers: int | None = None,
        progress: bool = True) -> dict:
    """Make the genome if needed, train, evaluate; returns what ``pearson.json`` holds."""
    from genome_plugin.model.config import AlphaGenomeConfig
    from genome_plugin.train.config import read_config
    from genome_plugin.train.data import TrainingData
    from genome_plugin.train.loop import build_model, resolve_precision, train

    raw = tomllib.loads(Path(config_path).read_text())["data"]
    fasta = Path(config_path).resolve().parent / raw["fasta"]
    if not fasta.exists():
        make_genome_module().make_genome(fasta.parent, seed=raw.get("seed", 0))
    config = read_config(config_path)
    loop = config.loop if steps is None else dataclasses.replace(
        config.loop, steps=steps, checkpoint_every=min(config.loop.checkpoint_every, steps),
        eval_every=0 if config.loop.eval_every >= steps else config.loop.eval_every)
    base = AlphaGenomeConfig.preset(config.model.preset)
    if layers is not None:
        base = base.replace(transformer=dataclasses.replace(base.transformer, num_layers=layers))
    data = TrainingData(config.data)
    precision = resolve_precision(config.model.precision)
    model, _ = build_model(base, data.tracks, seed=config.model.seed, precision=precision)
    predictors = baselines(data)
    predictors["init"] = model_predictor(model)
    before = evaluate(data, "test", predictors)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    train(model, data, optimizer=config.optimizer, loop=loop, out_dir=out, progress=progress)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    after = evaluate(data, "test", {"trained": model_predictor(model)})
    result = {"config": str(config_path), "steps": loop.steps, "preset": base.name,
              "transformer_layers": base.transformer.num_layers, "train_cpu_seconds": round(cpu, 1),
              "train_wall_seconds": round(wall, 1), "fold": "test", "pearson": {**after, **before}}
    (out / "pearson.json").write_text(json.dumps(result, indent=1))
    return result


def table(result: dict) -> str:
    names = ["trained", "init", "gc", "distance"]
    pearson = result["pearson"]
    keys = list(pearson["trained"])
    lines = ["target            " + "".join(f"{n:>10}" for n in names)]
    for key in keys:
        cells = []
        for name in names:
            values = pearson.get(name, {}).get(key)
            cells.append(f"{np.nanmean(values):10.3f}" if values else f"{'-':>10}")
        lines.append(f"{key:<18}" + "".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "train" / "configs" / "synthetic_tiny.toml")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "synthetic_run")
    parser.add_argument("--steps", type=int, help="override [loop] steps")
    parser.add_argument("--layers", type=int, help="override the preset's transformer layers")
    args = parser.parse_args(argv)
    result = run(args.config, args.out, steps=args.steps, layers=args.layers)
    print(f"{result['steps']} steps, {result['train_cpu_seconds']} s CPU ({result['train_wall_seconds']} s wall), "
          "Pearson on the test fold:")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
