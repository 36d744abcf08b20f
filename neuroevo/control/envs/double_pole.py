"""Double-pole balancing, batched: Wieland's cart with two poles, with and without velocities.

Physics: Wieland (1991)'s equations of motion for two poles hinged on one cart, integrated by
fourth-order Runge-Kutta, as in the C code of Sutton, Anderson and Gomez that NEAT (Stanley &
Miikkulainen 2002, ``pole2`` experiment: ``CartPole::step`` and ``CartPole::rk4``) and ESP and
CoSyNE (Gomez, Schmidhuber & Miikkulainen, JMLR 2008) reuse, with its constants: cart 1 kg, poles
0.1 and 0.01 kg, pole half-lengths 0.5 and 0.05 m, hinge friction 2e-6, gravity -9.8 m/s^2 (the
C code's sign convention: angles grow away from upright), force 10 N, RK4 with a 0.01 s step, two
RK4 steps per action (0.02 s per action), failure when the cart leaves +-2.4 m or either pole
leaves +-0.628329 rad (36 degrees). The derivative and RK4 keep the C code's order of operations.

Choices where the sources differ (DESIGN.md, "Control tasks: sources and anchors"):

* Long pole's start angle: 1 degree (0.01745 rad), every other coordinate 0, as the papers' text
  states (Gomez et al. 2008, Section 6.1; Stanley & Miikkulainen 2002, Section 4.1); NEAT's code
  starts at 0.07 rad, some later work at 4.5 degrees. Parameter ``start_angle``.
* Cart friction: none, as NEAT's code; ESP's code subtracts ``0.0005 sgn(xdot)`` from the force.
  Parameter ``cart_friction`` (``force - cart_friction * sign(xdot)``, no friction at rest).
* Inputs, NEAT's scaling: x / 4.8, xdot / 2, theta / 0.52, thetadot / 2 (no constant bias input:
  the policies carry biases). Markov: ``[x, xdot, th1, th1dot, th2, th2dot]`` scaled; non-Markov:
  ``[x, th1, th2]`` scaled.
* Action: one policy output ``o``, squashed to ``a = tanh(o)`` in [-1, 1]; force = 10 N * a. NEAT's
  sigmoid output ``s`` in [0, 1] gives force = 20 N * (s - 0.5), the same map of [-1, 1].
* Reward: 1 per step on which the system stays within bounds (0 on the failing step), so an
  episode's return is the number of steps balanced.
* Damping fitness (non-Markov, Gruau, Whitley & Pyeatt 1996, as NEAT's ``CartPole::evalNet``):
  ``f = 0.1 f1 + 0.9 f2`` with ``f1 = t / 1000``, ``t`` the steps balanced in a 1,000-step episode,
  ``f2 = 0.75 / sum_{i=t-99}^{t} (|x_i| + |xdot_i| + |th1_i| + |th1dot_i|)`` over the states after
  the last 100 balanced steps when ``t > 100`` (NEAT's boundary; some texts use ``t >= 100``), else
  ``f2 = 0``.
* Generalisation test (Gruau et al. 1996; NEAT's ``pole2`` code): 625 starts, x, xdot, th1 and
  th1dot each at 0.05, 0.25, 0.5, 0.75 and 0.95 of their ranges +-2.16 m, +-1.35 m/s,
  +-0.06283152 rad (3.6 degrees), +-0.15009752 rad/s (8.6 degrees/s), the short pole at rest
  upright; a start counts when the policy balances all 1,000 steps (NEAT's code accepts 999);
  solved at 200 of 625.

State ``[B, 6]``: x (m), xdot (m/s), th1 (rad), th1dot (rad/s), th2 (rad), th2dot (rad/s).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from neuroevo.control.envs.base import TensorEnv

MASS_CART = 1.0  # kg
MASS_POLES = (0.1, 0.01)  # kg
HALF_LENGTHS = (0.5, 0.05)  # m
HINGE_FRICTION = 0.000002
GRAVITY = -9.8  # m/s^2, the C code's sign convention
FORCE = 10.0  # N
RK4_STEP = 0.01  # s
RK4_STEPS_PER_ACTION = 2
X_LIMIT = 2.4  # m
ANGLE_LIMIT = 0.628329  # rad, 36 degrees
START_ANGLE = math.radians(1.0)  # rad, the long pole's start angle in the papers' text
#: NEAT's input scaling of (x, xdot, theta, thetadot).
SCALE_X, SCALE_XDOT, SCALE_THETA, SCALE_THETADOT = 4.8, 2.0, 0.52, 2.0

DAMPING_EPISODE = 1000  # steps
DAMPING_WINDOW = 100  # steps
LONG_CHECK_STEPS = 100_000
GENERALISATION_FRACTIONS = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Half-ranges of x (m), xdot (m/s), th1 (rad), th1dot (rad/s) of the generalisation grid.
GENERALISATION_RANGES = (2.16, 1.35, 0.06283152, 0.15009752)
GENERALISATION_PASS = 200


def derivatives(state: Tensor, force: Tensor) -> Tensor:
    """Wieland's equations: ``d state / dt`` ``[B, 6]`` for ``state`` ``[B, 6]`` under ``force`` ``[B]`` (N).

    The order of operations is the C code's ``CartPole::step``.
    """
    _, x_dot, th1, th1_dot, th2, th2_dot = state.unbind(1)
    (m1, m2), (l1, l2) = MASS_POLES, HALF_LENGTHS
    cos1, sin1, cos2, sin2 = torch.cos(th1), torch.sin(th1), torch.cos(th2), torch.sin(th2)
    gsin1, gsin2 = GRAVITY * sin1, GRAVITY * sin2
    ml1, ml2 = l1 * m1, l2 * m2
    temp1, temp2 = HINGE_FRICTION * th1_dot / ml1, HINGE_FRICTION * th2_dot / ml2
    fi1 = (ml1 * th1_dot * th1_dot * sin1) + (0.75 * m1 * cos1 * (temp1 + gsin1))
    fi2 = (ml2 * th2_dot * th2_dot * sin2) + (0.75 * m2 * cos2 * (temp2 + gsin2))
    mi1 = m1 * (1 - (0.75 * cos1 * cos1))
    mi2 = m2 * (1 - (0.75 * cos2 * cos2))
    x_acc = (force + fi1 + fi2) / (mi1 + mi2 + MASS_CART)
    th1_acc = -0.75 * (x_acc * cos1 + gsin1 + temp1) / l1
    th2_acc = -0.75 * (x_acc * cos2 + gsin2 + temp2) / l2
    return torch.stack((x_dot, x_acc, th1_dot, th1_acc, th2_dot, th2_acc), dim=1)


def rk4(state: Tensor, force: Tensor, dt: float = RK4_STEP) -> Tensor:
    """One fourth-order Runge-Kutta step of :func:`derivatives` (the C code's ``rk4``).

    Args:
        state: ``[B, 6]``.
        force: ``[B]`` N, held over the step.
        dt: the step, s.

    Returns:
        ``[B, 6]`` the state ``dt`` later.
    """
    k1 = derivatives(state, force)
    k2 = derivatives(state + (dt * 0.5) * k1, force)
    k3 = derivatives(state + (dt * 0.5) * k2, force)
    k4 = derivatives(state + dt * k3, force)
    return state + (dt / 6.0) * (k1 + k4 + 2.0 * (k3 + k2))


def out_of_bounds(state: Tensor) -> Tensor:
    """``[B]`` bool: the cart beyond +-2.4 m or a pole beyond +-36 degrees."""
    x, th1, th2 = state[:, 0], state[:, 2], state[:, 4]
    return ((x < -X_LIMIT) | (x > X_LIMIT) | (th1 < -ANGLE_LIMIT) | (th1 > ANGLE_LIMIT)
            | (th2 < -ANGLE_LIMIT) | (th2 > ANGLE_LIMIT))


def damping_fitness(balanced: Tensor, window_sum: Tensor, *, episode_steps: int = DAMPING_EPISODE) -> Tensor:
    """Gruau et al.'s damping fitness ``0.1 f1 + 0.9 f2`` (see the module docstring).

    Args:
        balanced: ``[B]`` int, steps balanced ``t``.
        window_sum: ``[B]`` the sum of ``|x| + |xdot| + |th1| + |th1dot|`` over the states after the
            last 100 balanced steps (ignored where ``t <= 100``).
        episode_steps: the episode length ``f1`` divides by.

    Returns:
        ``[B]`` the fitness (in the dtype of ``window_sum``).
    """
    f1 = balanced.to(window_sum.dtype) / episode_steps
    f2 = torch.where(balanced > DAMPING_WINDOW, 0.75 / window_sum, torch.zeros_like(window_sum))
    return 0.1 * f1 + 0.9 * f2


def generalisation_starts(*, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """The 625 start states ``[625, 6]`` of the generalisation test (see the module docstring).

    Row order: x slowest, th1dot fastest (NEAT's loop order).
    """
    grid = [[f * 2 * r - r for f in GENERALISATION_FRACTIONS] for r in GENERALISATION_RANGES]
    rows = [[x, xd, t1, t1d, 0.0, 0.0] for x, xd, t1, t1d in itertools.product(*grid)]
    return torch.tensor(rows, dtype=torch.float64).to(device, dtype)


class DoublePole(TensorEnv):
    """Double-pole balancing; ``velocities=False`` is the non-Markov task (see the module docstring).

    Args:
        velocities: whether the policy sees the velocities (Markov, 6 inputs) or not (3 inputs).
        max_steps: the episode cap (Markov: 100,000, the solve criterion; non-Markov: 1,000, the
            damping-fitness episode).
        start_angle: the long pole's start angle, rad.
        cart_friction: cart-track friction coefficient (N per unit sgn(xdot)); 0 as NEAT.
        device: where the states live.
        dtype: the states' floating-point type.
    """

    action_size = 1
    discrete = False
    state_size = 6

    def __init__(self, *, velocities: bool = True, max_steps: int | None = None, start_angle: float = START_ANGLE,
                 cart_friction: float = 0.0, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        if max_steps is None:
            max_steps = LONG_CHECK_STEPS if velocities else DAMPING_EPISODE
        super().__init__(max_steps=max_steps, device=device, dtype=dtype)
        if not (math.isfinite(start_angle) and abs(start_angle) < ANGLE_LIMIT):
            raise ValueError(f"start_angle must be finite and within +-{ANGLE_LIMIT} rad, got {start_angle!r}")
        if not (math.isfinite(cart_friction) and cart_friction >= 0):
            raise ValueError(f"cart_friction must be finite and >= 0, got {cart_friction!r}")
        self.velocities = velocities
        self.start_angle = float(start_angle)
        self.cart_friction = float(cart_friction)
        self.name = "double-pole" if velocities else "double-pole-nv"
        self.observation_size = 6 if velocities else 3
        self.memory_size = 0 if velocities else DAMPING_WINDOW
        self._scale = torch.tensor((SCALE_X, SCALE_XDOT, SCALE_THETA, SCALE_THETADOT, SCALE_THETA, SCALE_THETADOT),
                                   dtype=dtype, device=self.device)

    def initial_state(self, batch: int, generator: torch.Generator) -> Tensor:
        """The fixed start: the long pole at ``start_angle``, everything else 0 (``generator`` unused)."""
        state = torch.zeros(batch, 6, dtype=self.dtype, device=self.device)
        state[:, 2] = self.start_angle
        return state

    def action_from_output(self, outputs: Tensor) -> Tensor:
        """``[B]`` actions ``tanh(output)`` in [-1, 1] (force = 10 N * action)."""
        self.check_outputs(outputs)
        return torch.tanh(outputs[:, 0])

    def transition(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        force = FORCE * actions.clamp(-1.0, 1.0).to(state.dtype)
        for _ in range(RK4_STEPS_PER_ACTION):
            applied = force - self.cart_friction * torch.sign(state[:, 1]) if self.cart_friction else force
            state = rk4(state, applied)
        terminated = out_of_bounds(state)
        return state, (~terminated).to(state.dtype), terminated

    def observe(self, state: Tensor) -> Tensor:
        scaled = state / self._scale
        return scaled if self.velocities else scaled[:, 0::2]

    def update_memory(self, memory: Tensor, next_state: Tensor, counted: Tensor, steps: Tensor) -> Tensor:
        """Non-Markov: the ring buffer ``[B, 100]`` of ``|x| + |xdot| + |th1| + |th1dot|`` after each
        balanced step; slot ``(t - 1) % 100`` holds the state after balanced step ``t``."""
        if self.velocities:
            return memory
        jiggle = next_state[:, :4].abs().sum(1)
        slot = ((steps - 1) % DAMPING_WINDOW).unsqueeze(1)
        value = torch.where(counted, jiggle, memory.gather(1, slot).squeeze(1))
        return memory.scatter(1, slot, value.unsqueeze(1))

    def score(self, memory: Tensor, returns: Tensor) -> Tensor | None:
        """Non-Markov: :func:`damping_fitness` over ``max_steps`` (``returns`` is the steps balanced)."""
        if self.velocities:
            return None
        return damping_fitness(returns.round().to(torch.int64), memory.sum(1), episode_steps=self.max_steps)
