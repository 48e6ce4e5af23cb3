"""AlphaGenome Flax model: shapes, training step, RMS batch norm modes, precision, presets, checkpoints, adapter."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genome_plugin.model.config import HEAD_SPECS, OFFICIAL_TRACK_COUNTS, AlphaGenomeConfig
from genome_plugin.model.layers import RMSBatchNorm
from genome_plugin.model.network import AlphaGenome, count_params, init_on_host
from genome_plugin.tracks import OutputType

TINY = AlphaGenomeConfig.tiny()


@pytest.fixture(scope="module")
def tiny_model() -> AlphaGenome:
    return init_on_host(TINY, seed=0)


@pytest.fixture(scope="module")
def forward():
    """One compiled full forward pass, shared by the tests (compiling dominates the run time on a CPU)."""
    return nnx.jit(lambda m, x, o: m(x, o))


def _onehot(batch: int, length: int, seed: int = 0) -> jnp.ndarray:
    return jax.nn.one_hot(np.random.default_rng(seed).integers(0, 4, (batch, length)), 4)


def _expected_shapes(config: AlphaGenomeConfig, batch: int, length: int) -> dict[str, tuple]:
    counts = config.heads.counts
    shapes = {}
    for name, count in counts.items():
        spec = HEAD_SPECS[name]
        if spec.kind == "genome_tracks":
            for r in spec.resolutions:
                shapes[f"{name}/scaled_predictions_{r}bp"] = (batch, length // r, count)
                shapes[f"{name}/predictions_{r}bp"] = (batch, length // r, count)
        elif spec.kind == "contact_maps":
            n = length // config.pair_resolution
            shapes[f"{name}/predictions"] = (batch, n, n, count)
        elif spec.kind in ("splice_sites_classification", "splice_sites_usage"):
            shapes[f"{name}/logits"] = (batch, length, count)
            shapes[f"{name}/predictions"] = (batch, length, count)
        else:
            k = config.heads.num_splice_sites
            shapes[f"{name}/predictions"] = (batch, k, k, 2 * count)
            shapes[f"{name}/splice_junction_mask"] = (batch, k, k, 2 * count)
            shapes[f"{name}/splice_site_positions"] = (batch, 4, k)
    n = length // config.pair_resolution
    shapes["embeddings/embeddings_1bp"] = (batch, length, config.embedding_1bp_width)
    shapes["embeddings/embeddings_128bp"] = (batch, length // 128, config.embedding_128bp_width)
    shapes["embeddings/embeddings_pair"] = (batch, n, n, config.transformer.pair_channels)
    return shapes


@pytest.mark.parametrize("length", [4096, 6144])
def test_tiny_forward_shapes_every_output(tiny_model, forward, length):
    out = forward(tiny_model, _onehot(2, length), jnp.array([0, 1]))
    got = {f"{h}/{k}": tuple(v.shape) for h, d in out.items() for k, v in d.items()}
    assert got == _expected_shapes(TINY, 2, length)
    for key in got:
        head, field = key.split("/")
        assert np.all(np.isfinite(np.asarray(out[head][field], np.float32))), key
    probs = np.asarray(out["splice_sites_classification"]["predictions"])
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert out["splice_sites_usage"]["predictions"].dtype == jnp.float16
    positions = np.asarray(out["splice_sites_junction"]["splice_site_positions"])
    assert positions.min() >= -1 and positions.max() < length
    # mouse (organism 1) has fewer junction tissues: its extra channels are masked to zero
    t = TINY.heads.counts["splice_sites_junction"]
    mouse_tissues = TINY.heads.junction_tissues_per_organism[1]
    assert not np.asarray(out["splice_sites_junction"]["splice_junction_mask"])[1, ..., mouse_tissues:t].any()


def test_tiny_training_step_gradients_and_batch_norm_ema(tiny_model):
    model = nnx.clone(tiny_model)
    model.train()
    x, org = _onehot(2, 4096, seed=1), jnp.array([0, 1])
    before = np.asarray(model.encoder.dna_embedder.conv_block.norm.var_ema[...]).copy()

    def loss_fn(m):
        out = m(x, org)
        return jnp.mean(out["atac"]["scaled_predictions_1bp"]) + jnp.mean(out["contact_maps"]["predictions"] ** 2)

    loss, grads = nnx.jit(nnx.value_and_grad(loss_fn))(model)
    assert np.isfinite(float(loss))
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)
    assert np.abs(np.asarray(grads["encoder"]["dna_embedder"]["conv"]["w"])).sum() > 0
    after = np.asarray(model.encoder.dna_embedder.conv_block.norm.var_ema[...])
    assert not np.allclose(before, after), "training mode must update var_ema"
    model.eval()
    assert model.encoder.dna_embedder.conv_block.norm.use_running_average


def test_rms_batch_norm_inference_uses_state_and_training_uses_batch():
    norm = RMSBatchNorm(3, decay=0.9)
    norm.var_ema[...] = jnp.array([4.0, 1.0, 0.25])
    norm.scale[...] = jnp.array([1.0, 2.0, 3.0])
    norm.offset[...] = jnp.array([0.5, 0.0, -0.5])
    x = jnp.arange(12.0).reshape(2, 2, 3)
    expected = np.asarray(x) * np.array([1.0, 2.0, 3.0]) / np.sqrt(np.array([4.0, 1.0, 0.25]) + 1e-5) + [0.5, 0, -0.5]
    np.testing.assert_allclose(np.asarray(norm(x)), expected, rtol=1e-6)
    norm.use_running_average = False
    batch_var = np.mean(np.asarray(x) ** 2, axis=(0, 1))
    y = norm(x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(x) * [1, 2, 3] / np.sqrt(batch_var + 1e-5) + [0.5, 0, -0.5],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(
        np.asarray(norm.var_ema[...]), 0.9 * np.array([4.0, 1.0, 0.25]) + 0.1 * batch_var, rtol=1e-6
    )


def test_bf16_compute_keeps_fp32_params_and_stays_close(tiny_model):
    bf16 = nnx.eval_shape(lambda: AlphaGenome(TINY.with_compute_dtype("bfloat16"), rngs=nnx.Rngs(0)))
    nnx.update(bf16, nnx.state(tiny_model))
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(nnx.state(bf16, nnx.Param)))
    x, org = _onehot(1, 4096, seed=2), jnp.array([0])
    run = nnx.jit(lambda m, x, o: m(x, o, heads=("atac", "splice_sites_classification")))
    ref, low = run(tiny_model, x, org), run(bf16, x, org)
    assert low["atac"]["scaled_predictions_1bp"].dtype == jnp.bfloat16
    assert low["splice_sites_classification"]["predictions"].dtype == jnp.float32  # softmax in fp32
    a = np.asarray(ref["atac"]["scaled_predictions_128bp"], np.float32)
    b = np.asarray(low["atac"]["scaled_predictions_128bp"], np.float32)
    assert np.max(np.abs(a - b)) < 0.1 * np.max(np.abs(a))


def test_track_selection_matches_full_head(tiny_model, forward):
    x, org = _onehot(2, 4096, seed=3), jnp.array([1, 0])
    full = forward(tiny_model, x, org)
    sel = {"cage": jnp.array([3, 1]), "splice_sites_usage": jnp.array([2]), "contact_maps": jnp.array([1])}
    run = nnx.jit(lambda m, x, o, t: m(x, o, heads=tuple(sel), track_indices=t))
    part = run(tiny_model, x, org, sel)
    checks = [("cage", "predictions_1bp"), ("cage", "predictions_128bp"), ("splice_sites_usage", "logits"),
              ("contact_maps", "predictions")]  # fmt: skip
    for head, field in checks:
        expected = np.asarray(full[head][field])[..., np.asarray(sel[head])]
        np.testing.assert_allclose(np.asarray(part[head][field]), expected, rtol=1e-4, atol=1e-4)


def test_full_preset_parameter_counts():
    mock = {name: 3 for name in OFFICIAL_TRACK_COUNTS} | {"splice_sites_classification": 5}
    config = AlphaGenomeConfig.full().with_track_counts(mock, junction_tissues_per_organism=(3, 2))
    abstract = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(0)))
    assert count_params(abstract)["total"] == 406_517_293  # the official trunk with 3-track heads
    full = count_params(nnx.eval_shape(lambda: AlphaGenome(AlphaGenomeConfig.full(), rngs=nnx.Rngs(0))))
    assert 440e6 < full["total"] < 460e6
    assert full["encoder"] == 89_972_992 and full["decoder"] == 111_501_447


def test_config_round_trip_and_length_checks():
    for name in ("tiny", "small", "full"):
        config = AlphaGenomeConfig.preset(name)
        assert AlphaGenomeConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="multiple of 2048"):
        TINY.validate_length(3072)
    with pytest.raises(ValueError, match="unknown AlphaGenome preset"):
        AlphaGenomeConfig.preset("huge")


def test_save_restore_round_trip_with_card(tiny_model, tmp_path):
    from genome_plugin.model.checkpoint import load_model, read_card, save_model, weights_sha256

    out = save_model(tiny_model, tmp_path / "ckpt", version="test", licence="Apache-2.0")
    card = read_card(out)
    assert card["weights_sha256"] == weights_sha256(tiny_model)
    assert card["config"]["name"] == "tiny" and card["parameters"]["total"] == count_params(tiny_model)["total"]
    restored = load_model(out, verify=True)
    a = nnx.to_pure_dict(nnx.state(tiny_model))
    b = nnx.to_pure_dict(nnx.state(restored))
    jax.tree.map(lambda u, v: np.testing.assert_array_equal(np.asarray(u), np.asarray(v)), a, b)
    with pytest.raises(ValueError, match="already exists"):
        save_model(tiny_model, out)


def test_adapter_contract_and_selection(tiny_model, forward):
    from genome_plugin.model.adapter import AlphaGenomeModel

    adapter = AlphaGenomeModel(tiny_model, input_lengths=(4096, 8192))
    assert OutputType.SPLICE_JUNCTIONS in adapter.output_types()
    assert adapter.valid_length(5000) == 8192
    splice = adapter.tracks(OutputType.SPLICE_SITES)
    assert len(splice) == 4  # the padding class is hidden
    np.testing.assert_array_equal(adapter.strand_swap(OutputType.SPLICE_SITES), [2, 3, 0, 1])
    x = np.asarray(_onehot(2, 4096, seed=4))
    requests = {OutputType.DNASE: np.array([2, 0]), OutputType.CONTACT_MAPS: None, OutputType.SPLICE_SITES: None}
    out = adapter.predict(x, organism="mouse", requests=requests)
    assert set(out) == {(OutputType.DNASE, 1), (OutputType.DNASE, 128), (OutputType.CONTACT_MAPS, 2048),
                        (OutputType.SPLICE_SITES, 1)}  # fmt: skip
    assert out[(OutputType.DNASE, 1)].shape == (2, 4096, 2)
    assert out[(OutputType.CONTACT_MAPS, 2048)].shape == (2, 2, 2, TINY.heads.counts["contact_maps"])
    assert out[(OutputType.SPLICE_SITES, 1)].shape == (2, 4096, 4)
    direct = forward(tiny_model, jnp.asarray(x), jnp.array([1, 1]))
    expected = np.asarray(direct["dnase"]["predictions_128bp"])[..., [2, 0]]
    np.testing.assert_allclose(out[(OutputType.DNASE, 128)], expected, rtol=1e-4, atol=1e-4)
    counts, sites = adapter.predict_junctions(x, organism="human", tracks=np.array([0, 3]))
    k = TINY.heads.num_splice_sites
    assert counts.shape == (2, k, k, 2) and sites.shape == (2, 4, k) and sites.dtype == np.int32
    assert np.all(counts[sites[:, 0] < 0][..., 0] == 0)  # rows without a donor+ site are masked
    with pytest.raises(ValueError, match="no organism"):
        adapter.predict(x, organism="fly", requests=requests)
    with pytest.raises(ValueError, match="track indices"):
        adapter.predict(x, requests={OutputType.DNASE: np.array([99])})
    assert adapter.card()["preset"] == "tiny"


def test_junction_sites_as_the_sdk_chooses_them(tiny_model):
    from genome_plugin.model.adapter import AlphaGenomeModel

    adapter = AlphaGenomeModel(tiny_model, input_lengths=None)  # threshold 0.1, 16 sites per class
    k = TINY.heads.num_splice_sites
    ref, alt = np.zeros((64, 5), np.float32), np.zeros((64, 5), np.float32)
    ref[10, 0] = 0.9  # donor+ on REF
    ref[40, 1], alt[40, 1] = 0.8, 0.05  # acceptor+: the larger of the two counts
    ref[30, 2], ref[33, 2] = 0.11, 0.09  # donor-: above and below the 0.1 threshold
    ref[55, 0] = 0.95  # outside the mask: never chosen
    alt[25, 0] = 0.7  # a donor+ only ALT predicts: chosen, so the junctions it makes are scored
    annotated = np.zeros((64, 4), bool)
    annotated[5, 3] = annotated[50, 2] = True  # annotated acceptor- and donor-: always chosen
    mask = np.ones(64, bool)
    mask[55] = False

    def padded(*positions):
        return list(positions) + [-1] * (k - len(positions))

    sites = adapter.junction_sites(ref, alt, site_mask=mask, annotated_sites=annotated)
    assert sites.tolist() == [padded(10, 25), padded(40), padded(30, 50), padded(5)]
    # REF alone (the old choice) misses the ALT-only donor at 25
    assert adapter.junction_sites(ref, ref, site_mask=mask).tolist()[0] == padded(10)
    # more candidates than k: the k most probable, in position order
    many = np.zeros((64, 5), np.float32)
    many[:20, 0] = 0.2 + 0.01 * np.arange(20)  # positions 4..19 are the 16 most probable
    assert adapter.junction_sites(many, many)[0].tolist() == list(range(4, 20))


def test_junctions_at_sites_of_ref_and_alt_with_sdk_coordinates():
    from genome_plugin.model.adapter import AlphaGenomeModel

    model = init_on_host(TINY, seed=1)  # threshold 0.1, 16 sites per class
    adapter = AlphaGenomeModel(model, input_lengths=None)
    k, threshold = TINY.heads.num_splice_sites, TINY.heads.splice_site_threshold
    ref = np.asarray(_onehot(1, 4096, seed=7))[0]
    alt = ref.copy()
    alt[2000:2010] = alt[2000:2010][:, [1, 2, 3, 0]]  # a 10 bp MNV
    mask = np.zeros(4096, bool)
    mask[2100:2200] = True  # where these random weights give ALT acceptor- sites that REF lacks
    annotated = np.zeros((4096, 4), bool)
    annotated[2105, 0] = annotated[2195, 2] = True  # the random weights predict no donor+ and few donor- sites
    table, ref_counts, alt_counts = adapter.junctions(ref, alt, site_mask=mask, annotated_sites=annotated)
    tracks = adapter.tracks(OutputType.SPLICE_JUNCTIONS).df
    assert ref_counts.shape == alt_counts.shape == (len(table), len(tracks))

    # the sites, chosen here by hand from the network's own splice-site probabilities
    organism = jnp.zeros((1,), jnp.int32)
    embed = nnx.jit(lambda m, x: m.embed(x, organism))
    classify = nnx.jit(lambda m, e: m.heads["splice_sites_classification"](e, organism)["predictions"])
    ref_emb, alt_emb = embed(model, jnp.asarray(ref)[None]), embed(model, jnp.asarray(alt)[None])
    ref_p = np.asarray(classify(model, ref_emb), np.float32)[0, :, :4]
    alt_p = np.asarray(classify(model, alt_emb), np.float32)[0, :, :4]

    def top(probs):  # per class: the 16 most probable positions in the mask at or above 0.1, in position order
        masked = np.where(mask[:, None], probs, 0.0)
        return [sorted(p for p in np.argsort(-masked[:, c], kind="stable")[:k].tolist() if masked[p, c] >= threshold)
                for c in range(4)]

    sites = top(np.maximum(np.maximum(ref_p, alt_p), annotated))
    assert 2105 in sites[0] and 2195 in sites[2]
    alt_only = set(sites[3]) - set(top(ref_p)[3])
    assert alt_only and all(ref_p[p, 3] < threshold for p in alt_only)  # acceptors- that only ALT creates
    # every donor x acceptor pair with start < end, in the SDK's coordinates (donor = last exon base,
    # acceptor = first exon base): + start = donor + 1, end = acceptor; - start = acceptor + 1, end = donor
    expected = [(d + 1, a, "+", i, j) for i, d in enumerate(sites[0]) for j, a in enumerate(sites[1]) if d + 1 < a]
    expected += [(a + 1, d, "-", i, j) for i, d in enumerate(sites[2]) for j, a in enumerate(sites[3]) if a + 1 < d]
    got = list(table[["start", "end", "strand", "donor_rank", "acceptor_rank"]].itertuples(index=False, name=None))
    assert got == expected
    assert any(strand == "-" and start - 1 in alt_only for start, _, strand, _, _ in got)  # a junction ALT creates

    # both alleles' counts are the junction head's at those same sites; the other strand's tracks are 0
    heads = nnx.jit(lambda m, e, p: m.predict_junctions(e["embeddings_1bp"], p, organism)["predictions"])
    positions = jnp.asarray([c + [-1] * (k - len(c)) for c in sites], jnp.int32)[None]  # -1 pads, as the head takes
    for counts, emb in ((ref_counts, ref_emb), (alt_counts, alt_emb)):
        head = np.asarray(heads(model, emb, positions))[0]  # [K, K, tracks]
        for strand in ("+", "-"):
            on = (tracks["strand"] == strand).to_numpy()
            rows = np.flatnonzero(table["strand"].to_numpy() == strand)
            d, a = table["donor_rank"].to_numpy()[rows], table["acceptor_rank"].to_numpy()[rows]
            np.testing.assert_allclose(counts[rows][:, on], head[d, a][:, on], rtol=1e-5,
                                       atol=1e-5 * float(np.abs(head).max()))
            assert np.all(counts[rows][:, ~on] == 0)
    assert not np.allclose(ref_counts, alt_counts)
    _, same_ref, same_alt = adapter.junctions(ref, ref, site_mask=mask, annotated_sites=annotated)
    np.testing.assert_array_equal(same_alt, same_ref)  # an unchanged ALT scores exactly 0
    with pytest.raises(ValueError, match="differ in length"):
        adapter.junctions(ref, ref[:-1])
    with pytest.raises(ValueError, match="site_mask must have shape"):
        adapter.junctions(ref, ref, site_mask=mask[:-1])


@pytest.mark.parametrize(("offset", "ref_allele", "alt_allele"), [
    (10, "A", "ACGT"),  # insertion: bases 11..13 collapse onto the anchor 10 by max, the last 3 REF bases take REF
    (10, "ACG", "A"),  # deletion: 11, 12 are 0 in ALT, the rest shifts back by 2
    (10, "AC", "TTTT"),  # complex: 2 shared bases, then as an insertion of 2
    (0, "AC", "A"),  # at the window's first base
    (60, "A", "AGG"),  # near the end: the insertion pushes the last 2 bases out
])
def test_align_alt_1bp_is_align_alternate_at_1bp(offset, ref_allele, alt_allele):
    from genome_plugin.genome import Interval, Variant
    from genome_plugin.model.adapter import align_alt_1bp
    from genome_plugin.scoring.align import align_alternate

    rng = np.random.default_rng(3)
    ref, alt = rng.normal(size=(64, 3)).astype(np.float32), rng.normal(size=(64, 3)).astype(np.float32)
    variant = Variant("c", 1000 + offset + 1, ref_allele, alt_allele)
    expected = align_alternate(alt, ref, variant=variant, interval=Interval("c", 1000, 1064), resolution=1)
    got = align_alt_1bp(jnp.asarray(alt)[None], jnp.asarray(ref)[None], offset=offset, ref_length=len(ref_allele),
                        alt_length=len(alt_allele))
    np.testing.assert_allclose(np.asarray(got)[0], expected, rtol=1e-6)


def test_junctions_of_an_insertion_read_alt_in_ref_coordinates():
    from genome_plugin.genome import Interval, Variant
    from genome_plugin.model.adapter import AlphaGenomeModel
    from genome_plugin.scoring.align import align_alternate

    model = init_on_host(TINY, seed=1)
    adapter = AlphaGenomeModel(model, input_lengths=None)
    k, threshold = TINY.heads.num_splice_sites, TINY.heads.splice_site_threshold
    ref = np.asarray(_onehot(1, 4096, seed=7))[0]
    inserted = np.asarray(_onehot(1, 6, seed=9))[0]
    alt = np.concatenate([ref[:2051], inserted, ref[2051:-6]])  # 6 bases inserted after the anchor base 2050
    variant = Variant("c", 2051, "A", "ACGTAC")  # 0-based 2050; only the lengths matter to the alignment
    mask = np.zeros(4096, bool)
    mask[3330:3400] = True  # where ALT's acceptor- sites, 6 bp right in ALT's own coordinates, differ from REF's
    annotated = np.zeros((4096, 4), bool)
    annotated[3335, 0] = annotated[3395, 2] = True
    table, _, alt_counts = adapter.junctions(ref, alt, site_mask=mask, annotated_sites=annotated,
                                             indel=(2050, 1, 6))

    organism = jnp.zeros((1,), jnp.int32)
    embed = nnx.jit(lambda m, x: m.embed(x, organism)["embeddings_1bp"])
    classify = nnx.jit(lambda m, e: m.heads["splice_sites_classification"]({"embeddings_1bp": e}, organism))
    ref_emb, alt_emb = embed(model, jnp.asarray(ref)[None]), embed(model, jnp.asarray(alt)[None])
    window = Interval("c", 0, 4096)

    def aligned(alt_values, ref_values):  # the host-side aligner the scorers use, as the reference
        return align_alternate(np.asarray(alt_values, np.float32)[0], np.asarray(ref_values, np.float32)[0],
                               variant=variant, interval=window, resolution=1)

    ref_p = np.asarray(classify(model, ref_emb)["predictions"], np.float32)[0, :, :4]
    alt_p = aligned(classify(model, alt_emb)["predictions"], classify(model, ref_emb)["predictions"])[:, :4]
    combined = np.where(mask[:, None], np.maximum(np.maximum(ref_p, alt_p), annotated), 0.0)
    sites = [sorted(p for p in np.argsort(-combined[:, c], kind="stable")[:k].tolist() if combined[p, c] >= threshold)
             for c in range(4)]
    expected = [(d + 1, a, "+") for d in sites[0] for a in sites[1] if d + 1 < a]
    expected += [(a + 1, d, "-") for d in sites[2] for a in sites[3] if a + 1 < d]
    assert list(table[["start", "end", "strand"]].itertuples(index=False, name=None)) == expected
    assert sum(strand == "-" for *_, strand in expected) > 0
    # ALT counts come from ALT's embeddings aligned to REF coordinates, at REF-coordinate sites
    heads = nnx.jit(lambda m, e, p: m.predict_junctions(e, p, organism)["predictions"])
    positions = jnp.asarray([c + [-1] * (k - len(c)) for c in sites], jnp.int32)[None]
    head = np.asarray(heads(model, jnp.asarray(aligned(alt_emb, ref_emb))[None], positions))[0]
    tracks = adapter.tracks(OutputType.SPLICE_JUNCTIONS).df
    for strand in ("+", "-"):
        on = (tracks["strand"] == strand).to_numpy()
        rows = np.flatnonzero(table["strand"].to_numpy() == strand)
        d, a = table["donor_rank"].to_numpy()[rows], table["acceptor_rank"].to_numpy()[rows]
        np.testing.assert_allclose(alt_counts[rows][:, on], head[d, a][:, on], rtol=1e-4,
                                   atol=1e-4 * float(np.abs(head).max()))
    assert np.abs(alt_counts).max() > 0
