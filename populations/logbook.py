"""DEAP logbooks as JSON-ready dictionaries (for checkpoints) and as CSV files."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
from deap import tools

from neuroevo.files import atomic_write

__all__ = ["logbook_columns", "logbook_from_dict", "logbook_to_dict", "write_logbook_csv"]


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays turned into Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def logbook_to_dict(logbook: tools.Logbook) -> dict[str, Any]:
    """A JSON-ready copy of a logbook: its entries, chapters and printing state.

    NumPy values (e.g. from ``Statistics`` with ``np.mean``) become Python numbers and lists.
    """
    return {
        "entries": [{key: _plain(value) for key, value in entry.items()} for entry in logbook],
        "chapters": {name: logbook_to_dict(chapter) for name, chapter in logbook.chapters.items()},
        "header": None if logbook.header is None else list(logbook.header),
        "log_header": logbook.log_header,
        "buffindex": logbook.buffindex,
        "columns_len": logbook.columns_len,
    }


def logbook_from_dict(data: dict[str, Any]) -> tools.Logbook:
    """The logbook that :func:`logbook_to_dict` described.

    Raises:
        ValueError: a malformed dictionary.
    """
    try:
        logbook = tools.Logbook()
        logbook.extend(dict(entry) for entry in data["entries"])
        for name, chapter in data["chapters"].items():
            logbook.chapters[name] = logbook_from_dict(chapter)
        logbook.header = None if data["header"] is None else list(data["header"])
        logbook.log_header = bool(data["log_header"])
        logbook.buffindex = int(data["buffindex"])
        logbook.columns_len = data["columns_len"]
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"malformed logbook: {error!r}") from None
    return logbook


def _flat_rows(logbook: tools.Logbook) -> list[dict[str, Any]]:
    """One dictionary per entry; chapter fields are named ``<chapter>_<field>``."""
    rows = [dict(entry) for entry in logbook]
    for name, chapter in logbook.chapters.items():
        for row, chapter_row in zip(rows, _flat_rows(chapter)):
            row.update({f"{name}_{key}": value for key, value in chapter_row.items() if key not in row})
    return rows


def logbook_columns(logbook: tools.Logbook) -> list[str]:
    """The logbook's CSV columns: those of its header first, then the rest as they first appear."""
    rows = _flat_rows(logbook)
    present = {key for row in rows for key in row}
    columns = [key for key in logbook.header or [] if key in present]
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def write_logbook_csv(logbook: tools.Logbook, path: str | os.PathLike) -> Path:
    """Write the logbook as CSV (one row per entry, chapters flattened; atomic). Returns the path."""
    columns = logbook_columns(logbook)
    rows = [{key: _plain(value) for key, value in row.items()} for row in _flat_rows(logbook)]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)

    return atomic_write(path, write)
