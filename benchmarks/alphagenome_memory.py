"""Memory and FLOPs of the full AlphaGenome forward pass at 1 Mb, from XLA's compile-time analysis (no weights, no run).

Compiles (does not execute) the forward pass of the ``full`` preset for a (batch, length) input on the
local backend (a CPU is enough) and prints XLA's memory analysis (argument, output, temp bytes) per
compute dtype, the parameter count per part and the FLOPs of XLA's cost analysis.

usage: python benchmarks/alphagenome_memory.py [--length 1048576] [--batch 2] [--dtypes float32 bfloat16]
                                               [--heads atac rna_seq ...] [--all-outputs]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
from flax import nnx

from genome_plugin.model.config import AlphaGenomeConfig
from genome_plugin.model.network import AlphaGenome, count_params

GIB = 1024**3


def compile_forward(
    config: AlphaGenomeConfig, batch: int, length: int, heads: tuple[str, ...] | None, *, all_outputs: bool
):
    abstract = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(abstract)

    def forward(state, dna, organism):
        model = nnx.merge(graphdef, state)
        out = model(dna, organism, heads=heads)
        if not all_outputs:
            # What AlphaGenomeModel.predict returns: data-space predictions only, in the compute dtype.
            return {
                h: {k: v for k, v in d.items() if k.startswith("predictions")}
                for h, d in out.items()
                if h != "embeddings"
            }
        out.pop("embeddings")
        return out

    dna = jax.ShapeDtypeStruct((batch, length, 4), jnp.float32)
    organism = jax.ShapeDtypeStruct((batch,), jnp.int32)
    start = time.perf_counter()
    lowered = jax.jit(forward).lower(state, dna, organism)
    compiled = lowered.compile()
    return abstract, compiled, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1_048_576)
    parser.add_argument("--batch", type=int, default=2, help="2 = one variant (REF + ALT)")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--heads", nargs="+", default=None, help="heads to compile (default: all)")
    parser.add_argument(
        "--all-outputs",
        action="store_true",
        help="keep every official output (scaled predictions, logits, masks) instead of the predictions only",
    )
    args = parser.parse_args()

    print(f"backend: {jax.default_backend()}  devices: {jax.devices()}")
    heads = "all" if args.heads is None else args.heads
    outputs = "every official output" if args.all_outputs else "predictions only"
    print(f"input: batch {args.batch} x {args.length:,} bp; heads: {heads}; {outputs}")
    for dtype in args.dtypes:
        config = AlphaGenomeConfig.full().with_compute_dtype(dtype)
        model, compiled, seconds = compile_forward(
            config, args.batch, args.length, args.heads and tuple(args.heads), all_outputs=args.all_outputs
        )
        if dtype == args.dtypes[0]:
            print("parameters per part:")
            for part, n in count_params(model).items():
                print(f"  {part:18s} {n:>13,d}")
        mem = compiled.memory_analysis()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        total = mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
        total -= mem.alias_size_in_bytes
        print(f"compute dtype {dtype} (params float32), compiled in {seconds:.0f} s:")
        print(f"  argument bytes  {mem.argument_size_in_bytes / GIB:8.2f} GiB")
        print(f"  output bytes    {mem.output_size_in_bytes / GIB:8.2f} GiB")
        print(f"  temp bytes      {mem.temp_size_in_bytes / GIB:8.2f} GiB")
        print(f"  total           {total / GIB:8.2f} GiB")
        print(f"  FLOPs           {cost.get('flops', float('nan')):.3e}")


if __name__ == "__main__":
    main()
