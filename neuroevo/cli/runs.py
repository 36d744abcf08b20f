"""What every evolution command (``ga``, ``evolve``, ``control``) shares: the output folder and its
file names, the ``--resume`` guard, the warning for flags a resumed run ignores, the settings file,
the holdout split and the flags for running (device, progress, output)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

from neuroevo.cli.options import load_data
from neuroevo.data import Dataset, train_holdout_split
from neuroevo.files import atomic_write

__all__ = [
    "BEST_FILE", "CHECKPOINT_FILE", "LOGBOOK_FILE", "PLOT_FILE", "SETTINGS_FILE", "RunFolder",
    "add_holdout_arguments", "add_running_arguments", "add_settings_arguments", "fitness_split", "open_run_folder",
    "run_settings", "settings_dataclass",
]

CHECKPOINT_FILE = "checkpoint.safetensors"
SETTINGS_FILE = "settings.json"
LOGBOOK_FILE = "logbook.csv"
PLOT_FILE = "fitness.png"
BEST_FILE = "best.safetensors"

SettingsT = TypeVar("SettingsT")

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
        """The run's checkpoint file."""
        return self.folder / CHECKPOINT_FILE

    def path(self, name: str) -> Path:
        """The file ``name`` in the folder."""
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


def _flag_type(hint: Any) -> Any:
    """The argparse ``type`` of a settings field annotated ``hint``: ``int``, ``float`` or ``str``,
    also inside ``X | None``; anything else is parsed as ``str``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        given = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = given[0] if len(given) == 1 else str
    return hint if hint in (int, float, str) else str


def add_settings_arguments(
    group: argparse._ArgumentGroup,
    settings_class: type,
    *,
    helps: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
) -> tuple[str, ...]:
    """One flag per field of the dataclass ``settings_class``, named after it (``batch_size`` ->
    ``--batch-size``), typed by its annotation, defaulting to ``None`` (unset: the dataclass's
    default, which the help shows; see :func:`settings_dataclass`).

    Args:
        group: where the flags go.
        settings_class: a dataclass whose every field has a default.
        helps: per field, the help text (default: the field's name).
        flags: per field, a flag name other than the derived one (e.g. ``{"architecture": "--arch"}``).
        choices: per field, the values the flag accepts.

    Returns:
        The field names, in the dataclass's order (each flag's destination is its field's name).
    """
    helps, flags, choices = helps or {}, flags or {}, choices or {}
    hints = typing.get_type_hints(settings_class)
    defaults = settings_class()
    names = tuple(field.name for field in dataclasses.fields(settings_class))
    for name in names:
        default = getattr(defaults, name)
        group.add_argument(flags.get(name, "--" + name.replace("_", "-")), dest=name, type=_flag_type(hints[name]),
                           choices=choices.get(name), default=None,
                           help=f"{helps.get(name, name)} (default {default})")
    return names


def settings_dataclass(settings_class: type[SettingsT], settings: Mapping[str, Any]) -> SettingsT:
    """The dataclass ``settings_class`` of a run's settings: each field from ``settings`` where it is
    given and not ``None``, else the dataclass's default; other keys are ignored.

    Raises:
        ValueError: whatever the dataclass refuses.
    """
    return settings_class(**{field.name: settings[field.name] for field in dataclasses.fields(settings_class)
                             if settings.get(field.name) is not None})
