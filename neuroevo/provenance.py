"""Provenance of measured results: the commit a figure was measured on, and whether it is stale.

Every result file the project writes (sweeps, benchmarks, evolution comparisons) carries
:func:`provenance`'s record, so a reader can tell which code produced a number, and a reproduction
script can tell when that code has changed since (:func:`stale_code`): the record holds a content
hash of every project module the measuring process had loaded, so a result stays current exactly
as long as the code that ran is unchanged, committed or not.

A record must read the same on every machine and re-run from a clone as written: its command names
files relative to the repository (:func:`portable_command`), never by an absolute path of the
measuring machine, and the data it measured on by name and content hash (:func:`data_record`).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shlex
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterable, Protocol, Sequence

import torch

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


class _Data(Protocol):
    """What :func:`data_record` reads of a :class:`~neuroevo.data.Dataset`."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    split: str


def provenance(
    *,
    command: str | None = None,
    dataset: str | None = None,
    split: str | None = None,
    data: Sequence[_Data] = (),
) -> dict:
    """The provenance record a result file stores.

    Args:
        command: the command line that reproduces the result (default: this process's ``argv``);
            recorded by :func:`portable_command`, so absolute paths never reach the record.
        dataset: the data set the figures were measured on (e.g. ``"mnist-small"``).
        split: which split(s), in words (e.g. ``"test (10,000 images)"``).
        data: the data sets (:class:`~neuroevo.data.Dataset`) the figures were measured on, each
            recorded by :func:`data_record` (name, split, size and content hash).

    Returns:
        ``{"commit", "dirty", "command", "dataset", "split", "data_sets", "measured_at", "code"}``;
        ``commit`` is ``None`` outside a git clone, ``dirty`` tells whether the measured code had
        uncommitted changes, ``code`` is :func:`code_fingerprint`.
    """
    commit, dirty = current_commit()
    return {
        "commit": commit,
        "dirty": dirty,
        "command": portable_command(shlex.split(command) if command is not None else ["python", *sys.argv]),
        "dataset": dataset,
        "split": split,
        "data_sets": [data_record(d) for d in data],
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code": code_fingerprint(),
    }


def data_record(data: _Data) -> dict:
    """A data set as a result records it: ``{"name", "split", "samples", "sha256"}``.

    ``sha256`` (first 16 hex digits) hashes the samples as measured (images ``[N, ...]`` float32 and
    labels ``[N]`` int64, with their shapes), so two records agree exactly when the figures were
    measured on the same numbers, wherever the files lay.
    """
    digest = hashlib.sha256()
    for tensor in (data.images, data.labels):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return {"name": data.name, "split": data.split, "samples": len(data.labels), "sha256": digest.hexdigest()[:16]}


#: An absolute path on POSIX (``/...``, ``~...``) or Windows (``C:\...``, ``\\server\...``).
_ABSOLUTE = re.compile(r"^(/|~|[A-Za-z]:[\\/]|\\\\)")


def is_absolute(text: str) -> bool:
    """Whether ``text`` is an absolute path of some machine (POSIX, home-relative or Windows)."""
    return bool(_ABSOLUTE.match(text))


def portable_path(path: str | Path) -> str:
    """``path`` as a result may record it, readable on any machine.

    * a relative path: unchanged;
    * inside the repository: relative to its root (``docs/figures/x.json``);
    * a data folder outside it (IDX files) holding exactly a built-in data set's files: that data
      set's name (``mnist-small``), which loads from any clone;
    * inside the temporary folder: ``<tmp>/`` and its name (``<tmp>/RESULTS.md``);
    * anything else outside the repository: its name alone.
    """
    text = str(path)
    if not is_absolute(text):
        return text
    if re.match(r"^([A-Za-z]:|\\\\)", text):  # another machine's Windows path: only its name means anything here
        return PureWindowsPath(text).name
    resolved = Path(text).expanduser().resolve()
    if resolved.is_relative_to(_REPOSITORY):
        return resolved.relative_to(_REPOSITORY).as_posix() or "."
    builtin = _builtin_with_contents(resolved)
    if builtin is not None:
        return builtin
    if resolved.is_relative_to(Path(tempfile.gettempdir()).resolve()):
        return f"<tmp>/{resolved.name}"
    return resolved.name or PurePosixPath(text).name


def portable_command(argv: Iterable[str]) -> str:
    """The command line ``argv`` (program first) with every path argument, alone or as
    ``--option=path``, made portable by :func:`portable_path`; shell-quoted."""
    words = []
    for word in argv:
        option, equals, value = word.partition("=")
        if equals and option.startswith("-") and is_absolute(value):
            words.append(f"{option}={portable_path(value)}")
        else:
            words.append(portable_path(word) if is_absolute(word) else word)
    return shlex.join(words)


def folder_contents(folder: Path) -> list[str]:
    """Sorted content hashes (first 16 hex digits of SHA-256, gzip files decompressed) of the IDX
    files in ``folder``: a data folder's identity, independent of its file names and compression."""
    if not folder.is_dir():
        return []
    files = [f for f in folder.iterdir() if f.is_file() and "idx" in f.name.lower()]
    return sorted(hashlib.sha256(gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes())
                  .hexdigest()[:16] for f in files)


def _builtin_with_contents(folder: Path) -> str | None:
    """The built-in data set whose files hold exactly ``folder``'s data, if any."""
    contents = folder_contents(folder)
    if not contents:
        return None
    builtin = _REPOSITORY / "neuroevo" / "data" / "builtin"
    for candidate in sorted(builtin.iterdir()) if builtin.is_dir() else ():
        if folder_contents(candidate) == contents:
            return candidate.name
    return None


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
