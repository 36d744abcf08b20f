"""An animated GIF of one controller balancing: people would rather watch the poles than read a number.

:func:`animate_controller` rolls one genome out on its task (one episode, at most ``steps`` steps,
the start state of the evaluation's first episode) and writes a GIF:

* built-in tasks (``cartpole``, ``double-pole``, ``double-pole-nv``): the recorded states drawn with
  matplotlib on the Agg backend (cart, pole(s), track and its limits; :func:`draw_episode`), every
  ``every``-th step a frame, so that the GIF plays in real time (0.02 s of simulated time per step),
  written with Pillow;
* ``gymnasium:<id>``: the environment's own ``render_mode="rgb_array"`` frames, written with Pillow.

Where a GIF cannot be made (matplotlib or Pillow missing, a Gymnasium environment without
``rgb_array`` frames or without its renderer's dependencies), :class:`AnimationUnavailable` says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroevo.control.envs import GYMNASIUM_PREFIX, DoublePole, TensorEnv, make_env
from neuroevo.control.envs import double_pole
from neuroevo.control.envs.cartpole import HALF_LENGTH, TAU, X_THRESHOLD
from neuroevo.control.genome_policy import stack_policies
from neuroevo.files import atomic_write
from neuroevo.genomes import Genome

__all__ = ["AnimationUnavailable", "Episode", "animate_controller", "draw_episode", "record_episode"]

#: Steps of an animated episode (10 s of simulated time on the built-in tasks).
DEFAULT_STEPS = 500
#: The most frames a GIF holds; longer episodes are subsampled.
DEFAULT_FRAMES = 100


class AnimationUnavailable(RuntimeError):
    """No GIF can be made here (the message says why: a missing package or renderer)."""


@dataclass(frozen=True)
class Episode:
    """One recorded episode of a tensor environment.

    Attributes:
        states: ``[T + 1, state_size]`` the start state and the state after every step.
        steps: steps taken ``T``.
        balanced: steps on which the system stayed within bounds (the return of the built-in tasks).
        failed: whether the episode ended by leaving the bounds (not by reaching the step limit).
        seconds_per_step: simulated time per step.
    """

    states: np.ndarray
    steps: int
    balanced: float
    failed: bool
    seconds_per_step: float


def _seconds_per_step(env: TensorEnv) -> float:
    if isinstance(env, DoublePole):
        return double_pole.RK4_STEP * double_pole.RK4_STEPS_PER_ACTION
    return TAU


def record_episode(genome: Genome, task: str, *, steps: int = DEFAULT_STEPS, seed: int = 0,
                   **env_options: Any) -> Episode:
    """Roll ``genome`` out for one episode on a built-in task, recording the state every step.

    The start state is the one the evaluation's first episode gets with the same ``seed``
    (:func:`neuroevo.control.rollout.rollout` draws starts from ``torch.Generator().manual_seed(seed)``).

    Args:
        genome: a dense genome that fits the task's observations and actions.
        task: ``"cartpole"``, ``"double-pole"`` or ``"double-pole-nv"``.
        steps: the most steps recorded (the episode ends earlier when it fails).
        seed: seeds the start state.
        **env_options: options of :func:`~neuroevo.control.envs.make_env` (e.g. ``start_angle``).

    Returns:
        The :class:`Episode`.

    Raises:
        ValueError: a task that is not a built-in tensor environment, a non-positive ``steps``, or a
            genome that does not fit the task.
    """
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    env = make_env(task, **env_options)
    if not isinstance(env, TensorEnv):
        raise ValueError(f"record_episode takes a built-in task, got {task!r}")
    policy = stack_policies([genome], device=env.device)
    if policy.sizes[0] != env.observation_size or policy.sizes[-1] != env.action_size:
        raise ValueError(f"{task} takes {env.observation_size} inputs and {env.action_size} outputs; the genome "
                         f"has {policy.sizes[0]} and {policy.sizes[-1]}")
    policy.reset(1)
    observations = env.reset(1, generator=torch.Generator().manual_seed(seed))
    states, balanced = [env.current.state[0].clone()], 0.0
    with torch.no_grad():
        for _ in range(min(steps, env.max_steps)):
            actions = env.action_from_output(policy(observations.unsqueeze(0).to(policy.dtype))[0])
            observations, reward, done = env.step(actions)
            states.append(env.current.state[0].clone())
            balanced += float(reward[0])
            if bool(done[0]):
                break
    taken = len(states) - 1
    failed = bool(env.current.done[0]) and taken < env.max_steps
    return Episode(torch.stack(states).double().cpu().numpy(), taken, balanced, failed, _seconds_per_step(env))


def _poles(task: str) -> tuple[tuple[int, float, float], ...]:
    """``(state index of the angle, full length in m, hinge's drawn offset from the cart's centre
    in m)`` of every pole of ``task``; both double-pole hinges sit at the cart's centre, drawn apart
    so that the short pole is not hidden behind the long one."""
    if task == "cartpole":
        return ((2, 2 * HALF_LENGTH, 0.0),)
    return tuple((index, 2 * half, offset)
                 for index, half, offset in zip((2, 4), double_pole.HALF_LENGTHS, (-0.1, 0.1)))


def _frame_steps(steps: int, frames: int) -> tuple[list[int], int]:
    """The steps drawn (every ``every``-th, the last always) and ``every``."""
    every = max(1, -(-(steps + 1) // frames))
    chosen = list(range(0, steps + 1, every))
    if chosen[-1] != steps:
        chosen.append(steps)
    return chosen, every


def draw_episode(episode: Episode, task: str, path: str | os.PathLike, *, frames: int = DEFAULT_FRAMES,
                 title: str | None = None) -> Path:
    """Draw a recorded episode of a built-in task as an animated GIF (matplotlib, Pillow; atomic).

    Angles grow toward +x (a pole at angle ``theta`` leans its tip to ``x + L sin(theta)``), as in
    both the double pole's C-code convention and Gymnasium's CartPole.

    Args:
        episode: from :func:`record_episode`.
        task: its task (which poles to draw).
        path: the GIF to write.
        frames: the most frames; every ``ceil((T + 1) / frames)``-th state is drawn, and the GIF
            plays in real time.
        title: the figure's title (default: the task).

    Returns:
        ``path``.

    Raises:
        AnimationUnavailable: matplotlib or Pillow is not installed.
        ValueError: ``frames`` below 2.
    """
    if frames < 2:
        raise ValueError(f"frames must be at least 2, got {frames}")
    try:
        from PIL import Image

        from neuroevo.plotting import pyplot
        plt = pyplot()
    except ImportError as error:
        raise AnimationUnavailable(f"the animation needs matplotlib and Pillow: pip install 'neuroevo[plots]' "
                                   f"({error})") from None
    chosen, every = _frame_steps(episode.steps, frames)
    poles = _poles(task)
    x_limit = X_THRESHOLD if task == "cartpole" else double_pole.X_LIMIT
    cart_w, cart_h = 0.4, 0.2
    top = cart_h / 2  # the hinges, drawn on the cart's top
    figure, axes = plt.subplots(figsize=(4.8, 2.0), dpi=80)
    try:
        axes.set_xlim(-x_limit - 0.4, x_limit + 0.4)
        axes.set_ylim(-0.3, 1.3)
        axes.set_aspect("equal")
        axes.set_axis_off()
        axes.set_title(title or task, fontsize=9)
        axes.plot([-x_limit, x_limit], [0, 0], color="0.5", lw=1)
        for side in (-x_limit, x_limit):
            axes.plot([side, side], [-0.08, 0.08], color="tab:red", lw=1.5)
        # The moving artists are drawn onto a copy of the static background for each frame (blitting):
        # one full draw in all instead of one per frame keeps 200 frames well under a second of drawing.
        cart = axes.add_patch(plt.Rectangle((0, 0), cart_w, cart_h, color="tab:blue", animated=True))
        lines = [axes.plot([], [], lw=5 if length > 0.5 else 3, solid_capstyle="round", animated=True,
                           color=("tab:orange", "tab:green")[i % 2])[0] for i, (_, length, _) in enumerate(poles)]
        clock = axes.text(0.01, 0.9, "", transform=axes.transAxes, fontsize=8, animated=True)
        canvas = figure.canvas
        canvas.draw()
        background = canvas.copy_from_bbox(figure.bbox)
        images = []
        for step in chosen:
            state = episode.states[step]
            x = float(state[0])
            cart.set_xy((x - cart_w / 2, -cart_h / 2))
            for line, (index, length, offset) in zip(lines, poles):
                theta, hinge = float(state[index]), x + offset
                line.set_data([hinge, hinge + length * np.sin(theta)], [top, top + length * np.cos(theta)])
            fell = episode.failed and step == episode.steps
            clock.set_text(f"t = {step * episode.seconds_per_step:5.2f} s" + ("  (fell)" if fell else ""))
            canvas.restore_region(background)
            for artist in (cart, *lines, clock):
                axes.draw_artist(artist)
            images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    finally:
        plt.close(figure)
    duration = max(20, int(round(every * episode.seconds_per_step * 1000)))  # real time, ms per frame
    palette = images[0].quantize(colors=32)
    frames_p = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    return atomic_write(path, lambda tmp: frames_p[0].save(tmp, format="GIF", save_all=True,
                                                           append_images=frames_p[1:], duration=duration, loop=0))


def _gymnasium_frames(genome: Genome, env_id: str, *, steps: int, frames: int, seed: int,
                      max_steps: int | None) -> tuple[list[np.ndarray], float]:
    """Roll ``genome`` out on the Gymnasium environment with ``rgb_array`` frames; returns the
    subsampled frames and the seconds per frame."""
    from neuroevo.control.envs.gymnasium_adapter import GymnasiumEnv, import_gymnasium

    gym = import_gymnasium()
    batched = GymnasiumEnv(env_id, max_steps=max_steps)  # the action mapping of the evolution runs
    probe = gym.make(env_id)
    modes = probe.metadata.get("render_modes") or ()
    probe.close()
    if "rgb_array" not in modes:
        raise AnimationUnavailable(f"{env_id} offers no rgb_array frames")
    try:
        env = gym.make(env_id, render_mode="rgb_array")
    except Exception as error:  # noqa: BLE001 (any failure to make a rendering env means: no GIF)
        raise AnimationUnavailable(f"{env_id} cannot render frames ({type(error).__name__}: {error})") from None
    policy = stack_policies([genome])
    policy.reset(1)
    limit = min(steps, batched.max_steps)
    every = max(1, -(-(limit + 1) // frames))
    fps = env.metadata.get("render_fps") or 30
    try:
        observation, _ = env.reset(seed=int(torch.randint(0, 2**31 - 1, (1,),
                                                          generator=torch.Generator().manual_seed(seed))))
        shots = [env.render()]
        with torch.no_grad():
            for step in range(1, limit + 1):
                inputs = torch.as_tensor(np.asarray(observation), dtype=policy.dtype).view(1, 1, -1)
                action = batched.action_from_output(policy(inputs)[0])[0].cpu().numpy()
                observation, _, terminated, truncated, _ = env.step(action.astype(batched.action_space.dtype))
                ended = terminated or truncated
                if step % every == 0 or ended:
                    shots.append(env.render())
                if ended:
                    break
    except Exception as error:  # noqa: BLE001 (e.g. gymnasium's DependencyNotInstalled for pygame)
        raise AnimationUnavailable(f"{env_id} cannot render frames ({type(error).__name__}: {error})") from None
    finally:
        env.close()
    shots = [shot for shot in shots if shot is not None]
    if len(shots) < 2:
        raise AnimationUnavailable(f"{env_id} gave no rgb_array frames")
    return shots, every / fps


def animate_controller(genome: Genome, task: str, path: str | os.PathLike, *, steps: int = DEFAULT_STEPS,
                       frames: int = DEFAULT_FRAMES, seed: int = 0, max_steps: int | None = None,
                       title: str | None = None) -> Path:
    """Write a GIF of ``genome`` controlling ``task`` for one episode (see the module docstring).

    Args:
        genome: the controller (a dense genome that fits the task).
        task: ``"cartpole"``, ``"double-pole"``, ``"double-pole-nv"`` or ``"gymnasium:<id>"``.
        path: the GIF to write.
        steps: the most steps of the episode.
        frames: the most frames of the GIF (longer episodes are subsampled).
        seed: seeds the start state (as the evaluation's ``seed``).
        max_steps: the task's episode cap (default: the task's own).
        title: the figure's title (built-in tasks; default: the task and the steps balanced).

    Returns:
        ``path``.

    Raises:
        AnimationUnavailable: no GIF can be made here (the message says why).
        ValueError: an unknown task, or a genome that does not fit it.
    """
    if task.startswith(GYMNASIUM_PREFIX):
        shots, seconds = _gymnasium_frames(genome, task[len(GYMNASIUM_PREFIX):], steps=steps, frames=frames,
                                           seed=seed, max_steps=max_steps)
        try:
            from PIL import Image
        except ImportError:
            raise AnimationUnavailable("the animation needs Pillow: pip install 'neuroevo[plots]'") from None
        images = [Image.fromarray(np.asarray(shot, dtype=np.uint8)) for shot in shots]
        duration = max(20, int(round(seconds * 1000)))
        return atomic_write(path, lambda tmp: images[0].save(tmp, format="GIF", save_all=True,
                                                             append_images=images[1:], duration=duration, loop=0))
    options = {} if max_steps is None else {"max_steps": max_steps}
    episode = record_episode(genome, task, steps=steps, seed=seed, **options)
    ending = "fell" if episode.failed else "still balancing"
    return draw_episode(episode, task, path, frames=frames,
                        title=title or f"{task}: {episode.steps} steps, {ending}")
