"""Bad input: a ValueError naming the mismatch, and both parents exactly as they were."""

from __future__ import annotations

import copy

import pytest
import torch

import operators
from neuroevo import Architecture
from tests.test_operators_support import (
    DIRECT_CASES,
    EMBEDDING_CASES,
    architecture,
    identical,
    inputs,
    make_genome,
    make_pair,
)

CROSSOVERS = [
    operators.cx_transplant,
    operators.cx_transplant_aligned,
    operators.cx_interpolate,
    operators.cx_interpolate_aligned,
]


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)



def _pairs():
    """(name, ind1, ind2, message) for every kind of incompatible pair."""
    emb1, _ = make_pair(EMBEDDING_CASES[0], 0)
    other_basis = make_genome("embedding", emb1.architecture, _generator(9), None)
    from deap import creator

    wider_d = creator.EmbeddingIndividual.random(emb1.architecture, 16, generator=_generator())
    conv = make_pair(EMBEDDING_CASES[1], 0)[0]
    two_conv = make_pair(EMBEDDING_CASES[3], 0)[0]  # 1x8x8-4c-6c-5-3, gap junction
    one_conv = creator.EmbeddingIndividual.random(
        Architecture.parse("1x8x8-4c-6-5-3", junction="gap"), input_encoding=two_conv.input_encoding,
        generator=_generator(),
    )
    deeper = creator.EmbeddingIndividual.random(
        Architecture.parse("16-8-8-8-3"), input_encoding=emb1.input_encoding, generator=_generator()
    )
    more_classes = creator.EmbeddingIndividual.random(
        Architecture.parse("16-8-8-4"), input_encoding=emb1.input_encoding, generator=_generator()
    )
    dir1, _ = make_pair(DIRECT_CASES[0], 0)
    dir_wide = creator.DirectIndividual.random(Architecture.parse("16-9-8-3"), generator=_generator())
    dir_conv_a = make_pair(DIRECT_CASES[1], 0)[0]
    dir_conv_b = make_pair(DIRECT_CASES[2], 0)[0]
    tanh = creator.DirectIndividual.random(architecture("dense").with_options(activation="tanh"), generator=_generator())
    return [
        ("input encodings", emb1, other_basis, "different input encodings"),
        ("embedding widths", emb1, wider_d, "embedding widths"),
        ("input shapes", emb1, conv, "input shapes"),
        ("layer kinds: conv vs dense", two_conv, one_conv, "layer kinds .conv-conv-dense-output vs conv-dense"),
        ("layer kinds: depth", emb1, deeper, "layer kinds"),
        ("class keys", emb1, more_classes, "class keys"),
        ("encodings", emb1, dir1, "different encodings"),
        ("direct layer shapes", dir1, dir_wide, "different layer shapes"),
        ("direct conv styles", dir_conv_a, dir_conv_b, "conv styles"),
        ("activations", dir1, tanh, "activations"),
    ]


def _check_rejected(operator, ind1, ind2, message, **kwargs):
    before = copy.deepcopy((ind1, ind2))
    ind1.fitness.values, ind2.fitness.values = (1.0,), (2.0,)
    with pytest.raises(ValueError, match=message):
        operator(ind1, ind2, **kwargs)
    assert identical(ind1, before[0]) and identical(ind2, before[1])
    assert ind1.fitness.values == (1.0,) and ind2.fitness.values == (2.0,)


@pytest.mark.parametrize("operator", CROSSOVERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("pair", _pairs(), ids=lambda p: p[0])
def test_incompatible_genomes_are_rejected(operator, pair):
    _, ind1, ind2, message = pair
    _check_rejected(operator, ind1, ind2, message)


@pytest.mark.parametrize("case", [EMBEDDING_CASES[0], DIRECT_CASES[0]])
@pytest.mark.parametrize(
    "operator, kwargs, message",
    [
        (operators.cx_transplant, {"coefficient": -0.1}, "coefficient must lie in"),
        (operators.cx_transplant, {"coefficient": 1.5}, "coefficient must lie in"),
        (operators.cx_transplant, {"coefficient": float("nan")}, "coefficient must lie in"),
        (operators.cx_transplant_aligned, {"coefficient": 2.0}, "coefficient must lie in"),
        (operators.cx_interpolate, {"alpha": -0.5}, "alpha must lie in"),
        (operators.cx_interpolate_aligned, {"alpha": 1.01}, "alpha must lie in"),
        (operators.cx_transplant, {"layer": 3}, "out of range"),
        (operators.cx_transplant, {"layer": -4}, "out of range"),
        (operators.cx_interpolate, {"layer": 3}, "out of range"),
        (operators.cx_transplant_aligned, {"layer": -1}, "output layer"),
        (operators.cx_interpolate_aligned, {"layer": 2}, "output layer"),
        (operators.cx_transplant_aligned, {"method": "cosine"}, "unknown matching method"),
        (operators.cx_transplant, {"repair": True}, "REPAIR needs direct genomes|needs a probe"),
        (operators.cx_interpolate_aligned, {"repair": True}, "REPAIR needs direct genomes|needs a probe"),
    ],
)
def test_bad_parameters_are_rejected(case, operator, kwargs, message):
    ind1, ind2 = make_pair(case, 0)
    _check_rejected(operator, ind1, ind2, message, **kwargs)


def test_methods_must_fit_the_encoding_and_probes_must_fit_the_input():
    emb1, emb2 = make_pair(EMBEDDING_CASES[0], 0)
    _check_rejected(operators.cx_transplant_aligned, emb1, emb2, "embedding genomes are matched", method="weights")
    _check_rejected(operators.cx_transplant, emb1, emb2, "REPAIR needs direct", repair=True, probe=torch.randn(4, 16))
    dir1, dir2 = make_pair(DIRECT_CASES[1], 0)
    _check_rejected(operators.cx_interpolate_aligned, dir1, dir2, "direct genomes are matched", method="embedding")
    _check_rejected(operators.cx_transplant_aligned, dir1, dir2, "needs a probe", method="activation")
    for probe, message in [
        (torch.randn(4, 16), "probe samples must be 1x8x8"),
        (torch.randn(1, 1, 8, 8), "at least 2 probe samples"),
        (torch.full((4, 64), float("nan")), "NaN"),
        ([[0.0] * 64] * 4, "torch.Tensor"),
    ]:
        _check_rejected(operators.cx_interpolate_aligned, dir1, dir2, message, method="activation", probe=probe)
        _check_rejected(operators.cx_transplant, dir1, dir2, message, repair=True, probe=probe)
    import random

    x = inputs(dir1.architecture, 4, _generator())
    children = {}
    for name, probe in (("flat", x.flatten(1)), ("image", x)):  # [B, n_inputs] is fine: the same children
        pair = copy.deepcopy((dir1, dir2))
        returned = operators.cx_transplant(*pair, repair=True, probe=probe, rng=random.Random(0))
        assert returned[0] is pair[0] and returned[1] is pair[1]
        children[name] = pair
    assert identical(children["flat"][0], children["image"][0]) and identical(children["flat"][1], children["image"][1])
    assert not identical(children["flat"][0], dir1)


def test_transplant_between_layers_of_different_widths_only_trades_records():
    """Unequal widths are accepted by every crossover (tests/test_operators_unequal_widths.py); transplant
    gives round(coefficient * n) neurons each way, so the widths trade and no record is made or lost."""
    ind1, ind2 = make_pair(EMBEDDING_CASES[0], 0)
    operators.mut_add_neuron(ind2, layer=0)
    from tests.test_operators_support import rows

    pool = rows(torch.cat([ind1.layers[0].record_matrix(), ind2.layers[0].record_matrix()]))
    returned = operators.cx_transplant(ind1, ind2, layer=0, coefficient=0.5)
    assert returned[0] is ind1 and returned[1] is ind2
    assert ind1.widths[0] == 8 - 4 + 5 and ind2.widths[0] == 9 - 5 + 4  # gives round(0.5 n) neurons, gets the other's
    assert rows(torch.cat([ind1.layers[0].record_matrix(), ind2.layers[0].record_matrix()])) == pool  # traded only


def test_image_shaped_probe_for_a_dense_network_with_image_input_shape():
    """A dense net parsed with the data's image shape takes an image batch as its probe."""
    import random as _random

    import torch as _torch

    from neuroevo import Architecture, DirectGenome
    from operators import cx_interpolate_aligned, cx_transplant

    arch = Architecture.parse("64-12-3", (1, 8, 8))
    a, b = DirectGenome.random(arch), DirectGenome.random(arch)
    probe = _torch.randn(16, 1, 8, 8)
    children = {}
    for name, batch in (("image", probe), ("flat", probe.flatten(1))):
        pair = copy.deepcopy((a, b))
        cx_transplant(*pair, 0, 0.5, repair=True, probe=batch, rng=_random.Random(0))
        cx_interpolate_aligned(*pair, 0.5, method="activation", repair=True, probe=batch)
        children[name] = pair
    # The image batch is read as the same samples as its flattened form: the same children.
    assert all(identical(x, y) for x, y in zip(children["image"], children["flat"]))
    assert not identical(children["image"][0], a) and not identical(children["image"][1], b)
