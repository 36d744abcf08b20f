"""The README cannot drift from the code: its Python blocks run as written, each in a fresh
interpreter, and its shell commands run in order in one folder, in a short setting.

Shell commands: a block that opens with :data:`SHORT_SETTING` states its own short budgets and runs
exactly as written; any other ``neuroevo ...`` runs with the smoke flags of :data:`SMOKE` appended
(argparse keeps the last value, so these shorten the run without changing what is exercised); the set-up
(``python3.11 -m venv``, ``. .venv/bin/activate``, ``pip install``) and ``pytest`` are what CI
itself does around this test, so they are not repeated here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
#: Flags appended to each ``neuroevo`` subcommand of the README to make it a smoke run.
SMOKE = {
    "train": ["--steps", "4", "--validate-every", "2", "--batch-size", "64", "--no-progress"],
    "sweep": ["--coefficients", "0,1", "--repeats", "1", "--probe-size", "32"],
    "evolve": ["--generations", "1", "--population", "4", "--steps", "2", "--ancestor-steps", "4", "--no-progress"],
    "ga": ["--generations", "1", "--population", "4", "--no-progress"],
    "control": ["--cap", "60", "--population", "8", "--max-steps", "50", "--no-progress"],
}
#: A ``bash`` block opening with this comment gives its commands a short setting of their own: the
#: test runs them as written, so the README's promise of a block that runs in minutes is checked.
SHORT_SETTING = "# Short setting:"
#: Commands that set up the environment or run this very suite: CI runs them around the tests.
SET_UP = ("python3.11 -m venv", ". .venv/bin/activate", "pip install", "pytest")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def shell_commands() -> list[tuple[str, bool]]:
    """Every command of the README's ``bash`` blocks, in order (continuations joined, comments and
    ``&&`` chains split), each with whether it runs as written (its block states a short setting)."""
    commands = []
    for block in _blocks("bash"):
        as_written = block.startswith(SHORT_SETTING)
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands += [(part.strip(), as_written) for part in line.split("&&")]
    return commands


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "NEUROEVO_DATA": "/nonexistent-no-data-folder"}


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_each_python_block_runs_as_pasted_into_a_fresh_interpreter(tmp_path, index):
    code = _blocks("python")[index]
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env=_environment(), timeout=600)
    assert done.returncode == 0, f"README python block {index} failed:\n{code}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_the_shell_commands_run_in_order_in_a_short_setting(tmp_path):
    commands = shell_commands()
    assert any(c.startswith("neuroevo evolve") for c, _ in commands), "the README lost its main job"
    for command, as_written in commands:
        if command.startswith(SET_UP):
            continue
        words = shlex.split(command)
        assert words[0] == "neuroevo", f"the README runs {command!r}: add it to this test"
        smoke = [] if as_written else SMOKE.get(words[1], [])
        argv = [sys.executable, "-m", "neuroevo", *words[1:], *smoke]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=_environment(), timeout=900)
        assert done.returncode == 0, f"{command!r} failed:\n{done.stderr[-3000:]}"


def test_the_long_command_line_block_states_a_short_setting_that_runs_as_written():
    """The training, fitting and sweep block (issue 19: a long wait at the paper's budgets on a laptop CPU,
    and the README did not say so) gives every training and sweep command a budget of its own."""
    trains_and_sweeps = [(c, as_written) for c, as_written in shell_commands()
                         if c.startswith(("neuroevo train", "neuroevo sweep"))]
    assert trains_and_sweeps, "the README lost its training and sweep commands"
    for command, as_written in trains_and_sweeps:
        assert as_written, f"{command!r} is not in a block that opens with {SHORT_SETTING!r}"
        budget = "--steps" if command.startswith("neuroevo train") else "--repeats"
        assert budget in shlex.split(command), f"{command!r} does not state its short budget ({budget})"


def test_the_readme_opens_with_the_two_commands():
    first, second = _blocks("bash")[:2]
    assert first.strip().startswith("python3.11 -m venv .venv") and "neuroevo evolve -o runs/ga" in first
    assert second.strip() == "pytest -q"
    assert "../shared" not in "".join(_blocks("bash") + _blocks("python"))
