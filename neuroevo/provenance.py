"""Provenance of measured results: the commit a figure was measured on, and whether it is stale.

Every result file the project writes (sweeps, benchmarks, evolution comparisons) carries
:func:`provenance`'s record, so a reader can tell which code produced a number, and a reproduction
script can tell when that code has changed since (:func:`stale_code`): the record holds a content
hash of every project module the measuring process had loaded, so a result stays current exactly
as long as the code that ran is unchanged, committed or not.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

#: The folders whose code produces measured results: a change under any of them makes a result stale.
MEASURED_CODE = ("neuroevo", "operators", "populations")

_REPOSITORY = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    """Output of ``git args`` in the repository holding this package (``None`` outside a git clone)."""
    try:
        done = subprocess.run(["git", *args], cwd=_REPOSITORY, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def current_commit() -> tuple[str | None, bool]:
    """``(commit, dirty)``: the checked-out commit (``None`` outside a git clone) and whether the
    measured code (:data:`MEASURED_CODE`) has uncommitted changes."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None, False
    status = _git("status", "--porcelain", "--", *MEASURED_CODE)
    return commit, bool(status)


#: Content hash of each project module file, taken the first time this process saw it loaded.
_SEEN: dict[str, str] = {}


def code_fingerprint() -> dict[str, str]:
    """``{path: content hash}`` of every project module (under :data:`MEASURED_CODE`) loaded in
    this process, paths relative to the repository, hashes the first 16 hex digits of SHA-256.

    A file is hashed the first time it is seen loaded (at the latest, the first call after its
    import; :mod:`neuroevo.provenance` takes a snapshot when it is itself imported), and that hash
    is kept: a file edited on disk while a long run goes on does not pass for the code that ran.
    """
    roots = tuple(str(_REPOSITORY / folder) + "/" for folder in MEASURED_CODE)
    files = sorted({module.__file__ for module in list(sys.modules.values())
                    if getattr(module, "__file__", None) and module.__file__.startswith(roots)})
    for file in files:
        path = str(Path(file).relative_to(_REPOSITORY))
        if path not in _SEEN:
            _SEEN[path] = _file_hash(Path(file))
    return {str(Path(f).relative_to(_REPOSITORY)): _SEEN[str(Path(f).relative_to(_REPOSITORY))] for f in files}


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"


def provenance(*, command: str | None = None, dataset: str | None = None, split: str | None = None) -> dict:
    """The provenance record a result file stores.

    Args:
        command: the command line that reproduces the result (default: this process's ``argv``).
        dataset: the data set the figures were measured on (e.g. ``"mnist-small"``).
        split: which split(s), in words (e.g. ``"test (10,000 images)"``).

    Returns:
        ``{"commit", "dirty", "command", "dataset", "split", "measured_at", "code"}``; ``commit`` is
        ``None`` outside a git clone, ``dirty`` tells whether the measured code had uncommitted
        changes, ``code`` is :func:`code_fingerprint`.
    """
    commit, dirty = current_commit()
    return {
        "commit": commit,
        "dirty": dirty,
        "command": command if command is not None else shlex.join(["python", *sys.argv]),
        "dataset": dataset,
        "split": split,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code": code_fingerprint(),
    }


def stale_code(record: dict) -> list[str]:
    """The code files that changed since ``record`` (a :func:`provenance` record, or any dict with its
    ``commit`` and ``code`` keys) was measured; empty: the result is current.

    With a ``code`` fingerprint, a file counts as changed when its content differs now; a record
    without one (measured before fingerprints were kept) falls back to :func:`changed_since` its commit.
    """
    code = record.get("code")
    if code:
        return [path for path, digest in code.items() if _file_hash(_REPOSITORY / path) != digest]
    return changed_since(record.get("commit"))


def changed_since(commit: str | None, paths: tuple[str, ...] = MEASURED_CODE) -> list[str]:
    """Files under ``paths`` that differ between ``commit`` and the working tree.

    Args:
        commit: the commit a result was measured on; ``None`` (unknown) counts as changed.
        paths: the code that produced the result.

    Returns:
        The changed files (empty: the result is current). ``["<unknown commit>"]`` when ``commit`` is
        ``None`` or not in this clone's history; ``[]`` outside a git clone (nothing to compare).
    """
    if _git("rev-parse", "HEAD") is None:
        return []
    if commit is None or _git("cat-file", "-e", f"{commit}^{{commit}}") is None:
        return ["<unknown commit>"]
    out = _git("diff", "--name-only", commit, "--", *paths)
    return out.splitlines() if out else []


code_fingerprint()  # snapshot of the project modules loaded so far
