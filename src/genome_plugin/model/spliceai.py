"""SpliceAI-10k in Flax NNX, and its trained weights read from the installed ``spliceai`` package.

This module owns three things:

- the network (Jaganathan et al., Cell 2019): a 1x1 convolution 4 -> 32 and a 1x1 skip
  convolution, 16 pre-activation residual units (BN, ReLU, conv, BN, ReLU, conv, add) in four
  groups with kernel/dilation 11/1, 11/4, 21/10, 41/25, each group's 1x1 convolution summed into
  the skip path, and a 1x1 convolution to (none, acceptor, donor) with a softmax;
- the weight reader: the five Keras 2.0.5 ``.h5`` files of the ``spliceai`` package are read with
  h5py (no TensorFlow or Keras at run time) and mapped onto the NNX parameter tree;
- the user-cache conversion: the five models are converted once to one ``.npz`` stored with a
  SHA-256 manifest under the user cache directory, verified on every load.

All convolutions are computed *valid* (unpadded): an input of ``S`` bases gives ``S - 2 * flank``
outputs (``flank`` = 5,000 for SpliceAI-10k), exactly the positions the Keras model keeps after
its ``Cropping1D``. Keras pads every layer with zeros and then crops; the cropped outputs never
see those zeros (the receptive field is exactly +/- ``flank``), so both give the same values and
the valid form skips a third of the work. Inputs of any length work: callers add ``flank`` bases
of context (or N) on each side.

The trained weights are licensed CC BY-NC 4.0 (academic and non-commercial use) by their authors;
we read them from the user's installation of the package and never redistribute them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genome_plugin.errors import GenomePluginError

__all__ = [
    "INSTALL_HINT",
    "SPLICEAI_VERSION",
    "SpliceAI",
    "SpliceAIConfig",
    "SpliceAIEnsemble",
    "SpliceAIWeightsError",
    "build_member",
    "cache_dir",
    "keras_weight_files",
    "load_ensemble",
    "read_keras_h5",
]

SPLICEAI_VERSION = "1.3.1"
INSTALL_HINT = (
    f"install the package that ships the trained weights with `pip install --no-deps spliceai=={SPLICEAI_VERSION}` "
    "(only its data files are used; TensorFlow and Keras are not needed)"
)
# Bump when the cached array layout changes, so stale caches are rebuilt rather than misread.
_CACHE_FORMAT = 1
# NNX BatchNorm variable names and their Keras counterparts.
_BATCH_NORM_NAMES = (("scale", "gamma"), ("bias", "beta"), ("mean", "moving_mean"), ("var", "moving_variance"))


class SpliceAIWeightsError(GenomePluginError):
    """The trained SpliceAI weights are missing, unreadable or do not match the architecture."""


@dataclass(frozen=True)
class SpliceAIConfig:
    """Architecture of a SpliceAI network.

    Parameters
    ----------
    channels
        Width of every convolution in the trunk.
    groups
        ``(kernel_size, dilation)`` of each group of residual units.
    units_per_group
        Residual units per group; each group ends with a 1x1 convolution into the skip path.
    num_classes
        Output classes (none, acceptor, donor).
    bn_epsilon
        Batch-norm epsilon (Keras' default, 1e-3, for the trained models).
    """

    channels: int = 32
    groups: tuple[tuple[int, int], ...] = ((11, 1), (11, 4), (21, 10), (41, 25))
    units_per_group: int = 4
    num_classes: int = 3
    bn_epsilon: float = 1e-3

    def __post_init__(self) -> None:
        for kernel, dilation in self.groups:
            if kernel % 2 != 1 or dilation < 1:
                msg = f"SpliceAI groups need odd kernels and dilations >= 1, got kernel {kernel}, dilation {dilation}"
                raise ValueError(msg)

    @classmethod
    def spliceai_10k(cls) -> SpliceAIConfig:
        """The published SpliceAI-10k: 10,000 bp of context (5,000 each side), as in the trained weights."""
        return cls()

    @classmethod
    def tiny(cls) -> SpliceAIConfig:
        """A small network with the same topology (context 2 x 40 bp) for fast CPU tests."""
        return cls(channels=8, groups=((3, 1), (5, 2)), units_per_group=2)

    def unit_reach(self, group: int) -> int:
        """Bases one residual unit of ``group`` consumes on each side (two convolutions)."""
        kernel, dilation = self.groups[group]
        return (kernel - 1) * dilation

    @property
    def flank(self) -> int:
        """Context each output needs on each side: the receptive field is exactly +/- ``flank`` bases."""
        return sum(self.units_per_group * self.unit_reach(g) for g in range(len(self.groups)))


def _crop(x: jax.Array, each_side: int) -> jax.Array:
    return x[:, each_side : x.shape[1] - each_side] if each_side else x


class ResidualUnit(nnx.Module):
    """BN -> ReLU -> dilated conv -> BN -> ReLU -> dilated conv, added to the (cropped) input."""

    def __init__(self, channels: int, kernel: int, dilation: int, *, epsilon: float, rngs: nnx.Rngs) -> None:
        def conv() -> nnx.Conv:
            return nnx.Conv(channels, channels, kernel, padding="VALID", kernel_dilation=dilation, rngs=rngs)

        def norm() -> nnx.BatchNorm:
            return nnx.BatchNorm(channels, use_running_average=True, epsilon=epsilon, rngs=rngs)

        self.bn1 = norm()
        self.conv1 = conv()
        self.bn2 = norm()
        self.conv2 = conv()
        #: Bases one convolution consumes on each side.
        self.conv_reach = (kernel - 1) * dilation // 2

    def first(self, x: jax.Array) -> jax.Array:
        """The first half: BN -> ReLU -> conv (its output is what :meth:`SpliceAI.trace` records)."""
        return self.conv1(jax.nn.relu(self.bn1(x)))

    def second(self, hidden: jax.Array) -> jax.Array:
        """The second half: BN -> ReLU -> conv, before the residual addition."""
        return self.conv2(jax.nn.relu(self.bn2(hidden)))

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The unit's output and its hidden activation (the first convolution's output)."""
        hidden = self.first(x)
        return _crop(x, 2 * self.conv_reach) + self.second(hidden), hidden


@dataclass(frozen=True)
class _ConeStep:
    """Extents (bases each side of a variant) for recomputing one residual unit around an SNV."""

    hidden: int  # the first convolution's ALT output
    hidden_input: int  # the REF window the first convolution reads
    output: int  # the unit's ALT output (also the second convolution's output)
    output_input: int  # the REF window the second convolution reads


def _cone_plan(config: SpliceAIConfig, distance: int) -> tuple[_ConeStep, ...]:
    """How far an SNV's effect reaches after each convolution, limited to what the outputs need.

    After ``j`` convolutions a change at one base can have changed the bases within the reach
    consumed so far; only those within ``distance`` plus the reach still to come matter to the
    outputs within ``distance``. Everything outside that cone equals the REF activations.
    """
    reaches = [
        (kernel - 1) * dilation // 2
        for kernel, dilation in config.groups
        for _ in range(config.units_per_group)
        for _ in range(2)
    ]
    remaining = sum(reaches)
    cone = 0
    steps = []
    for unit in range(len(reaches) // 2):
        reach = reaches[2 * unit]
        remaining -= reach
        hidden = min(cone + reach, distance + remaining)
        remaining -= reach
        output = min(hidden + reach, distance + remaining)
        steps.append(_ConeStep(hidden, hidden + reach, output, output + reach))
        cone = output
    return tuple(steps)


def _window(ref: jax.Array, sequences: jax.Array, positions: jax.Array, extent: int, margin: int) -> jax.Array:
    """``ref[s, p + margin - extent : p + margin + extent + 1]`` for each pair of ``sequences`` and ``positions``."""

    def one(sequence: jax.Array, position: jax.Array) -> jax.Array:
        return jax.lax.dynamic_slice_in_dim(ref[sequence], position + margin - extent, 2 * extent + 1)

    return jax.vmap(one)(sequences, positions)


def _overlay(ref: jax.Array, alt: jax.Array) -> jax.Array:
    """Centre ``alt`` (extent a) on ``ref`` (extent r): ALT where it was recomputed, REF elsewhere."""
    r, a = ref.shape[1] // 2, alt.shape[1] // 2
    if a >= r:
        return alt[:, a - r : a + r + 1]
    return ref.at[:, r - a : r + a + 1].set(alt)


class SpliceAI(nnx.Module):
    """One SpliceAI network: one-hot ``(B, S, 4)`` -> class probabilities ``(B, S - 2 * flank, 3)``.

    Classes are (none, acceptor, donor) in that order. Inputs must be at least ``2 * flank + 1``
    bases long.
    """

    def __init__(self, config: SpliceAIConfig, *, rngs: nnx.Rngs) -> None:
        self.config = config
        width = config.channels
        self.stem = nnx.Conv(4, width, 1, padding="VALID", rngs=rngs)
        self.skip = nnx.Conv(width, width, 1, padding="VALID", rngs=rngs)
        self.units = nnx.List(
            [
                ResidualUnit(width, kernel, dilation, epsilon=config.bn_epsilon, rngs=rngs)
                for kernel, dilation in config.groups
                for _ in range(config.units_per_group)
            ]
        )
        self.group_skips = nnx.List([nnx.Conv(width, width, 1, padding="VALID", rngs=rngs) for _ in config.groups])
        self.head = nnx.Conv(width, config.num_classes, 1, padding="VALID", rngs=rngs)

    def __call__(self, onehot: jax.Array) -> jax.Array:
        return self.trace(onehot)[0]

    def trace(self, onehot: jax.Array) -> tuple[jax.Array, list[jax.Array], list[jax.Array]]:
        """Probabilities plus the activations :meth:`snv_alt` reuses.

        Returns
        -------
        The probabilities, the residual stream entering each unit and leaving the last one
        (``units + 1`` arrays), and each unit's hidden activation (``units`` arrays). Under ``jit``
        the unused activations cost nothing.
        """
        x = self.stem(onehot)
        skip = self.skip(x)
        residuals, hiddens = [x], []
        per_group = self.config.units_per_group
        for g, group_skip in enumerate(self.group_skips):
            for unit in self.units[g * per_group : (g + 1) * per_group]:
                x, hidden = unit(x)
                residuals.append(x)
                hiddens.append(hidden)
            skip = _crop(skip, (skip.shape[1] - x.shape[1]) // 2) + group_skip(x)
        return jax.nn.softmax(self.head(skip), axis=-1), residuals, hiddens

    def snv_alt(
        self,
        residuals: Sequence[jax.Array],
        hiddens: Sequence[jax.Array],
        sequences: jax.Array,
        positions: jax.Array,
        alt_onehot: jax.Array,
        *,
        distance: int,
    ) -> jax.Array:
        """ALT probabilities within ``distance`` of SNVs, recomputing only what the SNV changes.

        A single-base change alters a cone of activations that widens by each convolution's reach;
        everything else equals the REF activations of the same window. This recomputes the cone
        (clipped to what the outputs need) and reads the rest from a REF :meth:`trace` of the
        sequence: about a quarter of the work of predicting the ALT window.

        Parameters
        ----------
        residuals, hiddens
            From :meth:`trace` of a batch of REF sequences.
        sequences
            ``(n,)`` which sequence of that batch each SNV is in.
        positions
            ``(n,)`` output indices of the SNVs in their sequence (at least ``distance`` from either end).
        alt_onehot
            ``(n, 4)`` ALT bases.

        Returns
        -------
        ``(n, 2 * distance + 1, 3)`` probabilities at the outputs ``p - distance .. p + distance``.
        """
        # margins[u]: index of output 0 in the residual stream entering unit u (what valid convs consumed)
        margins = [0] * (len(self.units) + 1)
        for index in reversed(range(len(self.units))):
            margins[index] = margins[index + 1] + 2 * self.units[index].conv_reach
        x = self.stem(alt_onehot[:, None, :])
        skip = self.skip(_overlay(_window(residuals[0], sequences, positions, distance, margins[0]), x))
        per_group = self.config.units_per_group
        for index, (unit, step) in enumerate(zip(self.units, _cone_plan(self.config, distance), strict=True)):
            entering = residuals[index]
            hidden = unit.first(_overlay(_window(entering, sequences, positions, step.hidden_input, margins[index]), x))
            hidden_margin = margins[index] - unit.conv_reach
            hidden = _overlay(_window(hiddens[index], sequences, positions, step.output_input, hidden_margin), hidden)
            x = _overlay(_window(entering, sequences, positions, step.output, margins[index]), x) + unit.second(hidden)
            if (index + 1) % per_group == 0:
                group_end = _overlay(
                    _window(residuals[index + 1], sequences, positions, distance, margins[index + 1]), x
                )
                skip = skip + self.group_skips[index // per_group](group_end)
        return jax.nn.softmax(self.head(skip), axis=-1)


# ---------------------------------------------------------------------------------------------
# Keras .h5 -> NNX parameters


def _layer_number(name: str) -> int:
    match = re.fullmatch(r"[a-z_0-9]+?_(\d+)", name)
    return int(match.group(1)) if match else 0


def read_keras_h5(path: str | os.PathLike[str], config: SpliceAIConfig) -> dict[str, np.ndarray]:
    """Read one trained SpliceAI Keras ``.h5`` file into flat NNX parameter paths.

    Keras numbers layers in creation order, and the SpliceAI training code creates them as: stem
    conv, skip conv, then per residual unit (BN, conv, BN, conv), with each group's 1x1 conv
    after its last unit, and the 3-class conv last. The reader walks the layers in that order and
    checks every kernel shape and dilation against ``config``, so a file from a different
    architecture fails loudly rather than loading into the wrong slots.

    Returns
    -------
    Mapping from dotted NNX paths (``units.3.conv1.kernel``) to float32 arrays.
    """
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        msg = f"{path}: cannot read the SpliceAI weights: {exc}"
        raise SpliceAIWeightsError(msg) from exc
    with handle:
        try:
            layer_config = json.loads(handle.attrs["model_config"])["config"]["layers"]
            weights = handle["model_weights"]
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"{path}: not a Keras model file with a model_config and model_weights ({exc})"
            raise SpliceAIWeightsError(msg) from exc
        dilations = {
            layer["name"]: int(layer["config"]["dilation_rate"][0])
            for layer in layer_config
            if layer["class_name"] == "Conv1D"
        }
        convs = sorted(dilations, key=_layer_number)
        norms = sorted(
            (layer["name"] for layer in layer_config if layer["class_name"] == "BatchNormalization"),
            key=_layer_number,
        )

        def dataset(layer: str, variable: str) -> np.ndarray:
            group = weights[layer][layer]
            return np.asarray(group[f"{variable}:0"], dtype=np.float32)

        expected_units = len(config.groups) * config.units_per_group
        if len(convs) != 3 + 2 * expected_units + len(config.groups) or len(norms) != 2 * expected_units:
            msg = (
                f"{path}: expected {3 + 2 * expected_units + len(config.groups)} convolutions and "
                f"{2 * expected_units} batch norms for this SpliceAI architecture, found {len(convs)} and {len(norms)}"
            )
            raise SpliceAIWeightsError(msg)

        out: dict[str, np.ndarray] = {}
        conv_order = iter(convs)
        norm_order = iter(norms)

        def take_conv(target: str, kernel: int, dilation: int, c_in: int, c_out: int) -> None:
            layer = next(conv_order)
            k = dataset(layer, "kernel")
            if k.shape != (kernel, c_in, c_out) or dilations[layer] != dilation:
                msg = (
                    f"{path}: layer {layer} has kernel {k.shape} dilation {dilations[layer]}, "
                    f"expected {(kernel, c_in, c_out)} dilation {dilation} for {target}"
                )
                raise SpliceAIWeightsError(msg)
            out[f"{target}.kernel"] = k
            out[f"{target}.bias"] = dataset(layer, "bias")

        def take_norm(target: str) -> None:
            layer = next(norm_order)
            for ours, theirs in _BATCH_NORM_NAMES:
                out[f"{target}.{ours}"] = dataset(layer, theirs)

        width = config.channels
        take_conv("stem", 1, 1, 4, width)
        take_conv("skip", 1, 1, width, width)
        unit = 0
        for g, (kernel, dilation) in enumerate(config.groups):
            for _ in range(config.units_per_group):
                take_norm(f"units.{unit}.bn1")
                take_conv(f"units.{unit}.conv1", kernel, dilation, width, width)
                take_norm(f"units.{unit}.bn2")
                take_conv(f"units.{unit}.conv2", kernel, dilation, width, width)
                unit += 1
            take_conv(f"group_skips.{g}", 1, 1, width, width)
        take_conv("head", 1, 1, width, config.num_classes)
    return out


def _path_key(path: tuple) -> str:
    return ".".join(str(p) for p in path)


@functools.cache
def _skeleton(config: SpliceAIConfig) -> tuple[nnx.GraphDef, list[tuple[tuple, Any]]]:
    """The network's graph and flat parameter shapes, built once per config without initialising anything."""
    graphdef, state = nnx.split(nnx.eval_shape(lambda: SpliceAI(config, rngs=nnx.Rngs(0))))
    return graphdef, list(nnx.to_flat_state(state))


def _with_params(config: SpliceAIConfig, params: dict[str, np.ndarray], source: str) -> SpliceAI:
    graphdef, flat = _skeleton(config)
    keys = {_path_key(path) for path, _ in flat}
    if keys != set(params):
        missing = sorted(keys - set(params))[:3]
        extra = sorted(set(params) - keys)[:3]
        msg = f"{source}: parameters do not match the network (missing {missing}, unexpected {extra})"
        raise SpliceAIWeightsError(msg)
    filled = []
    for path, variable in flat:
        value = np.asarray(params[_path_key(path)], dtype=np.float32)
        if value.shape != variable.get_value().shape:
            msg = (
                f"{source}: {_path_key(path)} has shape {value.shape}, the network expects {variable.get_value().shape}"
            )
            raise SpliceAIWeightsError(msg)
        filled.append((path, variable.replace(jnp.asarray(value))))
    return nnx.merge(graphdef, nnx.from_flat_state(filled))


# ---------------------------------------------------------------------------------------------
# Locating the package's files and the user cache


def keras_weight_files() -> list[Path]:
    """Paths of ``spliceai1.h5`` .. ``spliceai5.h5`` in the installed ``spliceai`` package.

    The package is located through its distribution metadata, never imported: its ``__init__``
    replaces the SIGINT handler and needs ``pkg_resources``.
    """
    try:
        dist = metadata.distribution("spliceai")
    except metadata.PackageNotFoundError as exc:
        msg = f"the SpliceAI model needs the `spliceai` package, which is not installed: {INSTALL_HINT}"
        raise SpliceAIWeightsError(msg) from exc
    files = [Path(dist.locate_file(f"spliceai/models/spliceai{i}.h5")) for i in range(1, 6)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        msg = f"the installed `spliceai` {dist.version} lacks its weight files ({missing[0]}): {INSTALL_HINT}"
        raise SpliceAIWeightsError(msg)
    return files


def cache_dir() -> Path:
    """The user cache directory.

    ``$GENOME_PLUGIN_CACHE``, else ``$XDG_CACHE_HOME/genome-plugin``, else ``~/.cache/genome-plugin``.
    """
    if os.environ.get("GENOME_PLUGIN_CACHE"):
        return Path(os.environ["GENOME_PLUGIN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genome-plugin"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _converted_weights(sources: Sequence[Path], config: SpliceAIConfig, cache: Path) -> tuple[list[dict], dict]:
    """Load the converted ensemble from ``cache``, converting (and caching) it first if needed."""
    source_hashes = [_sha256(p) for p in sources]
    weights_sha256 = hashlib.sha256("".join(source_hashes).encode()).hexdigest()
    stem = f"spliceai10k-{weights_sha256[:16]}"
    npz_path = cache / "spliceai" / f"{stem}.npz"
    manifest_path = npz_path.with_suffix(".json")
    manifest = None
    if npz_path.is_file() and manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            manifest = None
        if manifest and (manifest.get("format") != _CACHE_FORMAT or manifest.get("npz_sha256") != _sha256(npz_path)):
            manifest = None
    if manifest is None:
        models = [read_keras_h5(p, config) for p in sources]
        npz_path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"model{i}/{key}": value for i, params in enumerate(models) for key, value in params.items()}
        # Write under a temporary name and rename, so a concurrent or interrupted run never sees half a file.
        partial_path = npz_path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial_path, **arrays)
        manifest = {
            "format": _CACHE_FORMAT,
            "weights_sha256": weights_sha256,
            "sources": [{"file": p.name, "sha256": h} for p, h in zip(sources, source_hashes, strict=True)],
            "npz_sha256": _sha256(partial_path),
        }
        os.replace(partial_path, npz_path)
        partial_manifest = manifest_path.with_suffix(f".{os.getpid()}.tmp")
        partial_manifest.write_text(json.dumps(manifest, indent=1))
        os.replace(partial_manifest, manifest_path)
        return models, manifest
    with np.load(npz_path, allow_pickle=False) as data:
        models = [
            {key.split("/", 1)[1]: data[key] for key in data.files if key.startswith(f"model{i}/")}
            for i in range(len(sources))
        ]
    return models, manifest


# ---------------------------------------------------------------------------------------------
# The ensemble


class SpliceAIEnsemble:
    """The mean of several SpliceAI networks of one architecture.

    Each member runs through the same compiled function (its parameters are an argument), so one
    compilation per input shape serves the whole ensemble, and only one member's activations are
    alive at a time.

    Parameters
    ----------
    members
        Networks with identical configs.
    weights_sha256
        Checksum of the weights the members were loaded from (recorded in model cards).
    """

    def __init__(self, members: Sequence[SpliceAI], *, weights_sha256: str = "") -> None:
        if not members:
            msg = "a SpliceAI ensemble needs at least one member"
            raise ValueError(msg)
        self.config = members[0].config
        self.size = len(members)
        self.weights_sha256 = weights_sha256
        split = [nnx.split(member) for member in members]
        self._graphdef = split[0][0]
        self._states = [state for _, state in split]

    @property
    def flank(self) -> int:
        """Context each output needs on each side."""
        return self.config.flank

    def member(self, index: int) -> SpliceAI:
        """One member network."""
        return nnx.merge(self._graphdef, self._states[index])

    def _check(self, onehot: np.ndarray | jax.Array) -> jax.Array:
        onehot = jnp.asarray(onehot, dtype=jnp.float32)
        if onehot.ndim != 3 or onehot.shape[-1] != 4 or onehot.shape[1] <= 2 * self.flank:
            msg = f"SpliceAI needs one-hot input (batch, length > {2 * self.flank}, 4), got shape {onehot.shape}"
            raise ValueError(msg)
        return onehot

    def __call__(self, onehot: np.ndarray | jax.Array) -> np.ndarray:
        """Mean class probabilities ``(B, S - 2 * flank, 3)`` for one-hot ``(B, S, 4)``."""
        onehot = self._check(onehot)
        total = sum(np.asarray(_member_forward(self._graphdef, state, onehot)) for state in self._states)
        return total / np.float32(self.size)

    def ref_and_snv_alt(
        self,
        onehot: np.ndarray | jax.Array,
        sequences: np.ndarray,
        positions: np.ndarray,
        alt_onehot: np.ndarray,
        *,
        distance: int,
        batch: int = 16,
    ) -> tuple[np.ndarray, np.ndarray]:
        """REF probabilities of a batch of sequences and ALT probabilities around SNVs in them.

        Each member traces the REF sequences once, then recomputes only each SNV's cone of changed
        activations (:meth:`SpliceAI.snv_alt`) in batches of ``batch`` SNVs (the last one padded), so
        every call has one of two shapes.

        Parameters
        ----------
        onehot
            ``(B, S, 4)`` REF sequences.
        sequences, positions
            ``(n,)`` each SNV's sequence and output index (``distance`` or more from either end).
        alt_onehot
            ``(n, 4)`` the ALT bases.

        Returns
        -------
        Mean REF probabilities ``(B, S - 2 * flank, 3)`` and mean ALT probabilities
        ``(n, 2 * distance + 1, 3)`` at outputs ``p - distance .. p + distance``.
        """
        onehot = self._check(onehot)
        positions = np.asarray(positions, dtype=np.int32)
        outputs = onehot.shape[1] - 2 * self.flank
        if positions.size and (positions.min() < distance or positions.max() >= outputs - distance):
            msg = f"SNV positions must lie {distance} or more outputs from the ends of the {outputs} outputs"
            raise ValueError(msg)
        count = len(positions)
        padded = -(-count // batch) * batch
        seqs = np.zeros(padded, np.int32)
        seqs[:count] = sequences
        pos = np.full(padded, distance, np.int32)
        pos[:count] = positions
        alts = np.zeros((padded, 4), np.float32)
        alts[:count] = alt_onehot
        ref_total = np.zeros((onehot.shape[0], outputs, self.config.num_classes), np.float32)
        alt_total = np.zeros((padded, 2 * distance + 1, self.config.num_classes), np.float32)
        for state in self._states:
            probabilities, residuals, hiddens = _member_trace(self._graphdef, state, onehot)
            ref_total += np.asarray(probabilities)
            for first in range(0, padded, batch):
                part = slice(first, first + batch)
                alt_total[part] += np.asarray(
                    _member_snv_alt(
                        self._graphdef, state, residuals, hiddens, seqs[part], pos[part], alts[part], distance
                    )
                )
        return ref_total / np.float32(self.size), alt_total[:count] / np.float32(self.size)


@functools.partial(jax.jit, static_argnums=0)
def _member_forward(graphdef: nnx.GraphDef, state: nnx.State, onehot: jax.Array) -> jax.Array:
    return nnx.merge(graphdef, state)(onehot)


@functools.partial(jax.jit, static_argnums=0)
def _member_trace(graphdef: nnx.GraphDef, state: nnx.State, onehot: jax.Array) -> tuple:
    return nnx.merge(graphdef, state).trace(onehot)


@functools.partial(jax.jit, static_argnums=(0, 7))
def _member_snv_alt(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    residuals: list[jax.Array],
    hiddens: list[jax.Array],
    sequences: jax.Array,
    positions: jax.Array,
    alt_onehot: jax.Array,
    distance: int,
) -> jax.Array:
    return nnx.merge(graphdef, state).snv_alt(residuals, hiddens, sequences, positions, alt_onehot, distance=distance)


def build_member(
    config: SpliceAIConfig, params: dict[str, np.ndarray] | None = None, *, seed: int = 0, source: str = "parameters"
) -> SpliceAI:
    """A network with ``params`` (flat dotted paths) or, without them, random initial values."""
    if params is None:
        return SpliceAI(config, rngs=nnx.Rngs(seed))
    # Random initialisation would compile and run dozens of throw-away programs: fill the skeleton instead.
    return _with_params(config, params, source)


def load_ensemble(*, cache: str | os.PathLike[str] | None = None) -> SpliceAIEnsemble:
    """The five trained SpliceAI-10k models of the installed ``spliceai`` package, as one ensemble.

    The first call converts the Keras files and caches the result (with SHA-256 checksums) under
    ``cache`` (default :func:`cache_dir`); later calls verify and load the cache.
    """
    config = SpliceAIConfig.spliceai_10k()
    sources = keras_weight_files()
    models, manifest = _converted_weights(sources, config, Path(cache) if cache is not None else cache_dir())
    members = [
        build_member(config, params, source=f"{source.name}") for params, source in zip(models, sources, strict=True)
    ]
    return SpliceAIEnsemble(members, weights_sha256=manifest["weights_sha256"])
