"""Rollouts: a whole population, its episodes and their steps as one tensor program.

:func:`rollout` steps the ``P * E`` episodes of a population of ``P`` policies (``E`` episodes
each) in lockstep: one batched policy call and one batched environment step per time step, finished
episodes masked. Episode ``e`` of member ``p`` is batch row ``p * E + e``. With ``compile=True``
:data:`DONE_CHECK_EVERY` steps (policy and environment fused) of a tensor environment are compiled by
``torch.compile`` into one call, once per environment, policy shape and batch size, and reused across calls (a new population of the
same shape does not recompile); other environments run eagerly.

A tensor environment's rollout also *compacts*: every :data:`DONE_CHECK_EVERY` steps, when the
members with an episode still running fit in half the batch or less, their rows are gathered into a
smaller batch (a power of two, :func:`padded_population`, when compiled) and the finished members'
results are put aside. One network that balances for a long time then no longer drags the whole
population's batch along, which matters most when several runs share one batch
(:mod:`populations.lockstep`). Rows never interact, so results are those of the uncompacted rollout.

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

#: Steps between checks whether every episode has ended (each check synchronises with the device);
#: also the steps one compiled call takes (more steps per call cost little less per step on a CPU but
#: compile for much longer: the double pole compiles in about 20 s at 4 steps, 55 s at 10).
DONE_CHECK_EVERY = 4
#: Distinct batch shapes one compiled step may take before torch.compile falls back to eager (its
#: default is 8; population sizes and the compacted batches of :func:`rollout` need a few more).
RECOMPILE_LIMIT = 64


def padded_population(count: int) -> int:
    """The population size a compiled rollout of ``count`` members runs at: the next power of two
    (at least 8), so that a run compiles for a few batch shapes only."""
    return max(8, 1 << (check_int("count", count) - 1).bit_length())


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
            starts: Tensor | None = None, compile: bool = False, compact: bool = True) -> RolloutResult:
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
        compact: drop finished members from the batch as they accumulate (tensor environments; see
            the module docstring). The results are the same either way.

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
        step = _tensor_step(env, policy, episodes, compile)
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
    rows = _Rows(population, episodes, current, returns, failed_at)
    stride = DONE_CHECK_EVERY if compile and isinstance(env, TensorEnv) else 1  # steps per call of ``step``
    for t in range(0, env.max_steps, stride):
        observations, current, hidden, returns, failed_at = step(
            policy.weights, policy.biases, policy.recurrent, observations, current, hidden, returns, failed_at)
        if (t + stride) % DONE_CHECK_EVERY == 0:
            running = ~current.done.view(-1, episodes).all(1)
            if not bool(running.any()):
                break
            alive = torch.nonzero(running[:rows.real]).flatten()
            size = padded_population(len(alive)) if compile else len(alive)
            if compact and isinstance(env, TensorEnv) and 2 * size <= policy.population:
                rows.put_aside(current, returns, failed_at)
                take = torch.cat([alive, alive[-1:].expand(size - len(alive))])
                rows.keep(alive)
                policy, observations, current, hidden, returns, failed_at = _gather(
                    take, episodes, policy, observations, current, hidden, returns, failed_at)
                step = _tensor_step(env, policy, episodes, compile)
    rows.put_aside(current, returns, failed_at)
    _raise_on_nonfinite(env, rows.failed_at, episodes)
    scores = env.score(rows.memory, rows.returns) if isinstance(env, TensorEnv) else None
    shape = (population, episodes)
    return RolloutResult(rows.returns.view(shape), rows.steps.view(shape),
                         None if scores is None else scores.view(shape))


class _Rows:
    """A rollout's per-episode results for the whole population while the batch is compacted: the
    batch's first ``real`` members are original members ``members`` (the rest pad it)."""

    def __init__(self, population: int, episodes: int, current: EnvState, returns: Tensor, failed_at: Tensor):
        self.episodes, self.real = episodes, population
        self.members = torch.arange(population, device=returns.device)
        self.returns, self.failed_at = returns.clone(), failed_at.clone()
        self.steps, self.memory = current.steps.clone(), current.memory.clone()

    def put_aside(self, current: EnvState, returns: Tensor, failed_at: Tensor) -> None:
        """Store the batch's real rows under their original members."""
        index = (self.members[:, None] * self.episodes
                 + torch.arange(self.episodes, device=self.members.device)).flatten()
        count = self.real * self.episodes
        for mine, theirs in ((self.returns, returns), (self.failed_at, failed_at), (self.steps, current.steps),
                             (self.memory, current.memory)):
            mine[index] = theirs[:count]

    def keep(self, alive: Tensor) -> None:
        """The batch now holds the members at positions ``alive`` of the current batch first."""
        self.members, self.real = self.members[alive], len(alive)


def _gather(take: Tensor, episodes: int, policy: StackedPolicy, observations: Tensor, current: EnvState,
            hidden: list[Tensor | None], returns: Tensor, failed_at: Tensor):
    """The batch of members ``take`` (positions in the current batch), with their episodes."""
    def rows(t: Tensor) -> Tensor:
        return t.reshape(t.shape[0] // episodes, episodes, *t.shape[1:])[take].flatten(0, 1)

    current = EnvState(*(rows(field) for field in current))
    hidden = [None if h is None else h[take] for h in hidden]
    return policy.select(take), rows(observations), current, hidden, rows(returns), rows(failed_at)


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


def _tensor_step(env: TensorEnv, policy: StackedPolicy, episodes: int, compile: bool) -> Callable:
    """The fused step of ``policy`` on ``env`` (compiled, or eager)."""
    if compile:
        return _compiled_step(env, policy, episodes)
    return functools.partial(_step, env, policy.activation, policy.population, episodes)


def _compiled_step(env: TensorEnv, policy: StackedPolicy, episodes: int) -> Callable:
    constants = tuple(sorted((k, v) for k, v in vars(env).items() if isinstance(v, (bool, int, float, str))))
    key = (type(env), constants, str(env.device), env.dtype, policy.sizes, policy.activation,
           tuple(r is not None for r in policy.recurrent), policy.dtype, policy.population, episodes)
    if key not in _COMPILED:
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
        steps = functools.partial(_steps, DONE_CHECK_EVERY, env, policy.activation, policy.population, episodes)
        _COMPILED[key] = torch.compile(steps, fullgraph=True, dynamic=False)
    return _COMPILED[key]


def _steps(count: int, env: TensorEnv, activation: str, population: int, episodes: int, weights: list[Tensor],
           biases: list[Tensor], recurrent: list[Tensor | None], observations: Tensor, current: EnvState,
           hidden: list[Tensor | None], returns: Tensor, failed_at: Tensor):
    """``count`` lockstep steps (:func:`_step`) in one call: compiled, one call's overhead serves them
    all. Steps past an episode's end change nothing of it (the environment masks finished episodes)."""
    for _ in range(count):
        observations, current, hidden, returns, failed_at = _step(
            env, activation, population, episodes, weights, biases, recurrent, observations, current, hidden,
            returns, failed_at)
    return observations, current, hidden, returns, failed_at


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
