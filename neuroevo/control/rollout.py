"""Rollouts: a whole population, its episodes and their steps as one tensor program.

:func:`rollout` steps the ``P * E`` episodes of a population of ``P`` policies (``E`` episodes
each) in lockstep: one batched policy call and one batched environment step per time step, finished
episodes masked. Episode ``e`` of member ``p`` is batch row ``p * E + e``. With ``compile=True``
the step (policy and environment fused) of a tensor environment is compiled by ``torch.compile``
once per environment, policy shape and batch size, and reused across calls (a new population of the
same shape does not recompile); other environments run eagerly.

The non-Markov double-pole solve protocol (Gruau et al. 1996; Gomez et al. 2008):
:func:`long_check` (balance 100,000 steps), :func:`generalisation_score` (625 starts) and
:func:`solve_check` (both).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from neuroevo.control.envs import BatchedEnv, DoublePole, EnvState, TensorEnv
from neuroevo.control.envs.double_pole import (DAMPING_EPISODE, GENERALISATION_PASS, LONG_CHECK_STEPS,
                                               START_ANGLE, generalisation_starts)
from neuroevo.control.policy import StackedPolicy, forward
from neuroevo.validation import check_int

#: Steps between checks whether every episode has ended (each check synchronises with the device).
DONE_CHECK_EVERY = 10


@dataclass(frozen=True)
class RolloutResult:
    """What a rollout measured, per member and episode.

    Attributes:
        returns: ``[P, E]`` episode returns (sum of rewards).
        steps: ``[P, E]`` int64 steps taken per episode (the terminating step included).
        scores: ``[P, E]`` the task's own score (``double-pole-nv``: the damping fitness), or ``None``.
    """

    returns: Tensor
    steps: Tensor
    scores: Tensor | None

    @property
    def mean_return(self) -> Tensor:
        """``[P]`` the mean episode return of each member."""
        return self.returns.mean(1)

    @property
    def mean_steps(self) -> Tensor:
        """``[P]`` the mean episode length of each member (float)."""
        return self.steps.to(self.returns.dtype).mean(1)

    @property
    def mean_score(self) -> Tensor | None:
        """``[P]`` the mean task score of each member, or ``None``."""
        return None if self.scores is None else self.scores.mean(1)


def rollout(policy: StackedPolicy, env: BatchedEnv, *, episodes: int = 1, seed: int, max_steps: int | None = None,
            starts: Tensor | None = None, compile: bool = False) -> RolloutResult:
    """Run ``episodes`` episodes of every member of ``policy`` on ``env``, all in lockstep.

    Args:
        policy: ``P`` policies with ``env.observation_size`` inputs and ``env.action_size`` outputs,
            on ``env``'s device.
        env: the task (its own batch state is not used; the rollout starts its own episodes).
        episodes: episodes per member ``E``.
        seed: seeds the start states (member ``p``'s episode ``e`` gets the ``p * E + e``-th draw).
        max_steps: the episode cap (default: ``env.max_steps``).
        starts: ``[E, state_size]`` start states, the same for every member, instead of drawn ones
            (tensor environments only).
        compile: compile the fused step with ``torch.compile`` (tensor environments; others run
            eagerly). Results equal the eager ones up to floating-point reassociation.

    Returns:
        The :class:`RolloutResult`.

    Raises:
        ValueError: the policy's sizes or device do not match ``env``; an observation or policy
            output became non-finite (the message names the member, episode and step).
    """
    check_int("episodes", episodes)
    _check_fits(policy, env)
    if max_steps is not None:
        env = copy.copy(env)
        env.max_steps = check_int("max_steps", max_steps)
    population = policy.population
    batch = population * episodes
    generator = torch.Generator().manual_seed(seed)
    if isinstance(env, TensorEnv):
        if starts is None:
            state = env.initial_state(batch, generator)
        else:
            state = _repeat_starts(env, starts, episodes, population)
        current = env.start(state)
        observations = env.observe(current.state)
        step = (_compiled_step(env, policy, episodes) if compile
                else functools.partial(_step, env, policy.activation, population, episodes))
    else:
        if starts is not None:
            raise ValueError(f"{env.name}: explicit starts need a tensor environment")
        observations = env.reset(batch, generator=generator)
        current = EnvState(observations, torch.zeros(batch, dtype=torch.bool, device=env.device),
                           torch.zeros(batch, dtype=torch.int64, device=env.device), observations[:, :0])
        step = functools.partial(_step, _Stepping(env), policy.activation, population, episodes)
    hidden = policy.initial_hidden(episodes)
    returns = torch.zeros(batch, dtype=env.dtype, device=env.device)
    failed_at = torch.full((batch,), -1, dtype=torch.int64, device=env.device)
    for t in range(env.max_steps):
        observations, current, hidden, returns, failed_at = step(
            policy.weights, policy.biases, policy.recurrent, observations, current, hidden, returns, failed_at)
        if (t + 1) % DONE_CHECK_EVERY == 0 and bool(current.done.all()):
            break
    _raise_on_nonfinite(env, failed_at, episodes)
    scores = env.score(current.memory, returns) if isinstance(env, TensorEnv) else None
    shape = (population, episodes)
    return RolloutResult(returns.view(shape), current.steps.view(shape),
                         None if scores is None else scores.view(shape))


def _step(env: TensorEnv | _Stepping, activation: str, population: int, episodes: int, weights: list[Tensor],
          biases: list[Tensor], recurrent: list[Tensor | None], observations: Tensor, current: EnvState,
          hidden: list[Tensor | None], returns: Tensor, failed_at: Tensor):
    """One lockstep time step: every member acts on its episodes, every episode moves (masked).

    ``failed_at`` ``[B]`` records the step at which an episode's observation or the policy's output
    first became non-finite (-1: never); such an episode ends there.
    """
    outputs, hidden = forward(weights, biases, recurrent, activation,
                              observations.view(population, episodes, -1).to(weights[0].dtype), hidden)
    outputs = outputs.reshape(population * episodes, -1)
    before = current.done
    current, reward = env.advance(current, env.action_from_output(outputs))
    observations = env.observe(current.state)
    fresh = ~before & (failed_at < 0) & ~(torch.isfinite(observations).all(1) & torch.isfinite(outputs).all(1))
    failed_at = torch.where(fresh, current.steps, failed_at)
    return observations, current._replace(done=current.done | fresh), hidden, returns + reward, failed_at


class _Stepping:
    """A stateful :class:`BatchedEnv` behind :class:`TensorEnv`'s ``advance`` / ``observe`` (its
    ``EnvState.state`` holds the observations)."""

    def __init__(self, env: BatchedEnv):
        self.env = env
        self.action_from_output = env.action_from_output

    def advance(self, current: EnvState, actions: Tensor) -> tuple[EnvState, Tensor]:
        observations, reward, done = self.env.step(actions)
        steps = current.steps + (~current.done).to(torch.int64)
        return EnvState(observations, done.clone(), steps, current.memory), reward

    @staticmethod
    def observe(observations: Tensor) -> Tensor:
        return observations


#: Compiled steps, keyed by the environment's configuration and the policy's and batch's shapes.
_COMPILED: dict[tuple, Callable] = {}


def _compiled_step(env: TensorEnv, policy: StackedPolicy, episodes: int) -> Callable:
    constants = tuple(sorted((k, v) for k, v in vars(env).items() if isinstance(v, (bool, int, float, str))))
    key = (type(env), constants, str(env.device), env.dtype, policy.sizes, policy.activation,
           tuple(r is not None for r in policy.recurrent), policy.dtype, policy.population, episodes)
    if key not in _COMPILED:
        step = functools.partial(_step, env, policy.activation, policy.population, episodes)
        _COMPILED[key] = torch.compile(step, fullgraph=True, dynamic=False)
    return _COMPILED[key]


def _check_fits(policy: StackedPolicy, env: BatchedEnv) -> None:
    if policy.sizes[0] != env.observation_size:
        raise ValueError(f"{env.name} gives {env.observation_size} observations per step, "
                         f"the policy takes {policy.sizes[0]} inputs")
    if policy.sizes[-1] != env.action_size:
        raise ValueError(f"{env.name} takes {env.action_size} policy outputs per step, "
                         f"the policy has {policy.sizes[-1]} outputs")
    if policy.device != env.device:
        raise ValueError(f"the policy is on {policy.device}, {env.name} on {env.device}: move one (policy.to(...))")


def _repeat_starts(env: TensorEnv, starts: Tensor, episodes: int, population: int) -> Tensor:
    if tuple(starts.shape) != (episodes, env.state_size):
        raise ValueError(f"starts must be [episodes={episodes}, {env.state_size}], got {tuple(starts.shape)}")
    return starts.to(env.device, env.dtype).repeat(population, 1)


def _raise_on_nonfinite(env: BatchedEnv, failed_at: Tensor, episodes: int) -> None:
    bad = torch.nonzero(failed_at >= 0).flatten()
    if bad.numel():
        row = int(bad[0])
        raise ValueError(f"{env.name}: non-finite observation or policy output for population member "
                         f"{row // episodes} (episode {row % episodes}) at step {int(failed_at[row])} "
                         f"({bad.numel()} episode(s) in all)")


# ------------------------------------------------------------------ double-pole-nv solve protocol
@dataclass(frozen=True)
class SolveCheck:
    """The non-Markov double-pole solve protocol's outcome per member.

    Attributes:
        long_balanced: ``[P]`` bool, balanced the full long check (100,000 steps).
        generalisation: ``[P]`` int64 starts of 625 balanced for 1,000 steps (0 where the long check
            failed: not run).
        solved: ``[P]`` bool, passed the long check and at least 200 generalisation starts.
    """

    long_balanced: Tensor
    generalisation: Tensor
    solved: Tensor


def long_check(policy: StackedPolicy, *, steps: int = LONG_CHECK_STEPS, start_angle: float = START_ANGLE,
               compile: bool = False) -> Tensor:
    """``[P]`` bool: which members balance ``double-pole-nv`` for ``steps`` steps from the standard start."""
    env = DoublePole(velocities=False, max_steps=check_int("steps", steps), start_angle=start_angle,
                     device=policy.device)
    return rollout(policy, env, seed=0, compile=compile).returns[:, 0] == steps


def generalisation_score(policy: StackedPolicy, *, episode_steps: int = DAMPING_EPISODE,
                         compile: bool = False) -> Tensor:
    """``[P]`` int64: of the 625 generalisation starts, how many each member balances for
    ``episode_steps`` steps (:func:`~neuroevo.control.envs.double_pole.generalisation_starts`)."""
    env = DoublePole(velocities=False, max_steps=episode_steps, device=policy.device)
    starts = generalisation_starts(device=policy.device)
    result = rollout(policy, env, episodes=starts.shape[0], seed=0, starts=starts, compile=compile)
    return (result.returns == episode_steps).sum(1)


def solve_check(policy: StackedPolicy, *, steps: int = LONG_CHECK_STEPS, start_angle: float = START_ANGLE,
                compile: bool = False) -> SolveCheck:
    """The non-Markov solve protocol: :func:`long_check`, then :func:`generalisation_score` for the
    members that passed it; solved at :data:`GENERALISATION_PASS` (200) starts."""
    passed = long_check(policy, steps=steps, start_angle=start_angle, compile=compile)
    generalisation = torch.zeros(policy.population, dtype=torch.int64, device=policy.device)
    chosen = torch.nonzero(passed).flatten()
    if chosen.numel():
        generalisation[chosen] = generalisation_score(policy.select(chosen), compile=compile)
    return SolveCheck(passed, generalisation, passed & (generalisation >= GENERALISATION_PASS))
