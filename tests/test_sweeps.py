import json

import numpy as np
import pytest
import torch

from neuroevo import DirectGenome, EmbeddingGenome
from neuroevo.sweeps import (
    SweepParents,
    area_under_curve,
    loss_barrier,
    mean_confidence_interval,
    run_sweep,
)
from neuroevo.evaluation import evaluate_population
from neuroevo.sweeps.variants import TRANSPLANT_ONLY, VARIANTS
from tests.conftest import small_conv, small_dense, synthetic_dataset


def _parents(arch, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = EmbeddingGenome.random(arch, 6, generator=gen)
    b = EmbeddingGenome.random(arch, 6, input_encoding=a.input_encoding, generator=gen)
    return SweepParents(
        direct=(DirectGenome.random(arch, generator=gen), DirectGenome.random(arch, generator=gen)),
        embedding=(a, b),
    )


def test_confidence_interval_matches_t_table():
    values = np.array([[1.0], [2.0], [3.0], [4.0]])
    mean, half = mean_confidence_interval(values)
    # sd = 1.291, sem = 0.6455, t(0.975, 3) = 3.182
    assert mean[0] == pytest.approx(2.5)
    assert half[0] == pytest.approx(3.182446 * 1.2909944 / 2, rel=1e-5)
    assert mean_confidence_interval(np.array([[5.0]]))[1][0] == 0.0


def test_auc_and_barrier():
    x = np.linspace(0, 1, 11)
    assert area_under_curve(x, np.ones(11)) == pytest.approx(1.0)
    assert area_under_curve(x, x) == pytest.approx(0.5)
    assert loss_barrier(np.array([0, 0.5, 1.0]), np.array([1.0, 3.0, 2.0])) == pytest.approx(1.5)
    assert loss_barrier(np.array([0, 0.5, 1.0]), np.array([1.0, 1.5, 2.0])) == pytest.approx(0.0)


@pytest.mark.parametrize("kind, layer", [("transplant", 0), ("interpolate", 1), ("interpolate-all", None)])
def test_sweep_endpoints_and_outputs(tmp_path, kind, layer):
    arch = small_dense()
    parents = _parents(arch)
    data = synthetic_dataset(arch)
    result = run_sweep(kind, parents, data, layer=layer, coefficients=[0.0, 0.5, 1.0],
                       repeats=3, probe=data.images[:32], progress=False)
    names = {c.variant for c in result.curves}
    assert "embedding" in names and "direct-aligned-repair" in names
    for curve in result.curves:
        assert curve.accuracy.shape[1] == 3
        # Coefficient 0 leaves the target parent exactly as it was (REPAIR may still rescale).
        if "repair" not in curve.variant:
            np.testing.assert_allclose(curve.accuracy[:, 0], curve.target_accuracy, atol=1e-6)
    paths = result.write(tmp_path, "sweep")
    payload = json.loads(paths["json"].read_text())
    assert payload["kind"] == kind and len(payload["summary"]) == len(result.curves)
    assert paths["csv"].read_text().startswith("variant,coefficient,accuracy")
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_whole_layer_embedding_transplant_reproduces_the_donor_layer():
    arch = small_conv("position")
    parents = _parents(arch)
    result = run_sweep("transplant", parents, synthetic_dataset(arch), layer=0, coefficients=[0.0, 1.0],
                       repeats=2, variants=["embedding", "embedding-aligned"], progress=False)
    # At coefficient 1 the whole layer is the donor's, whatever order the donor's neurons had.
    full = result.curves[0].accuracy[:, 1]
    assert np.all(full == full[0])
    np.testing.assert_allclose(result.curves[1].accuracy[:, 1], full)


ALL_HIDDEN_VARIANTS = ["direct", "direct-outgoing", "direct-aligned-weights", "embedding", "embedding-aligned"]


def test_transplant_all_hidden_at_zero_keeps_the_target_and_leaves_parents_alone():
    parents, data = _parents(small_dense()), synthetic_dataset(small_dense())
    hashes = [g.content_hash for pair in (parents.direct, parents.embedding) for g in pair]
    result = run_sweep("transplant-all-hidden", parents, data, coefficients=[0.0, 1.0], repeats=2,
                       probe=data.images[:16], variants=ALL_HIDDEN_VARIANTS, progress=False)
    assert [c.variant for c in result.curves] == ALL_HIDDEN_VARIANTS
    for curve in result.curves:
        assert curve.accuracy.shape == (2, 2)
        np.testing.assert_allclose(curve.accuracy[:, 0], curve.target_accuracy)
    assert {"retention_at_0.5", "retention_auc"} <= set(result.summary()[0])
    assert hashes == [g.content_hash for pair in (parents.direct, parents.embedding) for g in pair]


def test_transplant_all_hidden_at_one_changes_children():
    parents, data = _parents(small_dense(), 1), synthetic_dataset(small_dense(), seed=1)
    result = run_sweep("transplant-all-hidden", parents, data, coefficients=[0.0, 1.0], repeats=1,
                       variants=["embedding"], progress=False)
    assert result.curves[0].cross_entropy[0, 1] != pytest.approx(result.curves[0].cross_entropy[0, 0])


def test_bad_input_is_rejected_before_evaluation():
    arch = small_dense()
    parents = _parents(arch)
    data = synthetic_dataset(arch)
    with pytest.raises(ValueError, match="does not exist"):
        run_sweep("transplant", parents, data, layer=7, progress=False)
    with pytest.raises(ValueError, match="output layer"):
        run_sweep("transplant", parents, data, layer=-1, progress=False)
    with pytest.raises(ValueError, match="probe"):
        run_sweep("transplant", parents, data, layer=0, variants=["direct-aligned-activation"], progress=False)
    other = EmbeddingGenome.random(arch, 6)
    mixed = SweepParents(embedding=(parents.embedding[0], other))
    with pytest.raises(ValueError, match="different input encodings"):
        run_sweep("transplant", mixed, data, layer=0, progress=False)
    wider = SweepParents(direct=(parents.direct[0], DirectGenome.random(small_conv())))
    with pytest.raises(ValueError, match="different architectures"):
        run_sweep("transplant", wider, data, layer=0, progress=False)
    with pytest.raises(ValueError, match="unknown variants"):
        run_sweep("transplant", parents, data, layer=0, variants=["magic"], progress=False)


def test_summary_of_a_single_coefficient_curve_has_no_auc():
    from neuroevo.sweeps import SweepResult, VariantCurve

    curve = VariantCurve("direct", np.array([1.0]), np.array([[0.5], [0.7]]), np.ones((2, 1)), target_accuracy=0.8)
    row = SweepResult("transplant", 0, "synthetic", {}, [curve]).summary()[0]
    assert np.isnan(row["retention_auc"]) and row["retention_at_1.0"] == pytest.approx(0.75)


ALIGNED_VARIANTS = [name for name, v in VARIANTS.items() if v.align is not None]


@pytest.mark.parametrize("kind, layer", [("transplant", 0), ("transplant", 1), ("transplant-all-hidden", None),
                                         ("interpolate", 0), ("interpolate", 1), ("interpolate-all", None)])
def test_aligned_variants_crossing_a_with_a_permuted_copy_leave_a_unchanged(kind, layer):
    """Every aligned variant is a no-op on a network and a permuted copy of itself, at every coefficient
    (the embedding-aligned transplant once drew the donor's neurons independently and broke this)."""
    arch = small_dense()
    base = _parents(arch)
    gen = torch.Generator().manual_seed(7)
    permuted = {}
    for encoding in ("direct", "embedding"):
        a = base.pair(encoding)[0]
        b = a.sharing_sets()
        for index in arch.hidden_layers:
            b.permute_layer(index, torch.randperm(b.widths[index], generator=gen))
        permuted[encoding] = (a, b)
    parents = SweepParents(direct=permuted["direct"], embedding=permuted["embedding"])
    data = synthetic_dataset(arch, n=128)
    variants = [v for v in ALIGNED_VARIANTS if kind.startswith("transplant") or v not in TRANSPLANT_ONLY]
    result = run_sweep(kind, parents, data, layer=layer, coefficients=np.linspace(0, 1, 5), repeats=3,
                       variants=variants, probe=data.images[:64], progress=False)
    reference = evaluate_population([permuted["direct"][0], permuted["embedding"][0]], data)
    for curve in result.curves:
        row = 0 if VARIANTS[curve.variant].encoding == "direct" else 1
        np.testing.assert_allclose(curve.cross_entropy, float(reference.cross_entropy[row]), rtol=1e-4,
                                   err_msg=curve.variant)
        np.testing.assert_allclose(curve.accuracy, float(reference.accuracy[row]), err_msg=curve.variant)


# ------------------------------------------------------------------ align once per sweep (issue 19)
ALIGNED_VARIANTS = [name for name, v in VARIANTS.items() if v.align is not None]


@pytest.mark.parametrize("name", ALIGNED_VARIANTS)
@pytest.mark.parametrize("arch", [small_dense(), small_conv("position")], ids=["dense", "conv"])
def test_sweep_children_are_the_per_child_aligned_operator(name, arch):
    """Each child a transplant sweep builds is, bit for bit, what the variant's own operator
    (``cx_transplant_aligned``: align B to A, then swap) makes from A and B with the same rng."""
    import random

    from operators import cx_transplant_aligned
    from neuroevo.sweeps.run import _children

    variant = VARIANTS[name]
    parents = _parents(arch, seed=3)
    target, donor = parents.pair(variant.encoding)
    probe = synthetic_dataset(arch).images[:32]
    coefficients = np.linspace(0.0, 1.0, 6)
    children = _children("transplant", variant, target, donor, 1, coefficients, 2, probe, seed=5)
    for repeat in range(2):
        rng = random.Random(f"5-{repeat}")
        for position, coefficient in enumerate(coefficients):
            expected = target.sharing_sets()
            cx_transplant_aligned(expected, donor.sharing_sets(), 1, float(coefficient), method=variant.align,
                                  move_outgoing=variant.move_outgoing, repair=variant.repair,
                                  probe=probe if variant.needs_probe else None, rng=rng)
            child = children[repeat * len(coefficients) + position]
            for got, want in zip(child.layers, expected.layers):
                assert got.names == want.names
                for key in got.names:
                    assert torch.equal(got[key], want[key]), (name, repeat, coefficient, key)


def test_a_direct_aligned_transplant_sweep_matches_neurons_once(monkeypatch):
    """The probe forward and the matching run once per sweep, not once per child."""
    import operators.alignment as alignment

    calls = {"pairs": 0}
    original = alignment._pairs

    def counted(*args, **kwargs):
        calls["pairs"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(alignment, "_pairs", counted)
    arch = small_dense()
    data = synthetic_dataset(arch)
    run_sweep("transplant", _parents(arch), data, layer=0, coefficients=np.linspace(0, 1, 5), repeats=3,
              variants=["direct-aligned-activation", "direct-aligned-weights", "direct-aligned-repair"],
              probe=data.images[:32], progress=False)
    assert calls["pairs"] == 3  # one alignment per variant, for its 15 children


@pytest.mark.parametrize("repeats", [2.5, True, "3", 0])
def test_repeats_must_be_a_positive_integer(repeats):
    arch = small_dense()
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        run_sweep("transplant", _parents(arch), synthetic_dataset(arch), layer=0, repeats=repeats,
                  variants=["embedding"], progress=False)


def test_a_parent_with_nan_is_refused_before_any_evaluation(monkeypatch):
    import neuroevo.sweeps.run as sweep_run

    arch = small_dense()
    parents = _parents(arch)
    b = parents.direct[1]
    b.layers[0] = b.layers[0].replace(weight=b.layers[0]["weight"].clone().fill_(float("nan")))
    monkeypatch.setattr(sweep_run, "evaluate_population", lambda *a, **k: pytest.fail("evaluated a NaN parent"))
    with pytest.raises(ValueError, match="direct parent B: layer 0 contains NaN or Inf"):
        run_sweep("transplant", parents, synthetic_dataset(arch), layer=0, variants=["direct"], progress=False)
