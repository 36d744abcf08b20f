"""Tests of neuroevo.fitting: eq. 4, closed-form ALS solves, fit_to_reference."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroevo.architecture import Architecture
from neuroevo.decoding import decode, generate_weight
from neuroevo.encoding import InputEncoding
from neuroevo.fitting import fit_to_reference, fitted_architecture, solve_rows
from neuroevo.fitting.fit import genome_factors
from neuroevo.fitting.objective import left_factor
from neuroevo.genomes import DirectGenome, EmbeddingGenome
from neuroevo.neurons import NeuronSet


pytestmark = pytest.mark.usefixtures("one_thread")


def direct_twin(genome: EmbeddingGenome, reference_junction: str | None = None) -> DirectGenome:
    """The direct genome computing exactly what ``genome`` computes (its generated weights)."""
    arch = genome.architecture
    factors = genome_factors(genome)
    layers = []
    for index, layer in enumerate(genome.layers):
        w = generate_weight(left_factor(factors, arch, index), factors.layers[index], arch.sigma)
        fields = {"weight": w.T.contiguous(), "bias": layer["bias"].clone()}
        if arch.is_conv(index):
            fields["kernels"] = layer["kernels"].clone()
        layers.append(NeuronSet(**fields))
    direct_arch = arch.with_options(junction=reference_junction or arch.junction, conv_style="separable")
    return DirectGenome(direct_arch, layers)


def outputs(genome, x):
    with torch.no_grad():
        return decode(genome)(x)


def random_bias(genome: EmbeddingGenome, seed: int = 0) -> EmbeddingGenome:
    g = torch.Generator().manual_seed(seed)
    genome.layers = [layer.replace(bias=0.1 * torch.randn(len(layer), generator=g)) for layer in genome.layers]
    return genome


DENSE = Architecture.parse("12-9-7-3", (1, 3, 4))
CONV = "1x6x6-3c-4c-5-3"


# ---------------------------------------------------------- exact recovery
@pytest.mark.parametrize("fixed_encoding", [False, True])
def test_als_recovers_a_reference_of_rank_d_exactly(fixed_encoding):
    truth = random_bias(EmbeddingGenome.random(DENSE, 4, generator=torch.Generator().manual_seed(1)))
    reference = direct_twin(truth)
    encoding = truth.input_encoding if fixed_encoding else None
    result = fit_to_reference(reference, 4, input_encoding=encoding, method="als", als_sweeps=300)
    assert result.objective < 1e-9
    assert len(result.per_layer_mse) == 3 and result.objective == pytest.approx(sum(result.per_layer_mse))
    x = torch.randn(20, 1, 3, 4, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(outputs(result.genome, x), outputs(reference, x), atol=1e-3)
    if fixed_encoding:
        assert result.genome.input_encoding is truth.input_encoding


@pytest.mark.parametrize(
    ("junction", "reference_junction"), [("free", "position"), ("gap", "gap"), ("position", "position")]
)
def test_als_recovers_conv_references_with_kernels_and_biases_carried_over(junction, reference_junction):
    arch = Architecture.parse(CONV, junction=junction)
    truth = random_bias(EmbeddingGenome.random(arch, 3, generator=torch.Generator().manual_seed(4)))
    reference = direct_twin(truth, reference_junction)
    # The position junction's fit is exact only on the same position embeddings: hold them fixed.
    encoding = truth.input_encoding if junction == "position" else None
    result = fit_to_reference(reference, 3, input_encoding=encoding, junction=junction, method="als", als_sweeps=500)
    assert result.genome.architecture.junction == junction
    assert result.objective < 1e-8
    for fitted, ref in zip(result.genome.layers, reference.layers):
        assert torch.equal(fitted["bias"], ref["bias"])
        if "kernels" in ref:
            assert torch.equal(fitted["kernels"], ref["kernels"])
    x = torch.randn(10, 1, 6, 6, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(outputs(result.genome, x), outputs(reference, x), atol=1e-3)


# ------------------------------------------------------------ optimisation
def test_als_objective_never_increases_and_adam_only_improves_on_it():
    reference = DirectGenome.random(DENSE, generator=torch.Generator().manual_seed(0))
    als = fit_to_reference(reference, 3, method="als")
    history = als.history["als"]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(history, history[1:]))
    refined = fit_to_reference(reference, 3, method="als+adam", steps=50)
    assert refined.objective <= als.objective * (1 + 1e-5)


def test_als_fits_better_than_adam_from_a_random_start():
    reference = DirectGenome.random(DENSE, generator=torch.Generator().manual_seed(0))
    als = fit_to_reference(reference, 3, method="als")
    adam = fit_to_reference(reference, 3, method="adam", steps=200, generator=torch.Generator().manual_seed(0))
    assert adam.history["adam"][-1] < adam.history["adam"][0]
    assert als.objective < adam.objective


def test_per_layer_mse_is_the_mean_squared_weight_error():
    reference = DirectGenome.random(DENSE, generator=torch.Generator().manual_seed(3))
    result = fit_to_reference(reference, 2)
    genome = result.genome
    z = [genome.input_encoding.inputs] + [layer["embeddings"] for layer in genome.layers]
    for index, mse in enumerate(result.per_layer_mse):
        w = z[index] @ z[index + 1].T
        assert mse == pytest.approx(float((reference.layers[index]["weight"].T - w).square().mean()), rel=1e-4)


def test_larger_d_fits_no_worse():
    reference = DirectGenome.random(DENSE, generator=torch.Generator().manual_seed(6))
    objectives = [fit_to_reference(reference, d).objective for d in (1, 2, 4, 9)]
    assert objectives == sorted(objectives, reverse=True) and objectives[-1] < 1e-9  # d=9: every layer fits exactly


def test_nonlinear_sigma_fits_with_adam_from_the_als_start():
    reference = DirectGenome.random(DENSE.with_options(sigma="tanh"), generator=torch.Generator().manual_seed(2))
    result = fit_to_reference(reference, 3, steps=100)
    assert result.method == "als+adam"
    assert result.objective < result.history["adam"][0]  # Adam improves on the ALS start


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 6), n=st.integers(1, 4), weight=st.floats(0.01, 100))
def test_solve_rows_is_the_weighted_least_squares_optimum(seed, rows, n, weight):
    g = torch.Generator().manual_seed(seed)
    a1, b1 = torch.randn(rows + 3, 3, generator=g, dtype=torch.float64), torch.randn(rows + 3, n, generator=g, dtype=torch.float64)
    a2, b2 = torch.randn(rows, 3, generator=g, dtype=torch.float64), torch.randn(rows, n, generator=g, dtype=torch.float64)
    start = torch.randn(n, 3, generator=g, dtype=torch.float64)
    for x in (solve_rows([(a1, b1, 1.0), (a2, b2, weight)]), solve_rows([(a1, b1, 1.0), (a2, b2, weight)], start)):
        assert x.shape == (n, 3)
        gradient = a1.T @ (a1 @ x.T - b1) + weight * a2.T @ (a2 @ x.T - b2)
        assert torch.allclose(gradient, torch.zeros_like(gradient), atol=1e-8 * (1 + weight))


def test_solve_rows_keeps_the_start_where_the_data_leaves_it_free():
    a = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)  # only the first coordinate is determined
    b = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    start = torch.tensor([[9.0, 4.0, 5.0], [9.0, 6.0, 7.0]], dtype=torch.float64)
    assert torch.equal(solve_rows([(a, b, 1.0)], start), torch.tensor([[2.0, 4.0, 5.0], [3.0, 6.0, 7.0]], dtype=torch.float64))
    assert torch.equal(solve_rows([(a, b, 1.0)]), torch.tensor([[2.0, 0.0, 0.0], [3.0, 0.0, 0.0]], dtype=torch.float64))


# --------------------------------------------------------------- bad input
def test_standard_conv_references_are_refused():
    reference = DirectGenome.random(Architecture.parse(CONV, conv_style="standard"))
    with pytest.raises(ValueError, match="separable"):
        fit_to_reference(reference, 3)


def test_an_input_encoding_of_another_size_is_refused():
    reference = DirectGenome.random(DENSE)
    with pytest.raises(ValueError, match="13 rows.*12 input neurons"):
        fit_to_reference(reference, input_encoding=InputEncoding.random(13, 4))
    with pytest.raises(ValueError, match="d=5.*width 4"):
        fit_to_reference(reference, 5, input_encoding=InputEncoding.random(12, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [(dict(method="newton"), "unknown fit method"), (dict(d=None), "embedding width"), (dict(steps=-1), "steps"),
     (dict(d=0), "^d must be a positive integer, got 0$"), (dict(steps=True), "^steps must be a non-negative integer"),
     (dict(lr=0.0), "^lr must be a positive finite number, got 0.0$")],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_to_reference(DirectGenome.random(DENSE), **{"d": 3, **kwargs})


def test_als_alone_is_refused_for_nonlinear_sigma():
    with pytest.raises(ValueError, match="sigma"):
        fit_to_reference(DirectGenome.random(DENSE.with_options(sigma="tanh")), 3, method="als")


def test_junction_must_match_the_reference():
    flatten = Architecture.parse(CONV)
    assert fitted_architecture(flatten).junction == "free"
    with pytest.raises(ValueError, match="flattens"):
        fitted_architecture(flatten, "gap")
    with pytest.raises(ValueError, match="average-pools"):
        fitted_architecture(flatten.with_options(junction="gap"), "free")


def test_an_embedding_genome_is_not_a_reference():
    with pytest.raises(ValueError, match="direct genome"):
        fit_to_reference(EmbeddingGenome.random(DENSE, 3), 3)
