"""Argument checks shared by every public function (one message, one rule, everywhere)."""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum``.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        minimum: the smallest allowed value (1: a positive integer, 0: a non-negative one).

    Returns:
        ``value``.

    Raises:
        ValueError: ``value`` is not an integer or is below ``minimum``; the message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return value


def check_positive(name: str, value: Any) -> float:
    """``value`` if it is a finite real number above zero (not a ``bool``).

    Args:
        name: the argument's name, for the message.
        value: the value to check (an ``int`` or ``float``, e.g. a learning rate).

    Returns:
        ``value``.

    Raises:
        ValueError: ``value`` is not a real number, is not finite, or is not above zero; the
            message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``.

    Args:
        name: what the value names, for the message (``"optimizer"``, ``"fit method"``).
        value: the value to check.
        choices: the allowed values, in the order the message lists them.

    Returns:
        ``value``.

    Raises:
        ValueError: ``value`` is not one of ``choices``; the message names ``name`` and lists them.
    """
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value
