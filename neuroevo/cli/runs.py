"""What every evolution command (``ga``, ``evolve``, ``control``) shares: the output folder and its
file names, the ``--resume`` guard, the warning for flags a resumed run ignores, the settings file,
the holdout split and the flags for running (device, progress, output)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from neuroevo.cli.options import load_data
from neuroevo.data import Dataset, train_holdout_split
from neuroevo.files import atomic_write

__all__ = [
    "BEST_FILE", "CHECKPOINT_FILE", "LOGBOOK_FILE", "PLOT_FILE", "SETTINGS_FILE", "RunFolder",
    "add_holdout_arguments", "add_running_arguments", "fitness_split", "open_run_folder", "run_settings",
]

CHECKPOINT_FILE = "checkpoint.safetensors"
SETTINGS_FILE = "settings.json"
LOGBOOK_FILE = "logbook.csv"
PLOT_FILE = "fitness.png"
BEST_FILE = "best.safetensors"

#: Destinations that are never part of a run's settings: how argparse and this invocation run.
INVOCATION_FLAGS = frozenset({"config", "command", "func", "given_flags", "output", "resume", "no_progress"})


@dataclass(frozen=True)
class RunFolder:
    """The output folder of one run.

    Attributes:
        folder: the folder (created when the run starts).
        resuming: whether it holds a run to continue (``--resume`` was given and a checkpoint exists).
        command: the command's name, for messages.
    """

    folder: Path
    resuming: bool
    command: str

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT_FILE

    def path(self, name: str) -> Path:
        return self.folder / name

    def stored_settings(self) -> dict[str, Any]:
        """The settings the run was started with.

        Raises:
            ValueError: the folder has a checkpoint but no settings file.
        """
        path = self.folder / SETTINGS_FILE
        if not path.exists():
            raise ValueError(f"{self.folder} holds a checkpoint but no {SETTINGS_FILE}: it was not written by "
                             f"neuroevo {self.command}")
        return json.loads(path.read_text())

    def write_settings(self, settings: Mapping[str, Any]) -> None:
        """Write the settings file atomically (creating the folder)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.folder / SETTINGS_FILE, lambda tmp: tmp.write_text(json.dumps(settings, indent=2) + "\n"))


def open_run_folder(output: str | Path, *, resume: bool, command: str) -> RunFolder:
    """Check the output folder before any work.

    Raises:
        ValueError: ``output`` exists and is not a folder, or it holds a run and ``resume`` is false.
    """
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output {folder} exists and is not a folder")
    holds_run = (folder / CHECKPOINT_FILE).exists()
    if holds_run and not resume:
        raise ValueError(f"{folder} already holds a run; pass --resume to continue it, or choose another --output")
    return RunFolder(folder, holds_run, command)


def run_settings(args: argparse.Namespace, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """What the run is: every flag's value but those that only say how this invocation runs
    (:data:`INVOCATION_FLAGS` and ``exclude``)."""
    skipped = INVOCATION_FLAGS | set(exclude)
    return {key: value for key, value in vars(args).items() if key not in skipped}


def warn_ignored(command: str, given_flags: Mapping[str, str], allowed: Iterable[str]) -> None:
    """Print a warning for every flag given on the command line that a resumed run ignores."""
    allowed = set(allowed) | INVOCATION_FLAGS
    for dest, flag in given_flags.items():
        if dest not in allowed:
            print(f"neuroevo {command}: warning: {flag} is ignored: a resumed run keeps its stored settings",
                  file=sys.stderr)


def add_holdout_arguments(parser: argparse.ArgumentParser) -> None:
    """``--holdout`` and ``--split-seed``: the part of the training split that measures fitness."""
    parser.add_argument("--holdout", type=int, default=1000,
                        help="training images held out to measure fitness (stratified; default %(default)s)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the holdout split")


def fitness_split(settings: Mapping[str, Any]) -> tuple[Dataset, Dataset]:
    """``(train part, holdout part)`` of the training split; fitness is accuracy on the holdout.

    Raises:
        ValueError: a holdout that is not a positive count smaller than the split.
    """
    return train_holdout_split(load_data(settings, "train"), settings["holdout"], seed=settings["split_seed"],
                               stratify=True)


def add_running_arguments(group: argparse._ArgumentGroup, *, resume_help: str) -> None:
    """``--device``, ``--resume``, ``--no-progress`` and ``-o/--output``."""
    group.add_argument("--device", default=None, help="where evaluation and training run: cpu, cuda, ... (default: cpu)")
    group.add_argument("--resume", action="store_true", help=resume_help)
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument("-o", "--output", required=True, help="output folder")
