"""The training loop: Flax NNX + optax, data parallel over the local devices, Orbax checkpoints that resume exactly.

``loss_fn(model, batch)`` is a plain function (the losses of :mod:`genome_plugin.train.losses` for every
target in the batch); :func:`train` runs ``nnx.jit`` train steps with AdamW (linear warm-up, cosine
decay, global-norm clipping), batch-norm statistics updated in train mode, a checkpoint every
``checkpoint_every`` steps (model and optimizer state, step, the data loader's position and seed), and
metrics per head to ``metrics.csv``: the training loss and its parts, and on the validation fold the loss,
the Pearson correlation per track (data space, over valid positions of the whole fold) and, for splice
sites, SpliceAI's top-k accuracy. Batches are split over a 1-D device mesh on their first axis; the
parameters are replicated, so XLA sums the gradients across devices.

A data set is anything with the :class:`genome_plugin.train.data.TrainingData` interface: ``tracks``,
``batches(fold, start_step=, num_steps=)`` (training batches depend only on the seed and the step, so a
resumed run sees what an uninterrupted one would), ``config.batch_size`` and ``config.seed``.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from genome_plugin.errors import GenomePluginError
from genome_plugin.model.config import HEAD_SPECS, AlphaGenomeConfig
from genome_plugin.model.metadata import TrackMetadata
from genome_plugin.model.network import AlphaGenome, init_on_host
from genome_plugin.tracks import OutputType, TrackTable
from genome_plugin.train.config import LoopConfig, OptimizerConfig
from genome_plugin.train.losses import head_for_target, junction_targets, model_loss

__all__ = [
    "CHECKPOINT_DIR",
    "METRICS_NAME",
    "TrainResult",
    "build_model",
    "head_tables",
    "learning_rate_schedule",
    "loss_fn",
    "make_optimizer",
    "make_train_step",
    "prepare_batch",
    "resolve_precision",
    "topk_accuracy",
    "train",
]

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
METRICS_NAME = "metrics.csv"
JUNCTIONS = "splice_junctions@1"
SPLICE_SITES = "splice_sites@1"
#: Splice-site classes scored by top-k accuracy: each class, and donors / acceptors of both strands pooled.
TOPK_CLASSES = {"donor+": (0,), "acceptor+": (1,), "donor-": (2,), "acceptor-": (3,), "donor": (0, 2),
                "acceptor": (1, 3)}
_HEAD_FOR_TYPE = {OutputType[spec.output_type]: name for name, spec in HEAD_SPECS.items()}


# ------------------------------------------------------------------------------------------- model


def resolve_precision(precision: str) -> str:
    """``auto`` -> bfloat16 on GPU/TPU, float32 on CPU (where bf16 matmuls are emulated and slow)."""
    if precision == "auto":
        return "bfloat16" if jax.default_backend() in ("gpu", "tpu") else "float32"
    return precision


def head_tables(tracks: Mapping[OutputType, TrackTable]) -> dict[str, pd.DataFrame]:
    """The track table of each model head, from a data set's tables (one head per output type).

    The junction head's table lists tissues (track names; a tissue's + and - tracks share one), as the
    official metadata and :func:`genome_plugin.model.adapter.junction_track_table` expect.
    """
    tables = {}
    for output_type, table in tracks.items():
        head = _HEAD_FOR_TYPE[output_type]
        df = table.df.reset_index(drop=True)
        if head == "splice_sites_junction":
            df = df.drop_duplicates("name").reset_index(drop=True).assign(strand=".")
        tables[head] = df
    return tables


def junction_track_tissues(tracks: Mapping[OutputType, TrackTable]) -> tuple[np.ndarray, int] | None:
    """For the junction tracks: the head tissue of each track and the number of tissues."""
    table = tracks.get(OutputType.SPLICE_JUNCTIONS)
    if table is None:
        return None
    names = pd.Index(pd.unique(pd.Series(table.names)))
    return names.get_indexer(table.names).astype(np.int64), len(names)


def build_model(
    base: AlphaGenomeConfig, tracks: Mapping[OutputType, TrackTable], *, seed: int = 0, precision: str = "float32"
) -> tuple[AlphaGenome, list[TrackMetadata]]:
    """A new model with ``base``'s trunk and one head per output type of ``tracks``, and its card metadata.

    Genome-track heads get the tables' ``nonzero_mean`` (the same for every organism of the preset).
    """
    tables = head_tables(tracks)
    counts = {head: len(df) for head, df in tables.items()}
    tissues = counts.get("splice_sites_junction")
    config = base.with_track_counts(
        counts, junction_tissues_per_organism=(tissues,) * base.num_organisms if tissues else ()
    ).with_compute_dtype(precision)
    model = init_on_host(config, seed)
    set_track_means(model, tables)
    metadata = [TrackMetadata(organism, tables) for organism in config.organisms]
    return model, metadata


def set_track_means(model: AlphaGenome, tables: Mapping[str, pd.DataFrame]) -> None:
    """Fill each genome-track head's ``track_means`` state from its table's ``nonzero_mean``."""
    for head, df in tables.items():
        if HEAD_SPECS[head].kind != "genome_tracks":
            continue
        means = df["nonzero_mean"].to_numpy(np.float32)
        variable = model.heads[head].track_means
        variable[...] = jnp.asarray(np.broadcast_to(means, variable[...].shape), jnp.float32)


# ------------------------------------------------------------------------------------------- batches


def prepare_batch(batch: Mapping[str, Any], *, num_sites: int, junction_tissues: tuple | None = None) -> dict:
    """A loader batch as the train step takes it: the junction list becomes the junction head's site
    positions and dense count targets (:func:`genome_plugin.train.losses.junction_targets`)."""
    targets, weights = dict(batch["targets"]), dict(batch["weights"])
    out = {"sequence": np.asarray(batch["sequence"], np.float32),
           "organism_index": np.asarray(batch["organism_index"], np.int32)}
    if JUNCTIONS in targets:
        junctions = {**targets[JUNCTIONS], "weights": weights.pop(JUNCTIONS)}
        track_tissues, num_tissues = junction_tissues if junction_tissues is not None else (None, None)
        out["splice_site_positions"], targets[JUNCTIONS] = junction_targets(
            junctions, num_sites=num_sites, track_tissues=track_tissues, num_tissues=num_tissues
        )
    out["targets"], out["weights"] = targets, weights
    return out


def _heads_of(targets: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted({head_for_target(key)[0] for key in targets}))


def _forward(model: AlphaGenome, batch: Mapping[str, Any]) -> tuple[dict, dict]:
    heads = _heads_of(batch["targets"])
    outputs = model(batch["sequence"], batch["organism_index"], heads=heads,
                    splice_site_positions=batch.get("splice_site_positions"))
    organism = batch["organism_index"]
    means = {h: model.heads[h].track_means[...][organism] for h in heads if HEAD_SPECS[h].kind == "genome_tracks"}
    return outputs, means


def loss_fn(model: AlphaGenome, batch: Mapping[str, Any]) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Total loss of the model on a prepared batch, and its named parts (``"{head}/loss"``, ...)."""
    outputs, means = _forward(model, batch)
    return model_loss(outputs, batch["targets"], batch["weights"], track_means=means)


# ------------------------------------------------------------------------------------------- optimiser


def learning_rate_schedule(config: OptimizerConfig, total_steps: int) -> optax.Schedule:
    """Linear warm-up from 0 to ``learning_rate`` over ``warmup_steps``, then cosine decay to
    ``end_learning_rate`` at ``total_steps``."""
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0 if config.warmup_steps else config.learning_rate,
        peak_value=config.learning_rate,
        warmup_steps=config.warmup_steps,
        decay_steps=max(total_steps, config.warmup_steps + 1),
        end_value=config.end_learning_rate,
    )


def make_optimizer(config: OptimizerConfig, total_steps: int) -> optax.GradientTransformation:
    """Global-norm clipping, then AdamW on :func:`learning_rate_schedule`."""
    schedule = learning_rate_schedule(config, total_steps)
    adamw = optax.adamw(schedule, b1=config.b1, b2=config.b2, weight_decay=config.weight_decay)
    return optax.chain(optax.clip_by_global_norm(config.clip_norm), adamw) if config.clip_norm else adamw


def make_train_step(trainable: Any = nnx.Param) -> Callable:
    """The compiled step ``(model, optimizer, batch) -> scalars``: gradients of :func:`loss_fn` with respect
    to the ``trainable`` parameters, one optimiser update, the loss parts and the gradients' global norm."""

    @nnx.jit
    def train_step(model, opt, batch):
        grad_fn = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, trainable), has_aux=True)
        (_, scalars), grads = grad_fn(model, batch)
        opt.update(model, grads)
        return {**scalars, "grad_norm": optax.tree.norm(grads)}

    return train_step


# ------------------------------------------------------------------------------------------- metrics


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, classes: tuple[int, ...]) -> float:
    """SpliceAI's top-k accuracy: with k true sites of ``classes``, the fraction of the k top-scored
    candidates that are true sites. Candidates are (position, class) pairs; NaN when k = 0.

    ``scores`` [N, C] class probabilities, ``labels`` [N] class indices.
    """
    candidate_scores = np.concatenate([scores[:, c] for c in classes])
    is_true = np.concatenate([labels == c for c in classes])
    k = int(is_true.sum())
    if k == 0:
        return float("nan")
    top = np.argsort(-candidate_scores, kind="stable")[:k]
    return float(is_true[top].mean())


def _moments(pred: jax.Array, target: jax.Array, weight: jax.Array) -> jax.Array:
    """Weighted sums [6, T] (n, x, y, xx, yy, xy) over all axes but the track axis, for Pearson."""
    x, y = jnp.asarray(pred, jnp.float32), jnp.asarray(target, jnp.float32)
    w = jnp.broadcast_to(jnp.asarray(weight, jnp.float32), x.shape) * ~jnp.isnan(y)
    y = jnp.where(jnp.isnan(y), 0.0, y)
    axes = tuple(range(x.ndim - 1))
    return jnp.stack([jnp.sum(w * v, axis=axes) for v in (jnp.ones_like(x), x, y, x * x, y * y, x * y)])


def _eval_outputs(model: AlphaGenome, batch: Mapping[str, Any]) -> tuple[dict, dict, tuple | None]:
    outputs, means = _forward(model, batch)
    _, scalars = model_loss(outputs, batch["targets"], batch["weights"], track_means=means)
    moments = {}
    for key in batch["targets"]:
        head, resolution = head_for_target(key)
        kind = HEAD_SPECS[head].kind
        if kind == "genome_tracks":
            pred = outputs[head][f"predictions_{resolution}bp"]
        elif kind == "contact_maps":
            pred = outputs[head]["predictions"]
        elif kind == "splice_sites_usage":
            pred = jax.nn.sigmoid(outputs[head]["logits"].astype(jnp.float32))
        else:
            continue
        moments[key] = _moments(pred, batch["targets"][key], batch["weights"][key])
    splice = None
    if SPLICE_SITES in batch["targets"]:
        probs = outputs["splice_sites_classification"]["predictions"][..., :4]
        splice = (probs, batch["targets"][SPLICE_SITES], batch["weights"][SPLICE_SITES])
    return scalars, moments, splice


def _pearson(m: np.ndarray) -> np.ndarray:
    n, sx, sy, sxx, syy, sxy = m
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy / n - sx * sy / n**2
        var_x, var_y = sxx / n - (sx / n) ** 2, syy / n - (sy / n) ** 2
        return cov / np.sqrt(var_x * var_y)


class _MetricsFile:
    """``metrics.csv``: one row per (step, split, metric, track); appended to by a resumed run."""

    COLUMNS = ("step", "split", "metric", "track", "value")

    def __init__(self, path: Path):
        self.path = path
        if not path.exists():
            with path.open("w", newline="") as handle:
                csv.writer(handle).writerow(self.COLUMNS)

    def write(self, rows: Iterable[tuple]) -> None:
        with self.path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            for step, split, metric, track, value in rows:
                writer.writerow((step, split, metric, track, f"{float(value):.6g}"))


# ------------------------------------------------------------------------------------------- loop


@dataclasses.dataclass
class TrainResult:
    """What a run did: steps done, the last validation metrics, seconds spent training, where it wrote."""

    steps: int
    resumed_from: int
    metrics: dict[str, float]
    seconds: float
    out_dir: Path
    devices: int


def _pure(tree: Any) -> Any:
    return nnx.to_pure_dict(nnx.state(tree))


class _Checkpoints:
    """Orbax checkpoints of model + optimizer state with a JSON record of the step and the loader position."""

    def __init__(self, directory: Path, keep: int):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = directory
        self.manager = ocp.CheckpointManager(
            directory.resolve(), options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
        )

    def latest(self) -> int | None:
        return self.manager.latest_step()

    def resume(self, model: nnx.Module, opt: nnx.Optimizer, sharding: Any, *, resume: bool, data_seed: int,
               done: str = "trained") -> int:
        """The step to start from: 0 with no checkpoint, else the latest one's, restored into ``model``/``opt``.

        Checkpoints without ``resume`` and a checkpoint ``done`` with another data seed are refused (the
        manager is closed first), so a run never silently continues or overwrites another one.
        """
        latest = self.latest()
        if latest is None:
            return 0
        if not resume:
            self.close()
            msg = f"{self.directory} already holds checkpoints (step {latest}); pass --resume or another --out"
            raise GenomePluginError(msg)
        meta = self.restore(latest, model, opt, sharding)
        if meta.get("data_seed") != data_seed:
            self.close()
            msg = f"checkpoint step {latest} was {done} with data seed {meta.get('data_seed')}, not {data_seed}"
            raise GenomePluginError(msg)
        start = int(meta["loader"]["next_step"])
        log.info("resumed from the checkpoint at step %d", start)
        return start

    def save(self, step: int, model: nnx.Module, optimizer: nnx.Optimizer, meta: dict) -> None:
        ocp = self._ocp
        state = {"model": _pure(model), "optimizer": _pure(optimizer)}
        self.manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                        meta=ocp.args.JsonSave(meta)))
        self.manager.wait_until_finished()

    def restore(self, step: int, model: nnx.Module, optimizer: nnx.Optimizer, sharding) -> dict:
        ocp = self._ocp
        target = {"model": _pure(model), "optimizer": _pure(optimizer)}
        target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), target)
        restored = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target),
                                                                      meta=ocp.args.JsonRestore()))
        for obj, key in ((model, "model"), (optimizer, "optimizer")):
            state = nnx.state(obj)
            nnx.replace_by_pure_dict(state, restored["state"][key])
            nnx.update(obj, state)
        return dict(restored["meta"])

    def close(self) -> None:
        self.manager.close()


def _evaluate(eval_step: Callable, model: nnx.Module, data: Any, loop: LoopConfig, shard: Callable,
              prepare: Callable) -> dict[str, Any]:
    """Loss, Pearson per track and top-k over the validation fold (``eval_batches`` batches when set)."""
    scalar_sums: dict[str, float] = {}
    moments: dict[str, np.ndarray] = {}
    scores, labels = [], []
    batches = 0
    for raw in data.batches("valid", num_steps=loop.eval_batches):
        scalars, batch_moments, splice = eval_step(model, shard(prepare(raw)))
        scalars, batch_moments, splice = jax.device_get((scalars, batch_moments, splice))
        batches += 1
        for name, value in scalars.items():
            scalar_sums[name] = scalar_sums.get(name, 0.0) + float(value)
        for key, m in batch_moments.items():
            moments[key] = moments.get(key, 0.0) + np.asarray(m, np.float64)
        if splice is not None:
            probs, label, weight = (np.asarray(a) for a in splice)
            valid = np.broadcast_to(weight.reshape(label.shape), label.shape) > 0
            scores.append(probs[valid].astype(np.float32))
            labels.append(label[valid])
    if batches == 0:
        msg = "the validation fold has no windows; add a 'valid' region to the folds BED"
        raise GenomePluginError(msg)
    result: dict[str, Any] = {name: total / batches for name, total in scalar_sums.items()}
    pearson = {key: _pearson(m) for key, m in moments.items()}
    topk = {}
    if scores:
        s, lab = np.concatenate(scores), np.concatenate(labels)
        topk = {name: topk_accuracy(s, lab, classes) for name, classes in TOPK_CLASSES.items()}
    return {"scalars": result, "pearson": pearson, "topk": topk}


def _eval_rows(step: int, evaluation: dict, track_names: Mapping[str, list[str]]) -> list[tuple]:
    rows = [(step, "valid", name, "", value) for name, value in sorted(evaluation["scalars"].items())]
    for key, values in sorted(evaluation["pearson"].items()):
        names = track_names.get(key, [str(i) for i in range(len(values))])
        rows += [(step, "valid", f"{key}/pearson", name, v) for name, v in zip(names, values, strict=True)]
        rows.append((step, "valid", f"{key}/pearson_mean", "", float(np.nanmean(values)) if len(values) else math.nan))
    rows += [(step, "valid", f"splice_sites@1/top_k/{name}", "", v) for name, v in evaluation["topk"].items()]
    return rows


def _summary(evaluation: dict) -> dict[str, float]:
    out = {f"valid/{k}": float(v) for k, v in evaluation["scalars"].items()}
    for key, values in evaluation["pearson"].items():
        out[f"valid/{key}/pearson_mean"] = float(np.nanmean(values)) if len(values) else math.nan
    out.update({f"valid/splice_sites@1/top_k/{k}": float(v) for k, v in evaluation["topk"].items()})
    return out


def train(
    model: AlphaGenome,
    data: Any,
    *,
    optimizer: OptimizerConfig,
    loop: LoopConfig,
    out_dir: str | Path,
    trainable: Any = nnx.Param,
    train_mode: bool = True,
    resume: bool = False,
    progress: bool = True,
    after_checkpoint: Callable[[int], None] | None = None,
    devices: list | None = None,
) -> TrainResult:
    """Train ``model`` in place for ``loop.steps`` steps on ``data``; checkpoints and ``metrics.csv`` in ``out_dir``.

    ``trainable`` filters the parameters the optimiser updates (e.g. the heads only); ``train_mode``
    False keeps every batch-norm layer on its stored statistics (a frozen trunk). ``resume`` continues
    from the latest checkpoint in ``out_dir``; without it, existing checkpoints are an error.
    ``after_checkpoint(step)`` runs after each checkpoint is on disk. ``devices`` defaults to every local device.
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    devices = list(devices or jax.local_devices())
    batch_size = data.config.batch_size
    if batch_size % len(devices):
        msg = f"batch_size {batch_size} is not a multiple of the {len(devices)} local devices"
        raise GenomePluginError(msg)
    mesh = Mesh(np.array(devices), ("batch",))
    replicated = NamedSharding(mesh, PartitionSpec())
    data_sharding = NamedSharding(mesh, PartitionSpec("batch"))

    model.train() if train_mode else model.eval()
    nnx.update(model, jax.device_put(nnx.state(model), replicated))
    opt = nnx.Optimizer(model, make_optimizer(optimizer, loop.steps), wrt=trainable)
    nnx.update(opt, jax.device_put(nnx.state(opt), replicated))

    checkpoints = _Checkpoints(out_dir / CHECKPOINT_DIR, loop.keep_checkpoints)
    start = checkpoints.resume(model, opt, replicated, resume=resume, data_seed=data.config.seed)

    num_sites = model.config.heads.num_splice_sites
    tissues = junction_track_tissues(data.tracks)

    def prepare(raw: Mapping[str, Any]) -> dict:
        return prepare_batch(raw, num_sites=num_sites, junction_tissues=tissues)

    def shard(batch: dict) -> dict:
        return jax.device_put(batch, data_sharding)

    train_step = make_train_step(trainable)

    @nnx.jit
    def eval_step(model, batch):
        return _eval_outputs(model, batch)

    def run_eval(step: int) -> dict:
        model.eval()
        try:
            evaluation = _evaluate(eval_step, model, data, loop, shard, prepare)
        finally:
            model.train() if train_mode else model.eval()
        metrics.write(_eval_rows(step, evaluation, track_names))
        return evaluation

    track_names = {}
    for output_type, table in data.tracks.items():
        for resolution in output_type.resolutions:
            track_names[f"{output_type.value}@{resolution}"] = table.names

    metrics = _MetricsFile(out_dir / METRICS_NAME)
    pending: dict[str, float] = {}
    pending_steps = 0
    t0 = time.perf_counter()
    bar = tqdm(total=loop.steps, initial=start, disable=not progress, desc="train", unit="step")
    try:
        for step, raw in zip(range(start, loop.steps),
                             data.batches("train", start_step=start, num_steps=loop.steps - start), strict=True):
            scalars = jax.device_get(train_step(model, opt, shard(prepare(raw))))
            loss = float(scalars["loss"])
            if not math.isfinite(loss):
                msg = f"the loss is {loss} at step {step + 1}; lower [optimizer] learning_rate or check the targets"
                raise GenomePluginError(msg)
            for name, value in scalars.items():
                pending[name] = pending.get(name, 0.0) + float(value)
            pending_steps += 1
            done = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")
            if done % loop.log_every == 0 or done == loop.steps:
                metrics.write((done, "train", name, "", total / pending_steps)
                              for name, total in sorted(pending.items()))
                pending, pending_steps = {}, 0
            if loop.eval_every and done % loop.eval_every == 0 and done != loop.steps:
                evaluation = run_eval(done)
            if done % loop.checkpoint_every == 0 or done == loop.steps:
                checkpoints.save(done, model, opt, {"step": done, "loader": {"fold": "train", "next_step": done},
                                                    "data_seed": data.config.seed})
                if after_checkpoint is not None:
                    after_checkpoint(done)
        evaluation = run_eval(loop.steps)
    finally:
        bar.close()
        checkpoints.close()
    model.eval()
    return TrainResult(steps=loop.steps, resumed_from=start, metrics=_summary(evaluation),
                       seconds=time.perf_counter() - t0, out_dir=out_dir, devices=len(devices))
