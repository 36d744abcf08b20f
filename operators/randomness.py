"""Sources of randomness shared by every operator.

As in DEAP's own operators, randomness comes from Python's :mod:`random` module unless an explicit
:class:`random.Random` is passed, so seeding :mod:`random` makes a run reproducible. Tensor noise
is drawn from a :class:`torch.Generator` seeded from that source, never from torch's global state.
"""

from __future__ import annotations

import math
import random
from types import ModuleType
from typing import Union

import torch

#: Python's ``random`` module itself, or a ``random.Random`` instance (same methods).
RandomSource = Union[random.Random, ModuleType]


def python_rng(rng: random.Random | None) -> RandomSource:
    """``rng``, or the :mod:`random` module when ``rng`` is ``None`` (DEAP's default)."""
    return random if rng is None else rng


def torch_generator(rng: random.Random | None) -> torch.Generator:
    """A CPU :class:`torch.Generator` seeded with 63 random bits drawn from ``rng``."""
    generator = torch.Generator()
    generator.manual_seed(python_rng(rng).getrandbits(63))
    return generator


def neuron_count(coefficient: float, n: int) -> int:
    """``coefficient * n`` rounded half up: how many of ``n`` neurons an operator picks."""
    return math.floor(coefficient * n + 0.5)


def choose_neurons(rng: random.Random | None, n: int, k: int) -> list[int]:
    """``k`` distinct neuron indices out of ``n``, uniformly at random, in increasing order."""
    return sorted(python_rng(rng).sample(range(n), k))
