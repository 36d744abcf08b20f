"""The README cannot drift from the code: its Python blocks run as written, each in a fresh
interpreter, and its shell commands run in order in one folder, in a short setting.

Shell commands: ``neuroevo ...`` runs with the smoke flags of :data:`SMOKE` appended (argparse
keeps the last value, so these shorten the run without changing what is exercised); the set-up
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
#: Commands that set up the environment or run this very suite: CI runs them around the tests.
SET_UP = ("python3.11 -m venv", ". .venv/bin/activate", "pip install", "pytest")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def shell_commands() -> list[str]:
    """Every command of the README's ``bash`` blocks, in order (continuations joined, comments and
    ``&&`` chains split)."""
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                commands += [part.strip() for part in line.split("&&")]
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
    assert any(c.startswith("neuroevo evolve") for c in commands), "the README lost its main job"
    for command in commands:
        if command.startswith(SET_UP):
            continue
        words = shlex.split(command)
        assert words[0] == "neuroevo", f"the README runs {command!r}: add it to this test"
        argv = [sys.executable, "-m", "neuroevo", *words[1:], *SMOKE.get(words[1], [])]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=_environment(), timeout=900)
        assert done.returncode == 0, f"{command!r} failed:\n{done.stderr[-3000:]}"


def test_the_readme_opens_with_the_two_commands():
    first, second = _blocks("bash")[:2]
    assert first.strip().startswith("python3.11 -m venv .venv") and "neuroevo evolve -o runs/ga" in first
    assert second.strip() == "pytest -q"
    assert "../shared" not in "".join(_blocks("bash") + _blocks("python"))
