"""Batched control environments and their registry (:func:`make_env`).

Built-in tasks (tensor environments, any device and dtype):

* ``"cartpole"``: Gymnasium's CartPole-v1 dynamics (:mod:`.cartpole`);
* ``"double-pole"``: double-pole balancing with velocities (Markov, :mod:`.double_pole`);
* ``"double-pole-nv"``: without velocities (non-Markov, damping fitness);
* ``"gymnasium:<id>"``: any registered Gymnasium environment through its vector API
  (:mod:`.gymnasium_adapter`, the ``control`` extra).
"""

from __future__ import annotations

from typing import Any

from neuroevo.control.envs.base import BatchedEnv, EnvState, TensorEnv
from neuroevo.control.envs.cartpole import CartPole
from neuroevo.control.envs.double_pole import DoublePole
from neuroevo.control.envs.gymnasium_adapter import GymnasiumEnv

GYMNASIUM_PREFIX = "gymnasium:"
#: The built-in names and their constructors.
BUILTIN = {
    "cartpole": CartPole,
    "double-pole": lambda **kwargs: DoublePole(velocities=True, **kwargs),
    "double-pole-nv": lambda **kwargs: DoublePole(velocities=False, **kwargs),
}


def make_env(name: str, **kwargs: Any) -> BatchedEnv:
    """The environment registered as ``name``.

    Args:
        name: ``"cartpole"``, ``"double-pole"``, ``"double-pole-nv"`` or ``"gymnasium:<id>"``.
        **kwargs: the environment's options (``max_steps``, ``device``, ``dtype``, and its own, e.g.
            ``start_angle`` for the double pole).

    Returns:
        The environment.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name.startswith(GYMNASIUM_PREFIX):
        return GymnasiumEnv(name[len(GYMNASIUM_PREFIX):], **kwargs)
    if name not in BUILTIN:
        raise ValueError(f"unknown environment {name!r}; known: {', '.join(BUILTIN)}, "
                         f"or {GYMNASIUM_PREFIX}<id> for any registered Gymnasium id")
    return BUILTIN[name](**kwargs)


__all__ = ["BUILTIN", "BatchedEnv", "CartPole", "DoublePole", "EnvState", "GymnasiumEnv", "TensorEnv", "make_env"]
