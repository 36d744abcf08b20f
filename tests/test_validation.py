"""One integer check (neuroevo.validation.check_int) serves every public function: same rule, same message."""

import pytest

from neuroevo.training import TrainConfig
from neuroevo.validation import check_int


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
