"""Which flags the command line gave, and ``--config FILE`` settings for the flags it did not give.

A config file is a JSON object of settings named as the flags' destinations
(``{"population": 20, "crossover": "transplant", "data": "mnist-small"}``), with values written as
on the command line (``"memory_budget": "2G"``; a number is MiB as for the flag; ``null`` leaves
the flag's default). It is applied after parsing, so it can supply any setting, ``data``
included, and a flag given on the command line always wins, whatever its value. The
``settings.json`` that ``neuroevo evolve`` writes is such a file: it repeats the run.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

__all__ = ["apply_config", "given_options"]


def _suppress_defaults(parser: argparse.ArgumentParser) -> None:
    parser._defaults.clear()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _suppress_defaults(sub)


def given_options(parser: argparse.ArgumentParser, argv: list[str]) -> dict[str, str]:
    """The options ``argv`` gives explicitly (whatever their values), for ``argv`` already
    accepted by ``parser``.

    Returns:
        ``{destination: flag}`` (the flag's long form, e.g. ``{"data": "--data"}``).
    """
    bare = copy.deepcopy(parser)
    _suppress_defaults(bare)
    given = vars(bare.parse_args(argv))
    flags: dict[str, str] = {}
    pending = [bare]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif action.option_strings and action.dest in given:
                flags[action.dest] = max(action.option_strings, key=len)
    return flags


def apply_config(parser: argparse.ArgumentParser, args: argparse.Namespace, given: dict[str, str],
                 *, excluded: frozenset[str] = frozenset()) -> None:
    """Sets every setting of the JSON file ``args.config`` that the command line did not give.

    Args:
        parser: The command's parser (its flags' types and choices check the values; its
            ``error`` reports problems).
        args: The parsed flags, updated in place.
        given: :func:`given_options`: these keep their command-line values.
        excluded: Destinations a config may not set (how to run, not what the run is).

    Raises:
        SystemExit: (through ``parser.error``) an unreadable file, not a JSON object, an unknown
            or excluded setting, or a value its flag would refuse; ``args`` is then unchanged.
    """
    path = args.config
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        parser.error(f"--config {path}: {error}")
    if not isinstance(config, dict):
        parser.error(f"--config {path}: expected a JSON object of settings")
    actions = {action.dest: action for action in parser._actions if action.option_strings}
    values: dict[str, Any] = {}
    for key, value in config.items():
        action = actions.get(key)
        if action is None or key in excluded:
            parser.error(f"--config {path}: unknown setting {key!r}")
        if value is None:  # unset: the flag keeps its default
            continue
        if action.type is not None:
            try:
                value = action.type(str(value))
            except (ValueError, argparse.ArgumentTypeError) as error:
                parser.error(f"--config {path}: {key}: {error}")
        if action.choices is not None and value not in action.choices:
            parser.error(f"--config {path}: {key} must be one of {', '.join(map(str, action.choices))}")
        values[key] = value
    for key, value in values.items():
        if key not in given:
            setattr(args, key, value)
