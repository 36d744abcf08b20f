"""Double-pole balancing: published constants, the integrator, symmetry, damping fitness, generalisation grid."""

from __future__ import annotations

import math

import pytest
import torch

from neuroevo.control.envs import double_pole as dp
from neuroevo.control.envs.double_pole import DoublePole, damping_fitness, generalisation_starts, rk4


def test_published_constants():
    """Wieland / NEAT / Gomez et al. 2008 (DESIGN.md, "Control tasks: sources and anchors")."""
    assert (dp.MASS_CART, dp.MASS_POLES, dp.HALF_LENGTHS) == (1.0, (0.1, 0.01), (0.5, 0.05))
    assert (dp.HINGE_FRICTION, dp.GRAVITY, dp.FORCE) == (2e-6, -9.8, 10.0)
    assert (dp.RK4_STEP, dp.RK4_STEPS_PER_ACTION, dp.X_LIMIT, dp.ANGLE_LIMIT) == (0.01, 2, 2.4, 0.628329)
    assert math.degrees(dp.ANGLE_LIMIT) == pytest.approx(36.0, abs=1e-3)
    assert dp.START_ANGLE == pytest.approx(0.01745, abs=1e-5)
    assert (dp.SCALE_X, dp.SCALE_XDOT, dp.SCALE_THETA, dp.SCALE_THETADOT) == (4.8, 2.0, 0.52, 2.0)


def test_start_state_and_scaled_inputs():
    env = DoublePole(velocities=False, dtype=torch.float64)
    observations = env.reset(2, generator=torch.Generator())
    assert env.current.state[0].tolist() == [0.0, 0.0, dp.START_ANGLE, 0.0, 0.0, 0.0]
    assert observations[0].tolist() == pytest.approx([0.0, dp.START_ANGLE / 0.52, 0.0])
    markov = DoublePole(velocities=True, dtype=torch.float64)
    state = torch.tensor([[4.8, 2.0, 0.52, 2.0, 0.26, -1.0]], dtype=torch.float64)
    assert markov.observe(state)[0].tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.5, -0.5])


def _integrate(dt: float, duration: float) -> torch.Tensor:
    state = torch.tensor([[0.0, 0.0, dp.START_ANGLE, 0.0, 0.0, 0.0]], dtype=torch.float64)
    force = torch.tensor([1.0], dtype=torch.float64)
    for _ in range(round(duration / dt)):
        state = rk4(state, force, dt)
    return state


def test_rk4_is_fourth_order():
    """Halving the step (from the task's 0.01 s) cuts the error against a fine-step reference ~16x
    on a smooth 0.2 s trajectory (a second-order method would cut it 4x)."""
    reference = _integrate(0.0025 / 16, 0.2)
    coarse = (_integrate(0.01, 0.2) - reference).abs().max()
    fine = (_integrate(0.005, 0.2) - reference).abs().max()
    assert 13 < float(coarse / fine) < 19


def test_mirror_symmetry():
    """Negated state and action give the negated trajectory (the task has no preferred side)."""
    env = DoublePole(dtype=torch.float64)
    state = torch.tensor([[0.1, -0.2, 0.03, 0.1, -0.02, 0.3]], dtype=torch.float64)
    mirrored = -state
    for step in range(100):
        action = torch.tensor([math.sin(step / 7)], dtype=torch.float64)
        state, _, _ = env.transition(state, action)
        mirrored, _, _ = env.transition(mirrored, -action)
        torch.testing.assert_close(mirrored, -state, rtol=0, atol=1e-13)
    assert state.abs().max() > 0.1  # the trajectory went somewhere


def test_cart_friction_slows_the_cart():
    free, rubbing = DoublePole(dtype=torch.float64), DoublePole(cart_friction=0.0005, dtype=torch.float64)
    state = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    action = torch.zeros(1, dtype=torch.float64)
    assert rubbing.transition(state, action)[0][0, 1] < free.transition(state, action)[0][0, 1]


def test_failure_bounds_and_reward():
    env = DoublePole(dtype=torch.float64)
    states = torch.zeros(4, 6, dtype=torch.float64)
    states[1, 0], states[2, 2], states[3, 4] = 2.5, 0.7, -0.7
    _, reward, terminated = env.transition(states, torch.zeros(4, dtype=torch.float64))
    assert terminated.tolist() == [False, True, True, True] and reward.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_damping_fitness_hand_cases():
    balanced = torch.tensor([50, 100, 101, 1000])
    window = torch.tensor([3.0, 3.0, 7.5, 0.75], dtype=torch.float64)
    expected = [0.1 * 0.05, 0.1 * 0.1, 0.1 * 0.101 + 0.9 * 0.1, 0.1 * 1.0 + 0.9 * 1.0]
    assert damping_fitness(balanced, window).tolist() == pytest.approx(expected)


def test_damping_window_holds_the_last_100_balanced_states():
    """The ring buffer's sum is the sum of |x| + |xdot| + |th1| + |th1dot| after the last 100 balanced
    steps, for runs of 130 and 60 balanced steps (the second stops counting at its failure)."""
    env = DoublePole(velocities=False, dtype=torch.float64)
    memory = torch.zeros(2, 100, dtype=torch.float64)
    history = []
    for t in range(1, 131):
        state = torch.zeros(2, 6, dtype=torch.float64)
        state[:, 0], state[:, 3], state[:, 4] = 0.01 * t, -0.001 * t, 5.0  # th2 is not in the sum
        counted = torch.tensor([True, t <= 60])
        memory = env.update_memory(memory, state, counted, torch.tensor([t, min(t, 61)]))
        history.append(0.011 * t)
    assert float(memory[0].sum()) == pytest.approx(sum(history[-100:]))
    assert float(memory[1].sum()) == pytest.approx(sum(history[:60]))
    score = env.score(memory, torch.tensor([130.0, 60.0], dtype=torch.float64))
    assert score.tolist() == pytest.approx([0.1 * 0.13 + 0.9 * 0.75 / sum(history[-100:]), 0.1 * 0.06])


def test_generalisation_grid():
    """625 distinct starts; x, xdot, th1, th1dot at 5 fractions of +-2.16 m, +-1.35 m/s, +-3.6 deg,
    +-8.6 deg/s (NEAT's constants round the angles at 1e-7 rad)."""
    starts = generalisation_starts(dtype=torch.float64)
    assert starts.shape == (625, 6)
    for column, half_range in zip(range(4), (2.16, 1.35, math.radians(3.6), math.radians(8.6))):
        values = sorted(set(starts[:, column].tolist()))
        assert values == pytest.approx([f * 2 * half_range - half_range for f in (0.05, 0.25, 0.5, 0.75, 0.95)],
                                       abs=1e-6)
    assert starts[:, 4:].abs().max() == 0
    assert torch.unique(starts, dim=0).shape[0] == 625
