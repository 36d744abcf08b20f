"""Architecture specs round-trip exactly, and layer predicates accept negative indices."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroevo.architecture import Architecture

SETTINGS = settings(max_examples=200, deadline=None)
widths = st.integers(1, 500)


@st.composite
def specs(draw) -> str:
    """A spec in any form the parser takes: flat or ``CxHxW`` input, conv layers, ``KxN`` repeats."""
    image = draw(st.booleans())
    n_conv = draw(st.integers(0, 2)) if image else 0
    if image:
        side = draw(st.integers(2**n_conv, 40))
        head = f"{draw(st.integers(1, 4))}x{side}x{draw(st.integers(2**n_conv, 40))}"
    else:
        head = str(draw(widths))
    body = [f"{draw(widths)}c" for _ in range(n_conv)]
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            body.append(f"{draw(widths)}x{draw(st.integers(1, 4))}")
        else:
            body.append(str(draw(widths)))
    return "-".join([head, *body, str(draw(st.integers(1, 20)))])


@SETTINGS
@given(specs())
def test_spec_round_trips_exactly(spec):
    arch = Architecture.parse(spec)
    assert Architecture.parse(arch.spec) == arch
    assert Architecture.parse(arch.spec).spec == arch.spec


@SETTINGS
@given(specs(), st.sampled_from(["tanh", "sinh"]), st.sampled_from(["free", "gap"]))
def test_spec_with_options_round_trips(spec, sigma, junction):
    arch = Architecture.parse(spec, sigma=sigma, junction=junction)
    assert Architecture.parse(arch.spec, sigma=sigma, junction=junction) == arch


@pytest.mark.parametrize(
    "spec, shape, expected",
    [
        ("1x8x8-64-10", None, "1x8x8-64-10"),
        ("64-12-3", (1, 8, 8), "1x8x8-12-3"),
        ("784-400x4-10", None, "784-400-400-400-400-10"),
        ("20c-40c-100-10", (1, 28, 28), "1x28x28-20c-40c-100-10"),
    ],
)
def test_image_shape_of_a_dense_net_is_kept(spec, shape, expected):
    arch = Architecture.parse(spec, shape)
    assert arch.spec == expected
    assert Architecture.parse(arch.spec) == arch


def test_genome_rebuilt_from_the_spec_crosses_with_the_original():
    import operators
    from neuroevo import DirectGenome

    arch = Architecture.parse("1x8x8-12-3")
    a = DirectGenome.random(arch)
    b = DirectGenome.random(Architecture.parse(arch.spec))
    operators.cx_interpolate(a, b, alpha=0.5)  # raised "different input shapes" before


@pytest.mark.parametrize("spec", ["16-12-8-3", "1x8x8-4c-6c-5-3", "1x8x8-4c-3"])
def test_layer_predicates_take_negative_indices(spec):
    arch = Architecture.parse(spec)
    for layer in range(arch.n_layers):
        negative = layer - arch.n_layers
        assert arch.is_output(negative) == arch.is_output(layer) == (layer == arch.n_layers - 1)
        assert arch.is_conv(negative) == arch.is_conv(layer) == (layer < arch.n_conv)
    assert arch.is_output(-1) and not arch.is_conv(-1)


@pytest.mark.parametrize("layer", [4, -5, 100])
def test_layer_predicates_reject_out_of_range_indices(layer):
    arch = Architecture.parse("16-12-8-3")
    for predicate in (arch.is_output, arch.is_conv):
        with pytest.raises(ValueError, match=f"layer {layer} out of range"):
            predicate(layer)
