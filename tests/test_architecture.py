import pytest

from neuroevo.architecture import Architecture


def test_dense_spec_with_repeats():
    arch = Architecture.parse("784-400x4-10")
    assert arch.dense_widths == (400, 400, 400, 400)
    assert arch.n_layers == 5 and arch.n_conv == 0
    assert arch.n_input_neurons == 784
    assert arch.spec == "784-400-400-400-400-10"


def test_conv_spec_takes_input_shape_from_data():
    arch = Architecture.parse("20c-40c-80c-100-10", (1, 28, 28))
    assert arch.conv_widths == (20, 40, 80)
    assert arch.conv_output_hw == (3, 3) and arch.n_positions == 9
    assert arch.n_input_neurons == 1  # one input neuron per image channel
    assert Architecture.parse(arch.spec) == arch


def test_json_round_trip_keeps_options():
    arch = Architecture.parse("1x28x28-8c-10", sigma="tanh", junction="gap", pool=1)
    assert Architecture.from_json(arch.to_json()) == arch


@pytest.mark.parametrize(
    "spec, shape, message",
    [
        ("784-400-10", (3, 32, 32), "expects 784 inputs"),
        ("20c-10", None, "pass input_shape"),
        ("784-10c-10", None, "conv layer"),
        ("784-abc-10", None, "not a layer width"),
        ("784-0-10", None, "must be positive"),
        ("10", None, "at least an input"),
    ],
)
def test_bad_specs_name_the_problem(spec, shape, message):
    with pytest.raises(ValueError, match=message):
        Architecture.parse(spec, shape)


def test_unknown_option_and_too_much_pooling():
    with pytest.raises(ValueError, match="unknown sigma"):
        Architecture.parse("784-10", sigma="relu6")
    with pytest.raises(ValueError, match="leaves no positions"):
        Architecture.parse("1x4x4-2c-2c-2c-10")
