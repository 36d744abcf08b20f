"""Errors of data loading whose advice names the caller's own controls.

The same missing data set is fixed with ``download=True`` in Python and with ``--download`` on the
command line: each error here keeps what went wrong, words its message for Python callers
(:data:`PYTHON_WORDING`), and :meth:`DataSourceError.message` words it for another interface (the
command line passes its flag names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neuroevo.data.builtin_sets import BUILTIN_DATASET

__all__ = ["DataSourceError", "DataUnavailableError", "DownloadError", "PYTHON_WORDING", "Wording"]


@dataclass(frozen=True)
class Wording:
    """How an interface says each fix, as imperative phrases.

    Attributes:
        download: Fetch a known data set (``"pass download=True"``).
        root: Point at where known data sets live (``"pass root="``).
        folder: Load a local folder instead (``"load_dataset('/path/to/folder')"``).
        builtin: Use the built-in data set (``"load_dataset('mnist-small')"``).
    """

    download: str
    root: str
    folder: str
    builtin: str


#: The wording of the Python API (:func:`neuroevo.data.load_dataset`'s arguments).
PYTHON_WORDING = Wording(
    download="pass download=True",
    root="pass root=",
    folder="load a local folder with load_dataset('/path/to/folder')",
    builtin=f"load_dataset({BUILTIN_DATASET!r})",
)


class DataSourceError(Exception):
    """A data set that cannot be had; ``str()`` gives the Python wording."""

    def __init__(self, name: str, folder: Path, reason: str) -> None:
        # One line, whatever the cause's layout (torchvision's download errors span several).
        self.name, self.folder, self.reason = name, Path(folder), " ".join(str(reason).split())
        super().__init__(self.message(PYTHON_WORDING))

    def __reduce__(self):
        return type(self), (self.name, self.folder, self.reason)

    def message(self, wording: Wording) -> str:
        """The message with its advice in ``wording``."""
        raise NotImplementedError


class DataUnavailableError(DataSourceError, FileNotFoundError):
    """A known data set's files are not in its folder under the data root."""

    def __init__(self, name: str, folder: Path, reason: str, layout: str) -> None:
        self.layout = layout
        super().__init__(name, folder, reason)

    def __reduce__(self):
        return type(self), (self.name, self.folder, self.reason, self.layout)

    def message(self, wording: Wording) -> str:
        return (
            f"{self.name} not found in {self.folder} ({self.reason}). Fix: {wording.download} to fetch it with "
            f"torchvision (needs internet), {wording.root} (or set $NEUROEVO_DATA) to a folder that already holds "
            f"{self.layout}/, {wording.folder}, or use the built-in data set: {wording.builtin}."
        )


class DownloadError(DataSourceError, RuntimeError):
    """Fetching a known data set failed (no network, a server error, a bad checksum)."""

    def message(self, wording: Wording) -> str:
        return (
            f"could not download {self.name} into {self.folder}: {self.reason}. Without internet, use the "
            f"built-in data set ({wording.builtin}) or {wording.folder}."
        )
