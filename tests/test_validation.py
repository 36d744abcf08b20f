"""The shared argument checks (neuroevo.validation) serve every public function: same rule, same message."""

import pytest

from neuroevo.training import TrainConfig
from neuroevo.validation import check_choice, check_int, check_positive


@pytest.mark.parametrize("value", [0, -3, 1.0, True, "2", None])
def test_a_positive_integer_is_required_and_named(value):
    with pytest.raises(ValueError, match=r"^steps must be a positive integer, got "):
        check_int("steps", value)


def test_minimum_zero_admits_zero_and_names_the_rule():
    assert check_int("ngen", 0, minimum=0) == 0
    with pytest.raises(ValueError, match="ngen must be a non-negative integer, got -1"):
        check_int("ngen", -1, minimum=0)
    with pytest.raises(ValueError, match="k must be an integer >= 3, got 2"):
        check_int("k", 2, minimum=3)


@pytest.mark.parametrize("field", ["steps", "batch_size", "validate_every", "eval_batch_size"])
def test_train_config_uses_the_shared_check(field):
    with pytest.raises(ValueError, match=rf"^{field} must be a positive integer, got True$"):
        TrainConfig(**{field: True})


@pytest.mark.parametrize("value", [0, -0.1, float("nan"), float("inf"), True, "0.1", None])
def test_a_positive_finite_number_is_required_and_named(value):
    with pytest.raises(ValueError, match=r"^lr must be a positive finite number, got "):
        check_positive("lr", value)


def test_positive_numbers_pass_unchanged():
    assert check_positive("lr", 0.002) == 0.002
    assert check_positive("lr", 3) == 3


def test_a_choice_names_the_argument_and_lists_the_choices():
    assert check_choice("optimizer", "sgd", ("adam", "sgd")) == "sgd"
    with pytest.raises(ValueError, match=r"^unknown optimizer 'rmsprop'; choose one of adam, sgd$"):
        check_choice("optimizer", "rmsprop", ("adam", "sgd"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(max_lr=0.0), r"^max_lr must be a positive finite number, got 0.0$"),
        (dict(optimizer="rmsprop"), r"^unknown optimizer 'rmsprop'; choose one of adam, sgd$"),
    ],
)
def test_train_config_uses_the_shared_checks(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)
