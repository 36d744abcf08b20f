"""The ``neuroevo`` command line: one sub-command per module in this package.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func=run`` on it; :data:`COMMAND_MODULES` lists them in the order ``--help`` shows.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

COMMAND_MODULES = (
    "neuroevo.cli.genome_commands",
    "neuroevo.cli.train_commands",
    "neuroevo.cli.sweep_commands",
    "neuroevo.cli.evolve_commands",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    from neuroevo import __version__

    parser = argparse.ArgumentParser(
        prog="neuroevo",
        description="Neuroevolution with permutation-invariant neuron-set genomes.",
    )
    parser.add_argument("--version", action="version", version=f"neuroevo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neuroevo`` console script and ``python -m neuroevo``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        print(f"neuroevo {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
