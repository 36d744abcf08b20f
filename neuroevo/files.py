"""Genome and input-encoding files: safetensors with versioned metadata.

A file holds tensors only (safetensors cannot execute code on load) and a small JSON-compatible
header: the file format and version, the genome's encoding and architecture, and the identity of
its input encoding. An embedding genome's file also holds its input encoding, so every genome file
stands alone. Files are written atomically (to a temporary file in the same folder, then renamed),
so an interrupted save never leaves a half-written file under the target name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.encoding import InputEncoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.neurons import NeuronSet

FORMAT_VERSION = "1"
GENOME_FORMAT = "neuroevo-genome"
ENCODING_FORMAT = "neuroevo-input-encoding"


class GenomeFileError(ValueError):
    """A file that is missing, truncated, corrupt, foreign or of an unsupported version."""


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it to ``path``.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _encoding_tensors(encoding: InputEncoding, prefix: str = "") -> dict[str, Tensor]:
    tensors = {f"{prefix}inputs": encoding.inputs}
    if encoding.positions is not None:
        tensors[f"{prefix}positions"] = encoding.positions
    return tensors


def _write(path: str | os.PathLike, tensors: dict[str, Tensor], metadata: dict[str, str]) -> Path:
    tensors = {name: t.detach().cpu().contiguous().clone() for name, t in tensors.items()}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def save_genome(genome: Genome, path: str | os.PathLike) -> Path:
    """Write ``genome`` to ``path`` (safetensors; atomic). Returns the path.

    Hidden neurons are written in their stored order; loading gives back exactly the same tensors.
    """
    genome.validate()
    tensors: dict[str, Tensor] = {}
    metadata = {
        "format": GENOME_FORMAT,
        "format_version": FORMAT_VERSION,
        "encoding": genome.encoding,
        "architecture": genome.architecture.to_json(),
        "n_layers": str(genome.n_layers),
    }
    for index, layer in enumerate(genome.layers):
        for name, tensor in layer.items():
            tensors[f"layers.{index}.{name}"] = tensor
    if isinstance(genome, EmbeddingGenome):
        tensors.update(_encoding_tensors(genome.input_encoding, "input_encoding."))
        metadata["input_encoding"] = genome.input_encoding.identity
    return _write(path, tensors, metadata)


def save_input_encoding(encoding: InputEncoding, path: str | os.PathLike) -> Path:
    """Write a shared input encoding on its own (safetensors; atomic)."""
    metadata = {"format": ENCODING_FORMAT, "format_version": FORMAT_VERSION, "identity": encoding.identity}
    return _write(path, _encoding_tensors(encoding), metadata)


def _read(path: str | os.PathLike, expected_format: str) -> tuple[dict[str, Tensor], dict[str, str]]:
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
    if version != FORMAT_VERSION:
        raise GenomeFileError(
            f"{path}: format version {version!r} is not supported (this neuroevo reads version {FORMAT_VERSION})"
        )
    return tensors, metadata


def _encoding_from(tensors: dict[str, Tensor], prefix: str, path: Path, expected_identity: str | None) -> InputEncoding:
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
        GenomeFileError: missing, truncated, corrupt, foreign or unsupported-version file.
    """
    tensors, metadata = _read(path, ENCODING_FORMAT)
    return _encoding_from(tensors, "", Path(path), metadata.get("identity"))


def load_genome(path: str | os.PathLike, *, input_encoding: InputEncoding | None = None) -> Genome:
    """Read a genome written by :func:`save_genome`.

    Args:
        path: the file.
        input_encoding: an already loaded shared encoding; when its identity matches the file's,
            the genome references this object instead of a fresh copy (so a population loaded
            from many files shares one basis). A different encoding raises ``GenomeFileError``.

    Raises:
        GenomeFileError: missing, truncated, corrupt, foreign, unsupported-version or inconsistent
            file (the message names the file and the problem).
    """
    path = Path(path)
    tensors, metadata = _read(path, GENOME_FORMAT)
    try:
        architecture = Architecture.from_json(metadata["architecture"])
        n_layers = int(metadata["n_layers"])
        encoding_kind = metadata["encoding"]
    except (KeyError, ValueError, TypeError) as error:
        raise GenomeFileError(f"{path}: invalid genome metadata: {error}") from None
    layers = []
    for index in range(n_layers):
        prefix = f"layers.{index}."
        fields = {name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)}
        if not fields:
            raise GenomeFileError(f"{path}: layer {index} is missing")
        try:
            layers.append(NeuronSet(**fields))
        except ValueError as error:
            raise GenomeFileError(f"{path}: layer {index}: {error}") from None
    try:
        if encoding_kind == "embedding":
            encoding = _encoding_from(tensors, "input_encoding.", path, metadata.get("input_encoding"))
            if input_encoding is not None:
                if input_encoding != encoding:
                    raise GenomeFileError(
                        f"{path}: genome is built on input encoding {encoding.short_id}, "
                        f"not the given {input_encoding.short_id}"
                    )
                encoding = input_encoding
            return EmbeddingGenome(architecture, encoding, layers)
        if encoding_kind == "direct":
            return DirectGenome(architecture, layers)
    except GenomeFileError:
        raise
    except ValueError as error:
        raise GenomeFileError(f"{path}: inconsistent genome: {error}") from None
    raise GenomeFileError(f"{path}: unknown genome encoding {encoding_kind!r}")
