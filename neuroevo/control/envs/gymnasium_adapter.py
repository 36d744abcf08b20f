"""Any registered Gymnasium environment as a :class:`BatchedEnv` (the ``control`` extra).

The batch runs through Gymnasium's vector API (``gymnasium.make_vec(..., vectorization_mode="sync")``),
so any id a user registers works, discrete or continuous. Episodes end at the environment's own
termination or truncation (its ``TimeLimit``) or at ``max_steps``, whichever comes first. Gymnasium
resets finished sub-environments by itself (autoreset); this adapter masks every episode from the
step it ended on: its observation is frozen and its rewards are 0, so the next episode's rewards
never leak into a finished one.

Actions: a ``Discrete(n)`` space takes ``n`` policy outputs and the arg-max (ties: the lowest
action); a bounded ``Box`` of ``k`` dimensions takes ``k`` outputs squashed by ``tanh`` onto
``[low, high]``; an unbounded ``Box`` takes the raw outputs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from neuroevo.control.envs.base import BatchedEnv
from neuroevo.validation import check_int

INSTALL_HINT = "pip install 'neuroevo[control]'"


def import_gymnasium():
    """The ``gymnasium`` module, or ``ImportError`` naming the extra to install."""
    try:
        import gymnasium
    except ImportError as error:
        raise ImportError(f"Gymnasium environments need gymnasium: {INSTALL_HINT}") from error
    return gymnasium


class GymnasiumEnv(BatchedEnv):
    """A batch of one Gymnasium environment (see the module docstring).

    Args:
        env_id: a registered Gymnasium id, e.g. ``"CartPole-v1"``.
        max_steps: the episode cap (default: the id's ``max_episode_steps``; required without one).
        device: where the returned tensors live.
        dtype: the observations' and rewards' floating-point type.
        **kwargs: passed to the environment's constructor (``gymnasium.make_vec``).

    Raises:
        ValueError: the id is not registered; its observations are not a flat ``Box``; its actions
            neither ``Discrete`` nor a flat ``Box``; no episode cap is known.
        ImportError: gymnasium is not installed.
    """

    def __init__(self, env_id: str, *, max_steps: int | None = None, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32, **kwargs):
        gym = import_gymnasium()
        try:
            spec = gym.spec(env_id)
        except gym.error.Error as error:
            raise ValueError(f"gymnasium has no environment {env_id!r} ({error})") from None
        max_steps = max_steps if max_steps is not None else spec.max_episode_steps
        if max_steps is None:
            raise ValueError(f"{env_id} has no max_episode_steps: pass max_steps")
        super().__init__(max_steps=max_steps, device=device, dtype=dtype)
        self.env_id, self.kwargs, self.name = env_id, kwargs, f"gymnasium:{env_id}"
        probe = gym.make(env_id, **kwargs)
        observation_space, self.action_space = probe.observation_space, probe.action_space
        probe.close()
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"{env_id}: observations must be a flat Box, got {observation_space}")
        self.observation_size = observation_space.shape[0]
        if isinstance(self.action_space, gym.spaces.Discrete):
            self.discrete, self.action_size = True, int(self.action_space.n)
        elif isinstance(self.action_space, gym.spaces.Box) and len(self.action_space.shape) == 1:
            self.discrete, self.action_size = False, self.action_space.shape[0]
            low, high = self.action_space.low, self.action_space.high
            self._bounded = bool(np.isfinite(low).all() and np.isfinite(high).all())
            self._low = torch.as_tensor(low, dtype=dtype, device=self.device)
            self._high = torch.as_tensor(high, dtype=dtype, device=self.device)
        else:
            raise ValueError(f"{env_id}: actions must be Discrete or a flat Box, got {self.action_space}")
        self.vector = None
        self._observations: Tensor | None = None
        self._done: Tensor | None = None
        self._steps = 0

    def close(self) -> None:
        """Close the vector environment (it is made again by the next :meth:`reset`)."""
        if self.vector is not None:
            self.vector.close()
            self.vector = None

    def reset(self, batch: int, *, generator: torch.Generator) -> Tensor:
        """Start ``batch`` episodes; sub-environment ``i`` is seeded ``s + i`` with ``s`` drawn from
        ``generator``."""
        check_int("batch", batch)
        if self.vector is None or self.vector.num_envs != batch:
            self.close()
            self.vector = import_gymnasium().make_vec(self.env_id, num_envs=batch, vectorization_mode="sync",
                                                      **self.kwargs)
        seed = int(torch.randint(0, 2**31 - batch, (1,), generator=generator))
        observations, _ = self.vector.reset(seed=seed)
        self._observations = self._tensor(observations)
        self._done = torch.zeros(batch, dtype=torch.bool, device=self.device)
        self._steps = 0
        return self._observations

    def action_from_output(self, outputs: Tensor) -> Tensor:
        """``[B]`` int64 (discrete) or ``[B, k]`` actions in the space's bounds (see the module docstring)."""
        self.check_outputs(outputs)
        if self.discrete:
            return outputs.argmax(1)
        if self._bounded:
            return self._low + (torch.tanh(outputs.to(self.dtype)) + 1) * 0.5 * (self._high - self._low)
        return outputs

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self._done is None:
            raise RuntimeError(f"{self.name}: call reset() before step()")
        numpy_actions = actions.detach().cpu().numpy().astype(self.action_space.dtype, copy=False)
        observations, rewards, terminated, truncated, _ = self.vector.step(numpy_actions)
        running = ~self._done
        self._steps += 1
        ended = torch.as_tensor(terminated | truncated, device=self.device) | (self._steps >= self.max_steps)
        self._observations = torch.where(running.unsqueeze(1), self._tensor(observations), self._observations)
        rewards = torch.where(running, torch.as_tensor(rewards, dtype=self.dtype, device=self.device), 0.0)
        self._done = self._done | (running & ended)
        return self._observations, rewards, self._done

    def _tensor(self, observations: np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(observations), dtype=self.dtype, device=self.device)
