"""Safe reader for CIFAR-10 in its own python batch format.

The official ``cifar-10-python.tar.gz`` unpacks to ``cifar-10-batches-py/``
holding ``data_batch_1`` .. ``data_batch_5`` (training, 10,000 images each),
``test_batch`` (10,000 images) and ``batches.meta``. Each batch is a pickled
dict with ``b"data"`` (uint8 ``[N, 3072]``: 1024 red, then 1024 green, then
1024 blue values of a 32x32 image in row-major order) and ``b"labels"`` (list of
``N`` ints in 0..9).

Unpickling can run arbitrary code, so batches are read with
:class:`RestrictedUnpickler`, which resolves only the globals numpy needs to
rebuild arrays plus a few builtin containers, and refuses everything else.
"""

from __future__ import annotations

import importlib
import io
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CIFAR_FOLDER_NAME",
    "UnsafePickleError",
    "RestrictedUnpickler",
    "safe_load_pickle",
    "read_cifar_batch",
    "find_cifar_folder",
    "read_cifar_split",
]

#: Folder name the official archive (and torchvision) unpack to.
CIFAR_FOLDER_NAME = "cifar-10-batches-py"

_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_BATCHES = ("test_batch",)

# (module, name) pairs a pickle may reference. numpy 1.x names its private
# core package ``numpy.core``, numpy 2.x ``numpy._core``; both are accepted.
_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        # protocol <= 2 pickles written by Python 3 store bytes this way
        ("_codecs", "encode"),
    }
    | {
        (module, name)
        for module in ("builtins", "__builtin__")
        for name in ("list", "dict", "tuple", "set", "frozenset", "bytes", "bytearray")
    }
)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle referenced a global that :class:`RestrictedUnpickler` refuses."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays and builtin containers.

    Args:
        file: Binary file object holding the pickle.
        source: Name used in error messages (usually the file path).
        **kwargs: Passed on to :class:`pickle.Unpickler` (e.g. ``encoding``).
    """

    def __init__(self, file: io.BufferedIOBase, *, source: str = "<pickle>", **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        """Resolves ``module.name`` if it is on the allow-list.

        Raises:
            UnsafePickleError: The global is not on the allow-list.
        """
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"{self._source}: refusing to load global '{module}.{name}': only numpy arrays and "
                "builtin containers are allowed in data pickles (the file may be malicious or not a CIFAR batch)"
            )
        if module == "__builtin__":
            module = "builtins"
        elif module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core.") :]
        return getattr(importlib.import_module(module), name)


def safe_load_pickle(path: str | Path) -> Any:
    """Unpickles a file with :class:`RestrictedUnpickler`.

    Strings pickled by Python 2 (as in the official CIFAR files) come back
    as ``bytes`` (``encoding="bytes"``), so dict keys are ``b"data"`` etc.

    Raises:
        UnsafePickleError: The pickle references a refused global.
        ValueError: The file is not a readable pickle.
    """
    path = Path(path)
    with path.open("rb") as handle:
        try:
            return RestrictedUnpickler(handle, source=str(path), encoding="bytes").load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
            raise ValueError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from err


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads one CIFAR-10 batch file.

    Returns:
        ``(images, labels)``: images uint8 ``[N, 3, 32, 32]`` (0..255, RGB),
        labels int64 ``[N]`` in 0..9.

    Raises:
        UnsafePickleError: See :func:`safe_load_pickle`.
        ValueError: The content is not a CIFAR-10 batch (missing keys, wrong
            shapes or dtype, label out of range); the message names the file.
    """
    path = Path(path)
    batch = safe_load_pickle(path)
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    missing = [key for key in ("data", "labels") if key not in batch]
    if missing:
        raise ValueError(f"{path}: CIFAR batch lacks key(s) {missing}; has {sorted(map(str, batch))}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        shape = getattr(data, "shape", None)
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape [N, 3072], got {type(data).__name__} {shape}")
    labels = np.asarray(batch["labels"])
    if labels.ndim != 1 or len(labels) != len(data) or (len(labels) and labels.dtype.kind not in "iu"):
        raise ValueError(f"{path}: 'labels' must hold {len(data)} integers, got shape {labels.shape} {labels.dtype}")
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must lie in 0..9, found {int(labels.min())}..{int(labels.max())}")
    return data.reshape(-1, 3, 32, 32), labels


def find_cifar_folder(folder: str | Path) -> Path | None:
    """Returns the CIFAR batch folder at or directly below ``folder``, if any.

    ``folder`` itself qualifies if it holds ``data_batch_*`` or ``test_batch``
    files; otherwise its subfolder ``cifar-10-batches-py`` is tried.
    """
    folder = Path(folder)
    for candidate in (folder, folder / CIFAR_FOLDER_NAME):
        if candidate.is_dir() and any(
            re.fullmatch(r"data_batch_\d+|test_batch", entry.name) for entry in candidate.iterdir()
        ):
            return candidate
    return None


def read_cifar_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads the train (``data_batch_1..5``) or test (``test_batch``) split.

    Args:
        folder: A ``cifar-10-batches-py`` folder.
        split: ``"train"`` or ``"test"``.

    Returns:
        ``(images, labels)`` as in :func:`read_cifar_batch`, batches concatenated
        in file order.

    Raises:
        ValueError: Unknown split, or a batch is malformed.
        FileNotFoundError: A needed batch file is missing; names the folder and
            the missing files.
    """
    folder = Path(folder)
    if split == "train":
        names = _TRAIN_BATCHES
    elif split == "test":
        names = _TEST_BATCHES
    else:
        raise ValueError(f"unknown split {split!r}: expected 'train' or 'test'")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: CIFAR-10 folder lacks {', '.join(missing)} (needed for split {split!r})")
    parts = [read_cifar_batch(folder / name) for name in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
