"""CartPole-v1, batched: Gymnasium's dynamics to the last operation.

The physics is Gymnasium's ``gymnasium/envs/classic_control/cartpole.py`` (Barto, Sutton &
Anderson 1983, with the corrected equations of Florian 2007): explicit Euler with ``tau`` 0.02 s,
force +-10 N, failure beyond 12 degrees or 2.4 m, reward 1 on every step (the failing one included),
episodes capped at 500 steps, start state U(-0.05, 0.05) in every coordinate. Every formula keeps
Gymnasium's order of operations: a regrouped formula drifts visibly from Gymnasium within 500 steps
in float64 (``tests/test_control_envs.py`` steps both side by side).

State ``[B, 4]``: cart position x (m), cart velocity (m/s), pole angle theta (rad, 0 upright),
pole angular velocity (rad/s). The observation is the state. Actions: 0 pushes left, 1 pushes right;
a policy has two outputs and the larger one wins (ties: left).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from neuroevo.control.envs.base import TensorEnv

GRAVITY = 9.8  # m/s^2
MASS_CART = 1.0  # kg
MASS_POLE = 0.1  # kg
TOTAL_MASS = MASS_POLE + MASS_CART
HALF_LENGTH = 0.5  # m, half the pole's length
POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH
FORCE = 10.0  # N
TAU = 0.02  # s per step
THETA_THRESHOLD = 12 * 2 * math.pi / 360  # rad
X_THRESHOLD = 2.4  # m
START_BOUND = 0.05


class CartPole(TensorEnv):
    """Gymnasium's CartPole-v1 as a batch of tensors (see the module docstring).

    Args:
        max_steps: the episode cap (CartPole-v1: 500).
        device: where the states live.
        dtype: the states' floating-point type (float64 reproduces Gymnasium's float64 state).
    """

    name = "cartpole"
    observation_size = 4
    action_size = 2
    discrete = True
    state_size = 4

    def __init__(self, *, max_steps: int = 500, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        super().__init__(max_steps=max_steps, device=device, dtype=dtype)

    def initial_state(self, batch: int, generator: torch.Generator) -> Tensor:
        start = torch.rand(batch, 4, generator=generator, dtype=torch.float64) * (2 * START_BOUND) - START_BOUND
        return start.to(self.device, self.dtype)

    def action_from_output(self, outputs: Tensor) -> Tensor:
        """``[B]`` int64: 1 (push right) where output 1 exceeds output 0, else 0."""
        self.check_outputs(outputs)
        return (outputs[:, 1] > outputs[:, 0]).to(torch.int64)

    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x, x_dot, theta, theta_dot = state.unbind(1)
        force = torch.where(actions == 1, FORCE, -FORCE).to(state.dtype)
        costheta = torch.cos(theta)
        sintheta = torch.sin(theta)
        temp = (force + POLE_MASS_LENGTH * theta_dot.square() * sintheta) / TOTAL_MASS
        thetaacc = (GRAVITY * sintheta - costheta * temp) / (
            HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * costheta.square() / TOTAL_MASS))
        xacc = temp - POLE_MASS_LENGTH * thetaacc * costheta / TOTAL_MASS
        next_state = torch.stack((x + TAU * x_dot, x_dot + TAU * xacc,
                                  theta + TAU * theta_dot, theta_dot + TAU * thetaacc), dim=1)
        nx, ntheta = next_state[:, 0], next_state[:, 2]
        terminated = (nx < -X_THRESHOLD) | (nx > X_THRESHOLD) | (ntheta < -THETA_THRESHOLD) | (ntheta > THETA_THRESHOLD)
        return next_state, torch.ones_like(x), terminated

    def observe(self, state: Tensor) -> Tensor:
        return state
