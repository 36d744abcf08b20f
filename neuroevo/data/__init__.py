"""Data sets for neuroevo, held whole as (device) tensors.

Typical use::

    from neuroevo.data import BUILTIN_DATASET, Dataset, load_dataset, train_holdout_split

    train = load_dataset(BUILTIN_DATASET, "train")      # "mnist-small": shipped, no download
    train = load_dataset("mnist", "train", download=True)  # or a known name, or a local IDX folder
    train = Dataset.from_arrays(x, y)                   # or your own numpy arrays / tensors
    train, holdout = train_holdout_split(train, 0.1, seed=0)
    train = train.to("cuda")
    for images, labels in train.batches(256, shuffle=True, generator=g):
        ...

Every function of neuroevo that takes data accepts a :class:`Dataset` or a pair ``(x, y)`` of
arrays, through :func:`as_dataset`.

Modules: :mod:`~neuroevo.data.dataset` (the :class:`Dataset` container, :func:`as_dataset`),
:mod:`~neuroevo.data.arrays` (checking and standardising a user's arrays),
:mod:`~neuroevo.data.loading` (:func:`load_dataset`, standardisation constants),
:mod:`~neuroevo.data.builtin_sets` (the shipped data set), :mod:`~neuroevo.data.errors` (errors
whose advice names the caller's controls), :mod:`~neuroevo.data.idx` (IDX reader and writer),
:mod:`~neuroevo.data.cifar` (safe CIFAR-10 batch reader), :mod:`~neuroevo.data.splits` (train /
holdout splits).
"""

from neuroevo.data.builtin_sets import BUILTIN_DATASET, BUILTIN_DATASETS, builtin_folder
from neuroevo.data.cifar import RestrictedUnpickler, UnsafePickleError, read_cifar_batch, safe_load_pickle
from neuroevo.data.dataset import DataLike, Dataset, as_dataset
from neuroevo.data.errors import PYTHON_WORDING, DataSourceError, DataUnavailableError, DownloadError, Wording
from neuroevo.data.idx import find_idx_files, read_idx, read_idx_split, write_idx
from neuroevo.data.loading import KNOWN_DATASETS, NORMALISATION, SPLITS, default_data_root, load_dataset
from neuroevo.data.splits import holdout_count, stratified_indices, train_holdout_split

__all__ = [
    "BUILTIN_DATASET",
    "BUILTIN_DATASETS",
    "DataLike",
    "DataSourceError",
    "DataUnavailableError",
    "Dataset",
    "DownloadError",
    "KNOWN_DATASETS",
    "NORMALISATION",
    "PYTHON_WORDING",
    "SPLITS",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "Wording",
    "as_dataset",
    "builtin_folder",
    "default_data_root",
    "find_idx_files",
    "holdout_count",
    "load_dataset",
    "read_cifar_batch",
    "read_idx",
    "read_idx_split",
    "safe_load_pickle",
    "stratified_indices",
    "train_holdout_split",
    "write_idx",
]
