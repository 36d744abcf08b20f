"""Reader for the IDX file format of MNIST-style data sets.

An IDX file is a 4-byte magic number ``00 00 <type code> <number of dims>``,
followed by one big-endian ``uint32`` per dimension and then the values,
big-endian, in row-major order. Files may be gzip-compressed; compression is
detected from the content (gzip magic ``1f 8b``), not from the file name.

This module parses, finds and writes files; turning them into a
:class:`neuroevo.data.Dataset` is done in :mod:`neuroevo.data.loading`.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDX_DTYPES", "read_idx", "find_idx_files", "read_idx_split", "write_idx"]

#: IDX type code -> numpy dtype (big-endian, as stored in the file).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """Returns the (decompressed) content of ``path``.

    Raises:
        ValueError: The file looks gzip-compressed but is corrupt or truncated.
    """
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({err})") from err


def read_idx(path: str | Path) -> np.ndarray:
    """Reads one IDX file (raw or gzip-compressed).

    Args:
        path: File to read.

    Returns:
        The array stored in the file, with the shape given by its header and a
        native-byte-order dtype (uint8 for MNIST images and labels).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file is not IDX (bad magic number or type code), is
            truncated, or has bytes beyond what its header announces. The
            message names the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file: only {len(data)} bytes, the 4-byte magic number is missing")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number starts with {data[:2].hex(' ')}, expected 00 00"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise ValueError(f"{path}: not an IDX file: unknown type code 0x{type_code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header announces 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header_size} bytes, file has {len(data)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found < expected:
        raise ValueError(
            f"{path}: truncated IDX file: header announces shape {dims} ({expected} bytes of data), "
            f"found {found} bytes"
        )
    if found > expected:
        raise ValueError(
            f"{path}: IDX file has {found - expected} unexpected trailing bytes after the data "
            f"announced by its header (shape {dims})"
        )
    values = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header_size)
    return values.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def _split_prefixes(split: str) -> tuple[str, ...]:
    if split == "train":
        return ("train",)
    if split == "test":
        return ("t10k", "test")
    raise ValueError(f"unknown split {split!r}: expected 'train' or 'test'")


def _pick_one(folder: Path, split: str, kind: str, candidates: list[Path]) -> Path:
    """Chooses the single ``kind`` ('images'/'labels') file among candidates.

    A raw file and its ``.gz`` twin (as torchvision leaves them) count as one
    candidate; the raw one is preferred.
    """
    by_stem: dict[str, list[Path]] = {}
    for candidate in candidates:
        stem = candidate.name[:-3] if candidate.name.lower().endswith(".gz") else candidate.name
        by_stem.setdefault(stem, []).append(candidate)
    if len(by_stem) > 1:
        names = ", ".join(sorted(c.name for c in candidates))
        raise ValueError(
            f"{folder}: several IDX {kind} files match split {split!r}: {names}; "
            "keep only one per split in the folder"
        )
    (group,) = by_stem.values()
    return min(group, key=lambda p: (p.name.lower().endswith(".gz"), p.name))


def find_idx_files(folder: str | Path, split: str) -> tuple[Path, Path]:
    """Finds the images and labels IDX files of one split in a folder.

    A file belongs to split ``"train"`` if its name starts with ``train``, to
    ``"test"`` if it starts with ``t10k`` or ``test`` (case-insensitive); it
    must contain ``idx`` and ``images`` or ``labels``. Examples:
    ``train-images-idx3-ubyte``, ``train-5k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz``.

    Args:
        folder: Folder to search (not recursively).
        split: ``"train"`` or ``"test"``.

    Returns:
        ``(images_path, labels_path)``.

    Raises:
        ValueError: Unknown split, or several files match.
        FileNotFoundError: The folder does not exist or lacks a needed file;
            the message names the folder, the missing files and what it holds.
    """
    folder = Path(folder)
    prefixes = _split_prefixes(split)
    if not folder.is_dir():
        raise FileNotFoundError(f"IDX folder {folder} does not exist")
    found: dict[str, list[Path]] = {"images": [], "labels": []}
    for entry in sorted(folder.iterdir()):
        lower = entry.name.lower()
        if not entry.is_file() or not lower.startswith(prefixes) or "idx" not in lower:
            continue
        for kind, files in found.items():
            if kind in lower:
                files.append(entry)
    missing = [kind for kind, files in found.items() if not files]
    if missing:
        pattern = " or ".join(f"{p}-*" for p in prefixes)
        wanted = ", ".join(f"{kind} ({pattern}{kind}*idx*)" for kind in missing)
        present = sorted(e.name for e in folder.iterdir())
        listing = ", ".join(present[:20]) + (f", ... ({len(present)} entries)" if len(present) > 20 else "")
        raise FileNotFoundError(
            f"{folder}: no IDX {wanted} file for split {split!r}; folder holds: {listing or 'nothing'}"
        )
    return (
        _pick_one(folder, split, "images", found["images"]),
        _pick_one(folder, split, "labels", found["labels"]),
    )


def read_idx_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads and checks one split of an IDX folder.

    Args:
        folder: Folder holding the IDX files (see :func:`find_idx_files`).
        split: ``"train"`` or ``"test"``.

    Returns:
        ``(images, labels)``: images uint8 ``[N, H, W]`` (pixel values 0..255),
        labels int64 ``[N]`` (non-negative class indices).

    Raises:
        ValueError: Images are not a 3-d uint8 array, labels are not a 1-d
            integer array, counts differ, or a label is negative.
        FileNotFoundError: See :func:`find_idx_files`.
    """
    images_path, labels_path = find_idx_files(folder, split)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected unsigned-byte images of shape [N, H, W], got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"{labels_path}: expected integer labels of shape [N], got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"{folder}: {images_path.name} holds {len(images)} images but {labels_path.name} holds {len(labels)} labels"
        )
    labels = labels.astype(np.int64)
    if len(labels) and labels.min() < 0:
        raise ValueError(f"{labels_path}: negative label {int(labels.min())}")
    return images, labels


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool = True) -> Path:
    """Writes ``array`` as an IDX file, gzip-compressed by default, atomically.

    The gzip stream records no file name and a zero time stamp, so the same
    array always gives the same bytes.

    Args:
        path: File to write (its folder must exist).
        array: Any shape with at least one dimension, of a dtype in
            :data:`IDX_DTYPES` (any byte order).
        compress: Write a gzip stream (level 9) instead of raw IDX.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``array`` has no dimension, more than 255, or a dtype IDX
            cannot hold.
    """
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot hold dtype {array.dtype}; use one of {', '.join(map(str, codes))}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got an array of shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    data = gzip.compress(payload, compresslevel=9, mtime=0) if compress else payload
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return path
