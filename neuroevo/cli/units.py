"""Quantities with units on the command line: one parser for every memory size."""

from __future__ import annotations

import argparse
import math
import re

__all__ = ["MemorySizeError", "parse_memory_size"]

_POWERS = {"": 2, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_PATTERN = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?)(i?b)?\s*", re.IGNORECASE)


class MemorySizeError(ValueError, argparse.ArgumentTypeError):
    """A memory size that cannot be read (a ``ValueError`` that argparse reports as it is)."""


def parse_memory_size(text: str | int | float) -> int:
    """A memory size in bytes, from a number of MiB or a number with a unit.

    Units are binary (powers of 1024) and case-insensitive: ``B``; ``K``, ``M``, ``G``, ``T``
    (also written ``KiB``/``KB``, ``MiB``/``MB``, ...). A plain number is MiB.
    Examples: ``"512"`` and ``"512M"`` -> 536870912; ``"2G"`` -> 2147483648; ``"1.5GiB"``;
    ``"4096B"`` -> 4096.

    Args:
        text: The size as written (a number is taken as MiB too).

    Returns:
        Bytes, rounded down, at least 1.

    Raises:
        MemorySizeError: Not a positive finite number with an optional unit (the message says
            what is accepted).
    """
    match = _PATTERN.fullmatch(str(text))
    if match is None or (match.group(3) and match.group(3).lower() == "ib" and not match.group(2)):
        raise MemorySizeError(
            f"{text!r} is not a memory size: give a number of MiB (e.g. 512) or a number with a unit "
            "B, K, M, G or T (e.g. 512M, 2G, 1.5GiB)"
        )
    number, prefix, suffix = match.groups()
    unit = "b" if suffix and not prefix else prefix.lower()
    size = float(number) * 1024 ** _POWERS[unit]
    if not math.isfinite(size):
        raise MemorySizeError(f"{text!r}: too large for a memory size")
    if int(size) < 1:
        raise MemorySizeError(f"{text!r}: a memory size must be at least 1 byte")
    return int(size)
