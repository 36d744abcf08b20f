"""The batched environments: CartPole against Gymnasium's own, masking, the registry and its errors."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch

from neuroevo.control.envs import CartPole, DoublePole, make_env


def _balancing_action(state: np.ndarray) -> int:
    """A controller that keeps CartPole up for the whole 500 steps."""
    x, x_dot, theta, theta_dot = state
    return int(0.1 * x + 0.5 * x_dot + 10.0 * theta + 3.0 * theta_dot > 0)


@pytest.mark.parametrize("controlled", [True, False])
def test_cartpole_follows_gymnasium_state_by_state(controlled):
    """float64, Gymnasium's env beside ours from the same start with the same actions: every state
    agrees to 1e-12 until termination (balanced: the 500-step truncation; random: a fall)."""
    ours = CartPole(dtype=torch.float64)
    ours.reset(1, generator=torch.Generator().manual_seed(5))
    theirs = gymnasium.make("CartPole-v1")
    theirs.reset(seed=0)
    theirs.unwrapped.state = ours.current.state[0].numpy().copy()
    rng = np.random.default_rng(1)
    for step in range(1, 501):
        action = _balancing_action(theirs.unwrapped.state) if controlled else int(rng.integers(2))
        _, reward, terminated, truncated, _ = theirs.step(action)
        _, our_reward, done = ours.step(torch.tensor([action]))
        np.testing.assert_allclose(ours.current.state[0].numpy(), theirs.unwrapped.state, rtol=0, atol=1e-12)
        assert float(our_reward[0]) == reward
        assert bool(done[0]) == (terminated or truncated)
        if terminated or truncated:
            break
    assert step == 500 if controlled else step < 100


def test_finished_episodes_are_masked():
    env = CartPole()
    env.reset(3, generator=torch.Generator().manual_seed(0))
    env.current = env.current._replace(state=torch.tensor([[2.39, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                                                           [0.0, 0.0, 0.0, 0.0]]))
    _, reward, done = env.step(torch.tensor([1, 1, 0]))
    assert done.tolist() == [True, False, False] and reward.tolist() == [1.0, 1.0, 1.0]
    frozen = env.current.state[0].clone()
    _, reward, done = env.step(torch.tensor([1, 1, 0]))
    assert reward.tolist() == [0.0, 1.0, 1.0] and done[0]
    assert torch.equal(env.current.state[0], frozen)
    assert env.current.steps.tolist() == [1, 2, 2]


def test_episode_cap_ends_episodes():
    env = CartPole(max_steps=3)
    env.reset(2, generator=torch.Generator().manual_seed(0))
    done = [env.step(torch.tensor([0, 1]))[2].clone() for _ in range(3)]
    assert [d.tolist() for d in done] == [[False, False], [False, False], [True, True]]


def test_reset_is_seeded_and_within_bounds():
    first = CartPole().reset(64, generator=torch.Generator().manual_seed(7))
    again = CartPole().reset(64, generator=torch.Generator().manual_seed(7))
    other = CartPole().reset(64, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.abs().max() <= 0.05 and first.dtype == torch.float32


def test_registry_names_and_sizes():
    assert (make_env("cartpole").observation_size, make_env("cartpole").action_size) == (4, 2)
    markov, blind = make_env("double-pole"), make_env("double-pole-nv")
    assert (markov.observation_size, markov.max_steps, markov.discrete) == (6, 100_000, False)
    assert (blind.observation_size, blind.max_steps) == (3, 1_000)
    assert make_env("double-pole", max_steps=10, start_angle=0.07).start_angle == 0.07


def test_unknown_env_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown environment 'cartpol'.*cartpole, double-pole, double-pole-nv"):
        make_env("cartpol")


def test_wrong_number_of_outputs_is_named():
    with pytest.raises(ValueError, match="cartpole takes 2 policy outputs per step"):
        CartPole().action_from_output(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="double-pole-nv takes 1 policy outputs"):
        DoublePole(velocities=False).action_from_output(torch.zeros(4, 2))


def test_step_before_reset_is_refused():
    with pytest.raises(RuntimeError, match="reset"):
        CartPole().step(torch.zeros(1, dtype=torch.int64))


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="max_steps"):
        CartPole(max_steps=0)
    with pytest.raises(ValueError, match="dtype"):
        CartPole(dtype=torch.int32)
    with pytest.raises(ValueError, match="start_angle"):
        DoublePole(start_angle=1.0)
