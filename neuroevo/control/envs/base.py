"""The batched environment interface: a whole batch of episodes as tensors, stepped in lockstep.

Two classes:

* :class:`BatchedEnv`: the interface every task offers (``reset``, ``step``,
  ``action_from_output``), usable by anything that steps environments (:mod:`neuroevo.control.rollout`,
  a user's own loop). Finished episodes are masked, never looped over: once an episode is done its
  state is frozen, its reward is 0 and its ``done`` flag stays set until the next ``reset``.
* :class:`TensorEnv`: a :class:`BatchedEnv` whose physics is pure tensor functions of a state
  tensor (:meth:`TensorEnv.transition`, :meth:`TensorEnv.observe`), so a whole step (policy and
  environment) can be traced and compiled (``torch.compile``) as one program. The built-in tasks
  (``cartpole``, ``double-pole``, ``double-pole-nv``) are tensor environments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch
from torch import Tensor

from neuroevo.validation import check_int


class EnvState(NamedTuple):
    """Everything a batch of episodes of a :class:`TensorEnv` carries from one step to the next.

    Attributes:
        state: ``[B, state_size]`` the physical state (units: the task's, e.g. m, m/s, rad, rad/s).
        done: ``[B]`` bool, the episode has ended (terminated or reached ``max_steps``).
        steps: ``[B]`` int64, steps taken in the episode (the terminating step included).
        memory: ``[B, memory_size]`` the task's memory for its score (e.g. the damping window);
            ``[B, 0]`` when the task keeps none.
    """

    state: Tensor
    done: Tensor
    steps: Tensor
    memory: Tensor


class BatchedEnv(ABC):
    """A batch of ``B`` episodes of one task, stepped together.

    Attributes:
        name: the registry name (``"cartpole"``, ``"gymnasium:Acrobot-v1"``, ...).
        observation_size: inputs a policy receives per step.
        action_size: outputs a policy produces per step (for discrete tasks: one per action).
        discrete: whether actions are integers (``action_from_output`` takes the arg-max).
        max_steps: the episode cap in steps (an episode reaching it ends as truncated).
        device: where the batch's tensors live.
        dtype: the floating-point type of states and observations.
    """

    name: str
    observation_size: int
    action_size: int
    discrete: bool
    max_steps: int

    def __init__(self, *, max_steps: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        self.max_steps = check_int("max_steps", max_steps)
        self.device = torch.device(device)
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point type, got {dtype}")
        self.dtype = dtype

    @abstractmethod
    def reset(self, batch: int, *, generator: torch.Generator) -> Tensor:
        """Start ``batch`` new episodes from the task's start distribution.

        Args:
            batch: the number of episodes ``B``.
            generator: the source of randomness for the start states (a CPU generator).

        Returns:
            ``[B, observation_size]`` the first observations.
        """

    @abstractmethod
    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Apply ``actions`` to every episode that is not done.

        Args:
            actions: ``[B]`` int64 for discrete tasks, ``[B, action_dims]`` floats otherwise, as
                :meth:`action_from_output` returns them.

        Returns:
            ``(observations [B, observation_size], rewards [B], done [B] bool)``; episodes already
            done before this call get reward 0 and keep their last observation.
        """

    @abstractmethod
    def action_from_output(self, outputs: Tensor) -> Tensor:
        """Actions from raw policy outputs.

        Args:
            outputs: ``[B, action_size]`` raw (linear) policy outputs.

        Returns:
            The actions :meth:`step` takes.
        """

    def check_outputs(self, outputs: Tensor) -> None:
        """Raise ``ValueError`` unless ``outputs`` is ``[B, action_size]``."""
        if outputs.dim() != 2 or outputs.shape[1] != self.action_size:
            raise ValueError(f"{self.name} takes {self.action_size} policy outputs per step, "
                             f"got outputs of shape {tuple(outputs.shape)}")


class TensorEnv(BatchedEnv):
    """A :class:`BatchedEnv` defined by pure tensor functions of its state (traceable, compilable).

    Subclasses define :attr:`state_size`, :meth:`initial_state`, :meth:`transition`, :meth:`observe`
    and :meth:`action_from_output`; tasks with a score beyond the return also set
    :attr:`memory_size` and override :meth:`update_memory` and :meth:`score`.
    """

    state_size: int
    memory_size: int = 0

    def __init__(self, *, max_steps: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        super().__init__(max_steps=max_steps, device=device, dtype=dtype)
        self.current: EnvState | None = None

    # ------------------------------------------------------------ the physics (pure)
    @abstractmethod
    def initial_state(self, batch: int, generator: torch.Generator) -> Tensor:
        """``[batch, state_size]`` start states drawn with ``generator``."""

    @abstractmethod
    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of the dynamics for every episode (no masking).

        Args:
            state: ``[B, state_size]``.
            actions: as :meth:`action_from_output` returns them.

        Returns:
            ``(next_state [B, state_size], reward [B], terminated [B] bool)``.
        """

    @abstractmethod
    def observe(self, state: Tensor) -> Tensor:
        """``[B, observation_size]`` what a policy sees of ``state``."""

    def update_memory(self, memory: Tensor, next_state: Tensor, counted: Tensor, steps: Tensor) -> Tensor:
        """The task memory after a step (default: none kept).

        Args:
            memory: ``[B, memory_size]``.
            next_state: ``[B, state_size]`` the state after the step.
            counted: ``[B]`` bool, the episode was running and did not terminate on this step.
            steps: ``[B]`` int64, steps taken so far, this one included.

        Returns:
            ``[B, memory_size]``.
        """
        return memory

    def score(self, memory: Tensor, returns: Tensor) -> Tensor | None:
        """``[B]`` the task's own score of finished episodes (``None``: the task has none).

        Args:
            memory: ``[B, memory_size]`` the memory at the end of the episodes.
            returns: ``[B]`` the episodes' returns.
        """
        return None

    # ------------------------------------------------------------ batched masked step (pure)
    def start(self, state: Tensor) -> EnvState:
        """An :class:`EnvState` of episodes starting at ``state`` ``[B, state_size]``."""
        if state.dim() != 2 or state.shape[1] != self.state_size:
            raise ValueError(f"{self.name} states are [B, {self.state_size}], got {tuple(state.shape)}")
        batch = state.shape[0]
        return EnvState(state.to(self.device, self.dtype),
                        torch.zeros(batch, dtype=torch.bool, device=self.device),
                        torch.zeros(batch, dtype=torch.int64, device=self.device),
                        torch.zeros(batch, self.memory_size, dtype=self.dtype, device=self.device))

    def advance(self, current: EnvState, actions: Tensor) -> tuple[EnvState, Tensor]:
        """One masked step: running episodes move, finished ones stay as they are.

        Args:
            current: the episodes before the step.
            actions: one action per episode (:meth:`action_from_output`).

        Returns:
            ``(the episodes after the step, reward [B])``; a finished episode's reward is 0.
        """
        running = ~current.done
        next_state, reward, terminated = self.transition(current.state, actions)
        steps = current.steps + running.to(torch.int64)
        memory = self.update_memory(current.memory, next_state, running & ~terminated, steps)
        state = torch.where(running.unsqueeze(1), next_state, current.state)
        done = current.done | (running & (terminated | (steps >= self.max_steps)))
        reward = torch.where(running, reward, torch.zeros_like(reward))
        return EnvState(state, done, steps, memory), reward

    # ------------------------------------------------------------ the stateful interface
    def reset(self, batch: int, *, generator: torch.Generator) -> Tensor:
        check_int("batch", batch)
        self.current = self.start(self.initial_state(batch, generator))
        return self.observe(self.current.state)

    def set_state(self, state: Tensor) -> Tensor:
        """Start episodes at given states ``[B, state_size]`` instead of drawn ones.

        Returns:
            ``[B, observation_size]`` the first observations.
        """
        self.current = self.start(state)
        return self.observe(self.current.state)

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.current is None:
            raise RuntimeError(f"{self.name}: call reset() or set_state() before step()")
        self.current, reward = self.advance(self.current, actions)
        return self.observe(self.current.state), reward, self.current.done
