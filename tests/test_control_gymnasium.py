"""The Gymnasium adapter: any registered id through the vector API, finished episodes masked."""

from __future__ import annotations

import sys

import gymnasium
import numpy as np
import pytest
import torch

from neuroevo.control import make_env
from neuroevo.control.envs.gymnasium_adapter import GymnasiumEnv


def _single_returns(env_id: str, seed: int, actions_of, steps: int) -> tuple[float, int]:
    """Return and length of one episode of Gymnasium's own env (seeded ``seed``)."""
    env = gymnasium.make(env_id)
    observation, _ = env.reset(seed=seed)
    total = 0.0
    for step in range(1, steps + 1):
        observation, reward, terminated, truncated, _ = env.step(actions_of(observation))
        total += reward
        if terminated or truncated:
            return total, step
    return total, steps


def _run(env: GymnasiumEnv, batch: int, actions_of, seed: int = 3):
    observations = env.reset(batch, generator=torch.Generator().manual_seed(seed))
    returns, lengths = torch.zeros(batch, dtype=torch.float64), torch.zeros(batch, dtype=torch.int64)
    for _ in range(env.max_steps):
        running = ~env._done
        observations, reward, done = env.step(actions_of(observations))
        returns += reward
        lengths += running
        if done.all():
            break
    return returns, lengths


def test_cartpole_episodes_end_apart_without_leaking():
    """Each sub-environment's return and length equal Gymnasium's single env with the same seed, though
    the batch's episodes end at different steps (the autoreset episodes' rewards are masked)."""
    env = GymnasiumEnv("CartPole-v1", dtype=torch.float64)
    weights = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    returns, lengths = _run(env, 6, lambda obs: (obs @ weights > 0).to(torch.int64))
    seed0 = int(torch.randint(0, 2**31 - 6, (1,), generator=torch.Generator().manual_seed(3)))
    for i in range(6):
        expected = _single_returns("CartPole-v1", seed0 + i, lambda obs: int(obs @ weights.numpy() > 0), 500)
        assert (returns[i].item(), lengths[i].item()) == expected
    assert len(set(lengths.tolist())) > 1 and returns.equal(lengths.to(returns.dtype))


def test_acrobot_discrete_three_actions():
    env = make_env("gymnasium:Acrobot-v1", max_steps=20)
    assert (env.observation_size, env.action_size, env.discrete) == (6, 3, True)
    assert env.action_from_output(torch.tensor([[0.0, 2.0, 1.0], [5.0, 5.0, 1.0]])).tolist() == [1, 0]
    returns, lengths = _run(env, 4, lambda obs: torch.zeros(4, dtype=torch.int64))
    assert lengths.tolist() == [20] * 4 and returns.tolist() == [-20.0] * 4


def test_pendulum_continuous_actions_in_bounds_and_truncated():
    env = make_env("gymnasium:Pendulum-v1")
    assert (env.observation_size, env.action_size, env.discrete, env.max_steps) == (3, 1, False, 200)
    actions = env.action_from_output(torch.tensor([[-1e6], [0.0], [1e6]]))
    assert actions.flatten().tolist() == pytest.approx([-2.0, 0.0, 2.0])
    returns, lengths = _run(env, 3, lambda obs: torch.zeros(3, 1))
    seed0 = int(torch.randint(0, 2**31 - 3, (1,), generator=torch.Generator().manual_seed(3)))
    expected = _single_returns("Pendulum-v1", seed0 + 1, lambda obs: np.zeros(1, dtype=np.float32), 200)
    assert lengths.tolist() == [200] * 3
    assert returns[1].item() == pytest.approx(expected[0], rel=1e-5)


def test_unknown_gymnasium_id():
    with pytest.raises(ValueError, match="gymnasium has no environment 'NoSuchEnv-v0'"):
        make_env("gymnasium:NoSuchEnv-v0")


def test_missing_gymnasium_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    with pytest.raises(ImportError, match=r"pip install 'neuroevo\[control\]'"):
        GymnasiumEnv("CartPole-v1")


def test_lunar_lander_runs_where_box2d_is_installed():
    """LunarLander-v3 needs Box2D (the ``box2d`` extra); where it installs, the adapter steps it."""
    for module in ("Box2D", "pygame"):  # gymnasium's box2d tasks import both
        pytest.importorskip(module, reason="LunarLander-v3 needs Box2D: pip install 'neuroevo[box2d]'")
    env = make_env("gymnasium:LunarLander-v3", max_steps=30)
    assert (env.observation_size, env.action_size, env.discrete) == (8, 4, True)
    returns, lengths = _run(env, 2, lambda obs: torch.zeros(2, dtype=torch.int64))
    assert lengths.tolist() == [30, 30] and torch.isfinite(returns).all()
