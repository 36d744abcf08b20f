"""The ``neuroevo`` command line: one sub-command per module in this package.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func=run`` on it; :data:`COMMAND_MODULES` lists them in the order ``--help`` shows. Before a
command runs, ``args.given_flags`` holds the flags the command line gave
(:func:`~neuroevo.cli.config.given_options`) and a ``--config`` file has filled in the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from neuroevo.cli.config import apply_config, given_options
from neuroevo.cli.options import CLI_WORDING
from neuroevo.data import DataSourceError

COMMAND_MODULES = (
    "neuroevo.cli.genome_commands",
    "neuroevo.cli.train_commands",
    "neuroevo.cli.sweep_commands",
    "neuroevo.cli.evolve_commands",
    "neuroevo.cli.ga_commands",
    "neuroevo.cli.control_commands",
)

#: Settings no ``--config`` file may hold: the file itself, and where and how this invocation writes.
CONFIG_EXCLUDED = frozenset({"config", "output", "resume"})


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


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    (subparsers,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return subparsers.choices[command]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neuroevo`` console script and ``python -m neuroevo``.

    Errors a user can fix (bad values, missing files or data, a failed download) end in one line
    on stderr and exit status 2, without a traceback; data errors name the flags that fix them.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    args.given_flags = given_options(parser, argv)
    if getattr(args, "config", None):
        apply_config(_command_parser(parser, args.command), args, args.given_flags, excluded=CONFIG_EXCLUDED)
    try:
        return int(args.func(args) or 0)
    except DataSourceError as error:
        print(f"neuroevo {args.command}: error: {error.message(CLI_WORDING)}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as error:
        print(f"neuroevo {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
