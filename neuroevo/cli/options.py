"""Flags that several commands share (the data, the memory budget), and how the command line
words the data layer's advice (its flags, not Python keywords)."""

from __future__ import annotations

import argparse
from typing import Any, Mapping

from neuroevo.cli.units import parse_memory_size
from neuroevo.data import BUILTIN_DATASET, Dataset, Wording, load_dataset

__all__ = ["CLI_WORDING", "add_data_arguments", "add_memory_budget_argument", "load_data"]

#: The data layer's advice in flags (see :class:`neuroevo.data.DataSourceError`).
CLI_WORDING = Wording(
    download="add --download",
    root="point --data-root",
    folder="give a local folder with --data /path/to/folder",
    builtin=f"--data {BUILTIN_DATASET}",
)


def add_data_arguments(parser: argparse.ArgumentParser, *, default: str | None = BUILTIN_DATASET) -> None:
    """``--data`` (default: the built-in data set), ``--data-root`` and ``--download``."""
    default_text = f" (default {default}: built in, no download)" if default else ""
    parser.add_argument(
        "--data", default=default,
        help=f"{BUILTIN_DATASET}, mnist, fashion-mnist, cifar10, or a folder of IDX files / CIFAR-10 batches"
             f"{default_text}",
    )
    parser.add_argument("--data-root",
                        help="where mnist, fashion-mnist and cifar10 live (default $NEUROEVO_DATA or "
                             "~/.cache/neuroevo/data)")
    parser.add_argument("--download", action="store_true",
                        help="fetch mnist, fashion-mnist or cifar10 with torchvision (needs internet)")


def load_data(settings: argparse.Namespace | Mapping[str, Any], split: str) -> Dataset:
    """The ``split`` of the data named by ``data``, ``data_root`` and ``download`` (flags or a
    settings mapping)."""
    get = settings.get if isinstance(settings, Mapping) else lambda key: getattr(settings, key)
    return load_dataset(get("data"), split, root=get("data_root"), download=get("download"))


def add_memory_budget_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *,
                               default: str | None) -> None:
    """``--memory-budget``: bytes after :func:`~neuroevo.cli.units.parse_memory_size` (MiB when
    no unit is written)."""
    default_text = f"default {default}" if default else "default: the evaluator's"
    parser.add_argument("--memory-budget", type=parse_memory_size, default=default,
                        help=f"evaluation memory budget: MiB, or with a unit such as 512M or 2G ({default_text})")
