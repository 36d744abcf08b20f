"""``neuroevo control``: the files of a run, its last line, --resume, and the errors before any work."""

import json

import pytest
from PIL import Image

from neuroevo.cli import control_commands, main
from neuroevo.files import load_genome
from populations import load_checkpoint

pytest.importorskip("matplotlib")

#: A small, fast run: the double pole "solved" at 50 steps balanced.
TINY = ["--task", "double-pole", "--cap", "200", "--population", "8", "--max-steps", "50", "--no-progress"]
#: Cart pole episodes of at most 20 steps, never solved (threshold above the cap): runs the whole budget.
UNSOLVED = ["--task", "cartpole", "--threshold", "1000", "--max-steps", "20", "--cap", "64", "--population", "8",
            "--algorithm", "ga", "--no-progress"]


def test_a_tiny_run_writes_every_file_and_ends_with_whether_it_solved(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["control", *TINY, "-o", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    record = json.loads((out / "record.json").read_text())
    assert record["solved"] and lines[-1] == f"solved double-pole in {record['evaluations_to_solve']:,} evaluations"
    for name in ("checkpoint.safetensors", "settings.json", "logbook.csv", "best.safetensors"):
        assert (out / name).stat().st_size > 0
    assert (out / "fitness.png").read_bytes()[:4] == b"\x89PNG"
    with Image.open(out / "animation.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames >= 3
    settings = json.loads((out / "settings.json").read_text())
    assert settings["architecture"] == "6-5-1" and settings["algorithm"] == "cosyne" and settings["seed"] == 0
    best = load_genome(out / "best.safetensors")
    assert best == load_checkpoint(out / "checkpoint.safetensors").state.halloffame[0]


def test_an_unsolved_run_says_so_and_no_animation_skips_the_gif(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["control", *UNSOLVED, "--no-animation", "-o", str(out)]) == 0
    record = json.loads((out / "record.json").read_text())
    assert not record["solved"] and record["evaluations"] >= 64
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        f"not solved: cartpole after {record['evaluations']} evaluations (cap 64)")
    assert not (out / "animation.gif").exists()


def test_resume_continues_from_the_checkpoint_and_warns_about_ignored_flags(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    write = control_commands.write_logbook_csv
    seen = []

    def interrupt_after_generation_2(logbook, path):
        write(logbook, path)
        if len(logbook) == 3:
            raise KeyboardInterrupt

    def record_generation(logbook, path):
        seen.append(len(logbook) - 1)
        write(logbook, path)

    monkeypatch.setattr(control_commands, "write_logbook_csv", interrupt_after_generation_2)
    assert main(["control", *UNSOLVED, "--no-animation", "-o", str(out)]) == 130
    assert load_checkpoint(out / "checkpoint.safetensors").state.generation == 2
    monkeypatch.setattr(control_commands, "write_logbook_csv", record_generation)
    capsys.readouterr()
    assert main(["control", "--resume", "--population", "4", "--no-progress", "--no-animation", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "--population is ignored" in captured.err
    assert min(seen) == 3  # generations 0-2 are not run again
    record = json.loads((out / "record.json").read_text())
    assert record["evaluations"] >= 64 and captured.out.strip().splitlines()[-1].startswith("not solved: cartpole")
    assert json.loads((out / "settings.json").read_text())["population"] == 8
    straight = tmp_path / "straight"
    assert main(["control", *UNSOLVED, "--no-animation", "-o", str(straight)]) == 0
    assert (straight / "logbook.csv").read_text() == (out / "logbook.csv").read_text()
    assert json.loads((straight / "record.json").read_text())["evaluations"] == record["evaluations"]


def test_without_matplotlib_the_plot_and_the_gif_are_skipped_with_a_note(tmp_path, capsys, monkeypatch):
    import neuroevo.plotting
    import populations.plots

    def missing():
        raise ImportError("plots need matplotlib: pip install 'neuroevo[plots]'")

    monkeypatch.setattr(neuroevo.plotting, "pyplot", missing)
    monkeypatch.setattr(populations.plots, "pyplot", missing)
    out = tmp_path / "run"
    assert main(["control", *TINY, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no fitness.png" in printed and "no animation.gif" in printed and "neuroevo[plots]" in printed
    assert not (out / "fitness.png").exists() and not (out / "animation.gif").exists()
    assert printed.strip().splitlines()[-1].startswith("solved double-pole in ")


def test_an_existing_run_is_refused_without_resume_before_any_work(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["control", *TINY, "--no-animation", "-o", str(out)]) == 0

    def no_work(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(control_commands, "run_control", no_work)
    assert main(["control", *TINY, "-o", str(out)]) == 2
    assert "pass --resume" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--task", "triple-pole"], "unknown --task 'triple-pole'"),
    (["--task", "gymnasium:"], "needs a Gymnasium id"),
    (["--task", "gymnasium:CartPole-v1", "--threshold", "475"], "needs --arch"),
    (["--task", "gymnasium:CartPole-v1", "--arch", "4-8-2"], "needs --threshold"),
    (["--task", "cartpole"], "needs --threshold"),
    (["--task", "double-pole", "--arch", "4-5-1"], "--arch 4-5-1 has 4 inputs and 1 outputs; double-pole has 6"),
])
def test_bad_tasks_give_a_one_line_error_before_any_work(tmp_path, capsys, monkeypatch, flags, message):
    if "gymnasium:CartPole-v1" in flags:
        pytest.importorskip("gymnasium")
    monkeypatch.setattr(control_commands, "run_control", lambda *a, **k: pytest.fail("the run started"))
    assert main(["control", *flags, "--no-progress", "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuroevo control: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_an_unregistered_gymnasium_id_is_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    flags = ["--task", "gymnasium:NoSuchEnv-v9", "--arch", "4-8-2", "--threshold", "1"]
    assert main(["control", *flags, "--no-progress", "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "gymnasium has no environment 'NoSuchEnv-v9'" in err and err.count("\n") == 1


def _register_toy_env(name, render_modes):
    """A registered Gymnasium environment: a point on a line, pushed left or right, drawn as a bar."""
    gymnasium = pytest.importorskip("gymnasium")
    import numpy as np

    class Toy(gymnasium.Env):
        metadata = {"render_modes": render_modes, "render_fps": 50}

        def __init__(self, render_mode=None):
            self.render_mode = render_mode
            self.observation_space = gymnasium.spaces.Box(-10, 10, (2,), dtype=np.float32)
            self.action_space = gymnasium.spaces.Discrete(2)
            self.x = 0.0

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.x = float(self.np_random.uniform(-1, 1))
            return np.array([self.x, 0.0], dtype=np.float32), {}

        def step(self, action):
            self.x += 0.1 if action == 1 else -0.1
            return np.array([self.x, 0.0], dtype=np.float32), 1.0, abs(self.x) > 5, False, {}

        def render(self):
            frame = np.zeros((16, 32, 3), dtype=np.uint8)
            frame[:, int(np.clip(16 + 3 * self.x, 0, 31))] = 255
            return frame

    if name not in gymnasium.registry:
        gymnasium.register(id=name, entry_point=Toy, max_episode_steps=40)
    return name


def test_gymnasium_animations_use_the_rgb_array_frames_or_say_why_not(tmp_path):
    from neuroevo.architecture import Architecture
    from neuroevo.control.animation import AnimationUnavailable, animate_controller
    from populations.initialisation import random_population

    genome = random_population(Architecture.parse("2-3-2", activation="tanh"), 1, encoding="embedding", d=4)[0]
    drawn = _register_toy_env("NeuroevoToyRender-v0", ["rgb_array"])
    path = animate_controller(genome, f"gymnasium:{drawn}", tmp_path / "toy.gif", frames=10)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and 3 <= gif.n_frames <= 11 and gif.size == (32, 16)
    blind = _register_toy_env("NeuroevoToyBlind-v0", [])
    with pytest.raises(AnimationUnavailable, match="offers no rgb_array frames"):
        animate_controller(genome, f"gymnasium:{blind}", tmp_path / "blind.gif")
    assert not (tmp_path / "blind.gif").exists()
