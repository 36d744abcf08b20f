"""Interpolation crossover, plain and aligned, and REPAIR."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import operators
from operators._probe import pre_activations, unit_statistics
from tests.test_operators_support import (
    CASES,
    DIRECT_CASES,
    identical,
    inputs,
    make_pair,
    outputs,
    permuted_copy,
)

SETTINGS = settings(max_examples=12, deadline=None)
seeds = st.integers(0, 10_000)
INTERPOLATIONS = [operators.cx_interpolate, operators.cx_interpolate_aligned]


@SETTINGS
@given(st.sampled_from(CASES), seeds, st.sampled_from(INTERPOLATIONS), st.data())
def test_alpha_zero_and_one_return_the_parents(case, seed, interpolate, data):
    ind1, ind2 = make_pair(case, seed)
    hidden = ind1.architecture.hidden_layers
    layers = range(ind1.n_layers) if interpolate is operators.cx_interpolate else hidden
    layer = data.draw(st.sampled_from([None, *layers]))
    a, b = copy.deepcopy((ind1, ind2))
    interpolate(ind1, ind2, alpha=0.0, layer=layer)
    assert identical(ind1, a) and ind2 == b  # aligned: ind2 is b reordered (same genome)
    ind1, ind2 = copy.deepcopy((a, b))
    interpolate(ind1, ind2, alpha=1.0, layer=layer)
    if layer is None:
        assert ind1 == b and identical(ind2, a)
    else:  # that layer of ind2 is a's; the rest of ind2 is b's (reordered when aligned)
        for index in range(a.n_layers):
            assert identical_layer(ind2.layers[index], a.layers[index]) == (index == layer)
        if interpolate is operators.cx_interpolate:
            assert identical_layer(ind1.layers[layer], b.layers[layer])


def identical_layer(x, y) -> bool:
    return x.names == y.names and x.record_shapes == y.record_shapes and all(torch.equal(x[n], y[n]) for n in x.names)


@SETTINGS
@given(st.sampled_from(CASES), seeds, st.floats(0, 1), st.data())
def test_children_are_alpha_and_one_minus_alpha_between_the_parents(case, seed, alpha, data):
    ind1, ind2 = make_pair(case, seed)
    layer = data.draw(st.sampled_from([None, *range(ind1.n_layers)]))
    a, b = copy.deepcopy((ind1, ind2))
    operators.cx_interpolate(ind1, ind2, alpha=alpha, layer=layer)
    mixed = range(ind1.n_layers) if layer is None else [layer % ind1.n_layers]
    for index in range(ind1.n_layers):
        for name in a.layers[index].names:
            pa, pb = a.layers[index][name], b.layers[index][name]
            if index in mixed:
                torch.testing.assert_close(ind1.layers[index][name], (1 - alpha) * pa + alpha * pb)
                torch.testing.assert_close(ind2.layers[index][name], alpha * pa + (1 - alpha) * pb)
            else:
                assert torch.equal(ind1.layers[index][name], pa) and torch.equal(ind2.layers[index][name], pb)


@SETTINGS
@given(st.sampled_from(CASES), seeds)
def test_alpha_half_gives_twins(case, seed):
    ind1, ind2 = make_pair(case, seed)
    operators.cx_interpolate(ind1, ind2, alpha=0.5)
    assert identical(ind1, ind2)


@SETTINGS
@given(st.sampled_from(CASES), seeds, st.floats(0, 1))
def test_aligned_interpolation_of_a_permuted_copy_keeps_the_function(case, seed, alpha):
    ind1, _ = make_pair(case, seed)
    ind2 = permuted_copy(ind1, torch.Generator().manual_seed(seed))
    x = inputs(ind1.architecture, 16, torch.Generator().manual_seed(seed))
    expected = outputs(ind1, x)
    operators.cx_interpolate_aligned(ind1, ind2, alpha=alpha)
    torch.testing.assert_close(outputs(ind1, x), expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(outputs(ind2, x), expected, atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------ REPAIR
def _aligned(reference, other, method, probe):
    result = copy.deepcopy(other)
    for layer, perm in operators.match_neurons(reference, other, method=method, probe=probe).items():
        result.permute_layer(layer, perm)
    return result


@SETTINGS
@given(st.sampled_from(DIRECT_CASES), seeds, st.floats(0.05, 0.95), st.sampled_from(["weights", "activation"]))
def test_repair_sets_unit_statistics_to_the_parents_mixture(case, seed, alpha, method):
    ind1, ind2 = make_pair(case, seed)
    arch = ind1.architecture
    probe = inputs(arch, 32, torch.Generator().manual_seed(seed))
    a, b = copy.deepcopy(ind1), _aligned(ind1, ind2, method, probe)
    operators.cx_interpolate_aligned(ind1, ind2, alpha=alpha, method=method, repair=True, probe=probe)
    stats = [[unit_statistics(p) for p in pre_activations(arch, g.layers, probe)] for g in (a, b, ind1, ind2)]
    for layer in arch.hidden_layers:
        (mean_a, std_a), (mean_b, std_b) = stats[0][layer], stats[1][layer]
        for child, weight in ((2, alpha), (3, 1 - alpha)):
            mean, std = stats[child][layer]
            live = std > 1e-6
            torch.testing.assert_close(mean, torch.lerp(mean_a, mean_b, weight), atol=1e-4, rtol=1e-3)
            torch.testing.assert_close(std[live], torch.lerp(std_a, std_b, weight)[live], atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("case", DIRECT_CASES)
def test_repair_undoes_variance_collapse(case):
    """Plain interpolation shrinks hidden units' spread; REPAIR restores it."""
    ind1, ind2 = make_pair(case, 7)
    parents = copy.deepcopy((ind1, ind2))
    probe = inputs(ind1.architecture, 32, torch.Generator().manual_seed(0))
    plain = copy.deepcopy((ind1, ind2))
    operators.cx_interpolate_aligned(*plain, alpha=0.5)
    operators.cx_interpolate_aligned(ind1, ind2, alpha=0.5, repair=True, probe=probe)
    arch = ind1.architecture
    last_hidden = arch.n_layers - 2
    spread = {
        name: float(unit_statistics(pre_activations(arch, g.layers, probe)[last_hidden])[1].mean())
        for name, g in (("parent1", parents[0]), ("parent2", parents[1]), ("plain", plain[0]), ("repaired", ind1))
    }
    # The mean spread over units does not depend on their order, so the parents' mixture at
    # alpha = 0.5 is the mean of their spreads: plain interpolation falls below it, REPAIR
    # restores it.
    mixture = (spread["parent1"] + spread["parent2"]) / 2
    assert spread["plain"] < 0.95 * mixture
    assert spread["repaired"] == pytest.approx(mixture, rel=1e-4)


@SETTINGS
@given(st.sampled_from(DIRECT_CASES), seeds)
def test_repair_at_alpha_zero_keeps_the_parent(case, seed):
    ind1, ind2 = make_pair(case, seed)
    x = inputs(ind1.architecture, 16, torch.Generator().manual_seed(seed))
    expected = outputs(ind1, x)
    operators.cx_interpolate_aligned(ind1, ind2, alpha=0.0, repair=True, probe=x)
    torch.testing.assert_close(outputs(ind1, x), expected, atol=1e-4, rtol=1e-4)


def test_repair_function_takes_per_unit_mixes():
    ind1, ind2 = make_pair(DIRECT_CASES[0], 3)
    probe = inputs(ind1.architecture, 32, torch.Generator().manual_seed(0))
    child = copy.deepcopy(ind1)
    operators.cx_interpolate(child, copy.deepcopy(ind2), alpha=0.3)
    mix = torch.linspace(0, 1, len(child.layers[0]))
    operators.repair(child, ind1, ind2, probe, mix={0: mix})
    arch = child.architecture
    mean, _ = unit_statistics(pre_activations(arch, child.layers, probe)[0])
    mean_a, _ = unit_statistics(pre_activations(arch, ind1.layers, probe)[0])
    mean_b, _ = unit_statistics(pre_activations(arch, ind2.layers, probe)[0])
    torch.testing.assert_close(mean, torch.lerp(mean_a, mean_b, mix), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="mix"):
        operators.repair(child, ind1, ind2, probe, mix={0: 1.5})
    with pytest.raises(ValueError, match="output layer"):
        operators.repair(child, ind1, ind2, probe, mix={-1: 0.5})
