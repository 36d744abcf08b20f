"""``load_dataset``: known data sets (via torchvision) and local folders.

Sources, chosen by ``name_or_folder``:

* ``"mnist-small"`` (:data:`~neuroevo.data.builtin_sets.BUILTIN_DATASET`): the data set shipped
  with the package (5,000 MNIST training images, the official 10,000 test images), read from the
  package's own files: no network, no ``root``.
* ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"`` (case-insensitive; also
  ``"fashion_mnist"``, ``"fashionmnist"``, ``"cifar-10"``): read from
  ``root`` in torchvision's layout (``<root>/MNIST/raw``,
  ``<root>/FashionMNIST/raw``, ``<root>/cifar-10-batches-py``), downloaded
  there by torchvision if ``download=True``. ``root`` defaults to
  ``$NEUROEVO_DATA`` or ``~/.cache/neuroevo/data``. A known (or built-in) name wins over a
  folder of the same name in the working directory: write ``./mnist`` (or pass
  a ``pathlib.Path``, which is always taken as a folder) for that.
* Any other string is a folder path: a folder of CIFAR-10 python batches (or
  one holding ``cifar-10-batches-py/``) gives a data set named ``"cifar10"``;
  otherwise the folder (or its ``raw/`` subfolder, as torchvision lays it out)
  must hold IDX files (see :func:`neuroevo.data.idx.find_idx_files`) and the
  data set is named ``"idx:<folder name>"``.

Standardisation: pixels are scaled to [0, 1], then standardised per channel
with fixed constants (:data:`NORMALISATION`). A folder whose name is ``mnist``
or ``fashion-mnist`` (ignoring case, ``-`` and ``_``; torchvision's ``MNIST``
and ``FashionMNIST`` too) uses that data set's constants and 10 classes. Any
other IDX folder uses the mean and standard deviation of all pixels of its
train split (of the loaded split if the folder has no train files), and
``n_classes = 1 + the largest train label``.

All files are read fully into memory; images are uint8 on disk, float32
``[N, C, H, W]`` in the returned :class:`~neuroevo.data.Dataset`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from neuroevo.data.arrays import standardise
from neuroevo.data.builtin_sets import BUILTIN_DATASET, BUILTIN_DATASETS, builtin_folder
from neuroevo.data.cifar import CIFAR_FOLDER_NAME, find_cifar_folder, read_cifar_split
from neuroevo.data.dataset import Dataset
from neuroevo.data.errors import DataUnavailableError, DownloadError
from neuroevo.data.idx import read_idx_split
from neuroevo.validation import check_choice

__all__ = ["KNOWN_DATASETS", "NORMALISATION", "SPLITS", "default_data_root", "load_dataset"]

#: Canonical names accepted by :func:`load_dataset`: the built-in data set, then those torchvision fetches.
KNOWN_DATASETS: tuple[str, ...] = (*BUILTIN_DATASETS, "mnist", "fashion-mnist", "cifar10")

#: Splits accepted by :func:`load_dataset`.
SPLITS: tuple[str, ...] = ("train", "test")

#: Per-channel (mean, std) of the [0, 1]-scaled pixels of each known data set's train split.
NORMALISATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

_ALIASES = {
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}

# torchvision dataset class name -> the folder it uses under root.
_TORCHVISION_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def default_data_root() -> Path:
    """``$NEUROEVO_DATA`` if set, else ``~/.cache/neuroevo/data``."""
    env = os.environ.get("NEUROEVO_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "neuroevo" / "data"


def _standardise(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` -> float32 ``(x / 255 - mean[c]) / std[c]``."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)
    return standardise(pixels, mean, std, in_place=True)


def _make(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    name: str,
    split: str,
    n_classes: int,
    stats: tuple[tuple[float, ...], tuple[float, ...]],
    source: Path,
) -> Dataset:
    if len(labels) and int(labels.max()) >= n_classes:
        raise ValueError(f"{source}: label {int(labels.max())} out of range for {n_classes} classes ({name}, {split})")
    mean, std = stats
    return Dataset(
        images=_standardise(images, mean, std),
        labels=torch.from_numpy(labels.astype(np.int64)),
        name=name,
        split=split,
        n_classes=n_classes,
        mean=tuple(mean),
        std=tuple(std),
    )


def _recognise(folder_name: str) -> str | None:
    key = folder_name.lower().replace("-", "").replace("_", "")
    return {"mnist": "mnist", "fashionmnist": "fashion-mnist"}.get(key)


def _pixel_stats(images: np.ndarray) -> tuple[tuple[float], tuple[float]]:
    mean = float(images.mean(dtype=np.float64)) / 255.0
    std = float(images.std(dtype=np.float64)) / 255.0
    return (mean,), (std if std > 0 else 1.0,)


def _has_idx(folder: Path) -> bool:
    return folder.is_dir() and any("idx" in entry.name.lower() for entry in folder.iterdir())


def _load_idx_folder(folder: Path, split: str, *, name: str, known: str | None) -> Dataset:
    images, labels = read_idx_split(folder, split)
    if known is not None:
        stats, n_classes = NORMALISATION[known], 10
    else:
        try:
            ref_images, ref_labels = (images, labels) if split == "train" else read_idx_split(folder, "train")
        except FileNotFoundError:
            ref_images, ref_labels = images, labels
        stats = _pixel_stats(ref_images)
        n_classes = int(ref_labels.max()) + 1 if len(ref_labels) else 1
    return _make(
        images[:, None], labels, name=name, split=split, n_classes=n_classes, stats=stats, source=folder
    )


def _load_folder(folder: Path, split: str) -> Dataset:
    cifar = find_cifar_folder(folder)
    if cifar is not None:
        images, labels = read_cifar_split(cifar, split)
        return _make(
            images, labels, name="cifar10", split=split, n_classes=10, stats=NORMALISATION["cifar10"], source=cifar
        )
    idx_folder = folder / "raw" if not _has_idx(folder) and _has_idx(folder / "raw") else folder
    return _load_idx_folder(idx_folder, split, name=f"idx:{folder.name}", known=_recognise(folder.name))


def _missing(name: str, folder: Path, err: Exception) -> DataUnavailableError:
    layout = _TORCHVISION_CLASS[name] + "/raw" if name != "cifar10" else CIFAR_FOLDER_NAME
    return DataUnavailableError(name, folder, str(err), layout)


def _download(name: str, root: Path) -> None:
    """Fetches ``name`` into ``root`` in torchvision's layout (no-op if present)."""
    import torchvision  # imported lazily: only needed to download

    root.mkdir(parents=True, exist_ok=True)
    try:
        if name == "cifar10":
            # Only torchvision's download is used: its CIFAR10 class would unpickle
            # the batches unrestricted, so the files are read by our safe reader.
            cls = torchvision.datasets.CIFAR10
            if find_cifar_folder(root / cls.base_folder) is None:
                torchvision.datasets.utils.download_and_extract_archive(
                    cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5
                )
        else:
            getattr(torchvision.datasets, _TORCHVISION_CLASS[name])(str(root), train=True, download=True)
    except Exception as err:  # network errors come in many types
        raise DownloadError(name, root, str(err)) from err


def _load_known(name: str, split: str, root: Path, download: bool) -> Dataset:
    if download:
        _download(name, root)
    if name == "cifar10":
        folder = root / CIFAR_FOLDER_NAME
        try:
            images, labels = read_cifar_split(folder, split)
        except FileNotFoundError as err:
            raise _missing(name, folder, err) from err
        return _make(images, labels, name=name, split=split, n_classes=10, stats=NORMALISATION[name], source=folder)
    folder = root / _TORCHVISION_CLASS[name] / "raw"
    try:
        images, labels = read_idx_split(folder, split)
    except FileNotFoundError as err:
        raise _missing(name, folder, err) from err
    return _make(
        images[:, None], labels, name=name, split=split, n_classes=10, stats=NORMALISATION[name], source=folder
    )


def load_dataset(
    name_or_folder: str | Path,
    split: str = "train",
    *,
    root: str | Path | None = None,
    download: bool = False,
) -> Dataset:
    """Loads a whole data set split into CPU tensors.

    Args:
        name_or_folder: A known name (:data:`KNOWN_DATASETS`: the built-in
            ``"mnist-small"`` or one torchvision fetches) or a folder of IDX
            files or CIFAR-10 python batches (see the module docstring).
        split: ``"train"`` or ``"test"``.
        root: Where downloadable data sets live / are downloaded to; default
            :func:`default_data_root`. Ignored for folders and the built-in set.
        download: Fetch a downloadable data set with torchvision if it is
            missing (needs internet). Ignored for folders and the built-in set.

    Returns:
        The split as a :class:`~neuroevo.data.Dataset` on the CPU: images
        float32 ``[N, C, H, W]`` standardised, labels int64 ``[N]``.

    Raises:
        ValueError: Unknown split; ``name_or_folder`` is neither a known name
            nor an existing folder (the message lists the known names and the
            built-in one); a file is malformed (the message names it).
        FileNotFoundError: The data set's files are missing (a known name's:
            :class:`~neuroevo.data.errors.DataUnavailableError`, whose message
            names the folder, the missing files and how to fix it).
        RuntimeError: ``download=True`` but the download failed
            (:class:`~neuroevo.data.errors.DownloadError`).
    """
    check_choice("split", split, SPLITS)
    key = str(name_or_folder).strip().lower()
    if not isinstance(name_or_folder, Path) and key in BUILTIN_DATASETS:
        return _load_idx_folder(builtin_folder(key), split, name=key, known=BUILTIN_DATASETS[key])
    if not isinstance(name_or_folder, Path) and key in _ALIASES:
        name = _ALIASES[key]
        return _load_known(name, split, Path(root).expanduser() if root is not None else default_data_root(), download)
    folder = Path(name_or_folder).expanduser()
    if folder.is_dir():
        return _load_folder(folder, split)
    what = "a file, not a folder" if folder.exists() else "not an existing folder"
    raise ValueError(
        f"unknown data set {str(name_or_folder)!r}: {what}, and not a known name "
        f"({', '.join(KNOWN_DATASETS)}; {BUILTIN_DATASET} is built in and needs no download)"
    )
