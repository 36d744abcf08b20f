"""Genome and input-encoding files: safetensors with versioned, checksummed metadata.

A file holds tensors only (safetensors cannot execute code on load) and a small JSON-compatible
header: the file format and version, the genome's encoding and architecture, the identity of its
input encoding, and a SHA-256 checksum of all of that and every tensor. An embedding genome's file
also holds its input encoding, so every genome file stands alone.

Format versions: version 2 (written now) carries the checksum, and a file whose metadata or
tensors no longer match it is refused with :class:`GenomeFileError` naming the file, even when the
edit is self-consistent (say ``activation`` relu -> tanh). Version 1 files (no checksum) still
load, unverified. The checksum catches accidental and naive edits, not deliberate forgery (anyone
can recompute it): it is not a signature.

Files are written atomically (to a temporary file in the same folder, then renamed), so an
interrupted save never leaves a half-written file under the target name; a temporary file left by
a killed writer is removed by the next write in that folder (:func:`atomic_write`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Callable

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.encoding import InputEncoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.neurons import NeuronSet

FORMAT_VERSION = "2"
#: Older versions still read, of every format here (genome, input encoding, GA checkpoint): written
#: before files carried a checksum, so loaded unverified.
UNCHECKED_VERSIONS = ("1",)
GENOME_FORMAT = "neuroevo-genome"
ENCODING_FORMAT = "neuroevo-input-encoding"
CHECKSUM_KEY = "checksum"

#: Suffix of :func:`atomic_write`'s temporary files, ``.<target>.<host>-<pid>-<random>.neuroevo-tmp``.
TEMPORARY_SUFFIX = ".neuroevo-tmp"
#: Age (seconds) after which a temporary file of ours is stale even if its writer may be alive
#: (a writer on another machine sharing the folder, whose process cannot be checked from here).
STALE_AFTER_S = 3600.0
_TEMPORARY = re.compile(r"^\..+\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[^.]+" + re.escape(TEMPORARY_SUFFIX) + "$")


class GenomeFileError(ValueError):
    """A file that is missing, truncated, corrupt, tampered with, foreign or of an unsupported version."""


def _host_tag() -> str:
    """8 hex digits naming this machine in temporary file names."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _process_running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (``True`` when that cannot be told)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) is not a probe elsewhere
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, under another user
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed :func:`atomic_write` calls left in ``folder``.

    Only files of :func:`atomic_write`'s own naming are considered
    (``.<target>.<host>-<pid>-<random>.neuroevo-tmp``), and only stale ones: written by a process
    of this machine that no longer runs, or last modified more than :data:`STALE_AFTER_S` ago.
    A write still in progress (this process's or another's) is left alone. Best effort: a file
    that cannot be removed is skipped.

    Returns:
        The files removed.
    """
    removed = []
    host, now = _host_tag(), time.time()
    for candidate in Path(folder).iterdir():
        match = _TEMPORARY.match(candidate.name)
        if match is None:
            continue
        try:
            dead = match["host"] == host and not _process_running(int(match["pid"]))
            if dead or now - candidate.stat().st_mtime > STALE_AFTER_S:
                candidate.unlink()
                removed.append(candidate)
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it to ``path``.

    On any error the temporary file is removed and ``path`` is left as it was. A kill leaves the
    temporary file behind; the next write into the same folder removes it
    (:func:`remove_stale_temporaries`). Every file this package writes goes through here
    (genome, input-encoding and checkpoint files, result files).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{_host_tag()}-{os.getpid()}-", suffix=TEMPORARY_SUFFIX, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _file_mode(path: Path) -> int:
    """The permissions ``path`` keeps (when it exists) or a plain ``open`` would give it: the temporary
    file's own are owner-only (``mkstemp``)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def replace_markdown_section(path: str | os.PathLike, heading: str, text: str) -> Path:
    """Replace the section of the markdown file ``path`` that starts at the line ``heading`` (up to
    the next ``## `` heading, or the end) with ``text``, or append ``text`` when there is no such
    section; everything else in the file is kept. Written atomically. Returns the path."""
    path = Path(path)
    content = path.read_text()
    start = content.find(heading)
    if start < 0:
        head, tail = content, ""
    else:
        following = content.find("\n## ", start + len(heading))
        head, tail = content[:start], ("" if following < 0 else content[following + 1:])
    body = head.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    return atomic_write(path, lambda tmp: tmp.write_text(body))


def _encoding_tensors(encoding: InputEncoding, prefix: str = "") -> dict[str, Tensor]:
    tensors = {f"{prefix}inputs": encoding.inputs}
    if encoding.positions is not None:
        tensors[f"{prefix}positions"] = encoding.positions
    return tensors


def checksum(tensors: dict[str, Tensor], metadata: dict[str, str]) -> str:
    """SHA-256 (hex) of string metadata (every key but ``"checksum"``) and named tensors (name,
    dtype, shape and bytes of each, in name order): what a tensor file's ``"checksum"`` holds."""
    digest = hashlib.sha256()
    fields = {key: value for key, value in metadata.items() if key != CHECKSUM_KEY}
    digest.update(json.dumps(fields, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def write_tensor_file(path: str | os.PathLike, tensors: dict[str, Tensor], metadata: dict[str, str]) -> Path:
    """Write named tensors (copied to contiguous CPU storage) and string metadata as safetensors,
    atomically, adding the metadata key ``"checksum"`` (:func:`checksum`). Returns the path."""
    tensors = {name: t.detach().cpu().contiguous().clone() for name, t in tensors.items()}
    metadata = {**metadata, CHECKSUM_KEY: checksum(tensors, metadata)}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def genome_tensors(genome: Genome, *, with_input_encoding: bool = True) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The named tensors and string metadata that describe ``genome`` (what a genome file holds).

    Tensor names are ``layers.<l>.<field>`` (and ``input_encoding.inputs`` / ``.positions`` for
    an embedding genome); the metadata names the encoding, the architecture (JSON), the number of
    layers and the input encoding's identity. The tensors are the genome's own (not copies).

    Args:
        genome: the genome (validated first).
        with_input_encoding: include an embedding genome's input encoding tensors; leave them out
            to store one shared encoding once for many genomes (its identity is always recorded).
    """
    genome.validate()
    tensors = {
        f"layers.{index}.{name}": tensor for index, layer in enumerate(genome.layers) for name, tensor in layer.items()
    }
    metadata = {
        "encoding": genome.encoding,
        "architecture": genome.architecture.to_json(),
        "n_layers": str(genome.n_layers),
    }
    if isinstance(genome, EmbeddingGenome):
        metadata["input_encoding"] = genome.input_encoding.identity
        if with_input_encoding:
            tensors.update(_encoding_tensors(genome.input_encoding, "input_encoding."))
    return tensors, metadata


def save_genome(genome: Genome, path: str | os.PathLike) -> Path:
    """Write ``genome`` to ``path`` (safetensors; atomic). Returns the path.

    Hidden neurons are written in their stored order; loading gives back exactly the same tensors.
    """
    tensors, metadata = genome_tensors(genome)
    return write_tensor_file(path, tensors, {"format": GENOME_FORMAT, "format_version": FORMAT_VERSION, **metadata})


def save_input_encoding(encoding: InputEncoding, path: str | os.PathLike) -> Path:
    """Write a shared input encoding on its own (safetensors; atomic)."""
    metadata = {"format": ENCODING_FORMAT, "format_version": FORMAT_VERSION, "identity": encoding.identity}
    return write_tensor_file(path, _encoding_tensors(encoding), metadata)


def read_tensor_file(
    path: str | os.PathLike, expected_format: str, format_version: str = FORMAT_VERSION
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Read a safetensors file whose metadata names ``expected_format`` and ``format_version`` (or
    one of :data:`UNCHECKED_VERSIONS`).

    The checksum is not verified here: decode the contents first (their checks name the problem
    more precisely), then call :func:`verify_checksum`.

    Returns:
        ``(tensors, metadata)``, tensors on the CPU.

    Raises:
        GenomeFileError: missing, truncated, corrupt, foreign or unsupported-version file.
    """
    path = Path(path)
    if not path.is_file():
        raise GenomeFileError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise GenomeFileError(f"{path}: not a readable safetensors file (truncated or corrupt?): {error}") from None
    found = metadata.get("format")
    if found != expected_format:
        what = f"a {found!r} file" if found else "a file without neuroevo metadata"
        raise GenomeFileError(f"{path}: expected a {expected_format!r} file, found {what}")
    version = metadata.get("format_version")
    if version != format_version and version not in UNCHECKED_VERSIONS:
        readable = ", ".join([*UNCHECKED_VERSIONS, format_version])
        raise GenomeFileError(
            f"{path}: format version {version!r} is not supported (this neuroevo reads versions {readable})"
        )
    return tensors, metadata


def verify_checksum(path: str | os.PathLike, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Raise unless what :func:`read_tensor_file` read from ``path`` matches the file's checksum.

    Files of :data:`UNCHECKED_VERSIONS` carry none and pass unverified.

    Raises:
        GenomeFileError: no checksum, or one that does not match: the metadata or tensors were
            changed after the file was written (the message names the file).
    """
    if metadata.get("format_version") in UNCHECKED_VERSIONS:
        return
    recorded = metadata.get(CHECKSUM_KEY)
    if recorded is None:
        raise GenomeFileError(f"{path}: the file has no checksum; it was altered after it was written")
    if recorded != checksum(tensors, metadata):
        raise GenomeFileError(
            f"{path}: checksum mismatch: the file's metadata or tensors were changed after it was written "
            "(tampered with or corrupt)"
        )


def _encoding_from(
    tensors: dict[str, Tensor], prefix: str, path: str | Path, expected_identity: str | None
) -> InputEncoding:
    try:
        encoding = InputEncoding(tensors[f"{prefix}inputs"], tensors.get(f"{prefix}positions"))
    except KeyError:
        raise GenomeFileError(f"{path}: the input encoding is missing") from None
    except ValueError as error:
        raise GenomeFileError(f"{path}: invalid input encoding: {error}") from None
    if expected_identity is not None and encoding.identity != expected_identity:
        raise GenomeFileError(f"{path}: input encoding does not match its recorded identity (corrupt file)")
    return encoding


def load_input_encoding(path: str | os.PathLike) -> InputEncoding:
    """Read an input encoding written by :func:`save_input_encoding`.

    Raises:
        GenomeFileError: missing, truncated, corrupt, tampered, foreign or unsupported-version file.
    """
    tensors, metadata = read_tensor_file(path, ENCODING_FORMAT)
    encoding = _encoding_from(tensors, "", Path(path), metadata.get("identity"))
    verify_checksum(path, tensors, metadata)
    return encoding


def load_genome(path: str | os.PathLike, *, input_encoding: InputEncoding | None = None) -> Genome:
    """Read a genome written by :func:`save_genome`.

    Args:
        path: the file.
        input_encoding: an already loaded shared encoding; when its identity matches the file's,
            the genome references this object instead of a fresh copy (so a population loaded
            from many files shares one basis). A different encoding raises ``GenomeFileError``.

    Raises:
        GenomeFileError: missing, truncated, corrupt, foreign, unsupported-version or inconsistent
            file, or one changed after it was written, even consistently (checksum mismatch); the
            message names the file and the problem.
    """
    tensors, metadata = read_tensor_file(path, GENOME_FORMAT)
    genome = genome_from_tensors(tensors, metadata, input_encoding=input_encoding, source=str(path))
    verify_checksum(path, tensors, metadata)
    return genome


def genome_from_tensors(
    tensors: dict[str, Tensor],
    metadata: dict[str, str],
    *,
    input_encoding: InputEncoding | None = None,
    source: str = "genome",
) -> Genome:
    """Rebuild a genome from what :func:`genome_tensors` returned.

    Args:
        tensors: the named tensors (CPU); the genome's layers reference them (no copy).
        metadata: the string metadata.
        input_encoding: the shared encoding; required when ``tensors`` leave it out, otherwise
            used instead of a fresh copy when its identity matches (a different one is an error).
        source: where the data comes from, for error messages (e.g. a file path).

    Raises:
        GenomeFileError: missing or inconsistent tensors or metadata (the message names
            ``source`` and the problem).
    """
    try:
        architecture = Architecture.from_json(metadata["architecture"])
        n_layers = int(metadata["n_layers"])
        encoding_kind = metadata["encoding"]
    except (KeyError, ValueError, TypeError) as error:
        raise GenomeFileError(f"{source}: invalid genome metadata: {error}") from None
    layers = []
    for index in range(n_layers):
        prefix = f"layers.{index}."
        fields = {name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)}
        if not fields:
            raise GenomeFileError(f"{source}: layer {index} is missing")
        try:
            layers.append(NeuronSet(**fields))
        except ValueError as error:
            raise GenomeFileError(f"{source}: layer {index}: {error}") from None
    try:
        if encoding_kind == "embedding":
            encoding = _genome_encoding(tensors, metadata, input_encoding, source)
            return EmbeddingGenome(architecture, encoding, layers)
        if encoding_kind == "direct":
            return DirectGenome(architecture, layers)
    except GenomeFileError:
        raise
    except ValueError as error:
        raise GenomeFileError(f"{source}: inconsistent genome: {error}") from None
    raise GenomeFileError(f"{source}: unknown genome encoding {encoding_kind!r}")


def _genome_encoding(
    tensors: dict[str, Tensor], metadata: dict[str, str], given: InputEncoding | None, source: str
) -> InputEncoding:
    """An embedding genome's input encoding: ``given`` if it is the one the genome was built on,
    else the genome's own copy from ``tensors``."""
    recorded = metadata.get("input_encoding")
    if "input_encoding.inputs" in tensors:
        own = _encoding_from(tensors, "input_encoding.", source, recorded)
        if given is None:
            return own
        recorded = own.identity
    elif given is None:
        raise GenomeFileError(f"{source}: the input encoding is missing")
    if recorded is not None and given.identity != recorded:
        raise GenomeFileError(
            f"{source}: genome is built on input encoding {recorded[:12]}, not the given {given.short_id}"
        )
    return given
