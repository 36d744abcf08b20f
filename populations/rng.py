"""The global random number generators a GA run draws from: seed, capture, restore.

DEAP's selection and variation and neuroevo's operators draw from Python's :mod:`random`; user
code may also use NumPy's and torch's global generators. A checkpoint stores all three so that a
resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["RngState", "capture_rng_state", "restore_rng_state", "seed_everything"]


@dataclass(frozen=True)
class RngState:
    """The state of the three global generators.

    Attributes:
        python: ``random.getstate()`` as JSON-ready lists.
        numpy: ``np.random.get_state(legacy=False)`` with the key as a list of ints.
        torch: ``torch.get_rng_state()``, a CPU uint8 tensor.
    """

    python: list[Any]
    numpy: dict[str, Any]
    torch: Tensor


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng_state() -> RngState:
    """The current state of the global generators (copies)."""
    version, internal, gauss_next = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"] = {**numpy_state["state"], "key": numpy_state["state"]["key"].tolist()}
    return RngState([version, list(internal), gauss_next], numpy_state, torch.get_rng_state().clone())


def restore_rng_state(state: RngState) -> None:
    """Put the global generators back into ``state``.

    Raises:
        ValueError: a malformed state (nothing is changed then).
    """
    try:
        version, internal, gauss_next = state.python
        python_state = (int(version), tuple(int(x) for x in internal), gauss_next)
        numpy_state = {**state.numpy, "state": {**state.numpy["state"],
                                                "key": np.asarray(state.numpy["state"]["key"], dtype=np.uint32)}}
        numpy_generator = np.random.RandomState()
        numpy_generator.set_state(numpy_state)
        random.Random().setstate(python_state)
        torch.Generator().set_state(state.torch)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"malformed random number generator state: {error}") from None
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    torch.set_rng_state(state.torch)
