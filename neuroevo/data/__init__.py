"""Image data sets for neuroevo, held whole as (device) tensors.

Typical use::

    from neuroevo.data import load_dataset, train_holdout_split

    train = load_dataset("mnist", "train", download=True)     # or a local IDX folder
    train, holdout = train_holdout_split(train, 0.1, seed=0)
    train = train.to("cuda")
    for images, labels in train.batches(256, shuffle=True, generator=g):
        ...

Modules: :mod:`~neuroevo.data.dataset` (the :class:`Dataset` container),
:mod:`~neuroevo.data.loading` (:func:`load_dataset`, standardisation constants),
:mod:`~neuroevo.data.idx` (IDX reader), :mod:`~neuroevo.data.cifar` (safe
CIFAR-10 batch reader), :mod:`~neuroevo.data.splits` (train / holdout splits).
"""

from neuroevo.data.cifar import RestrictedUnpickler, UnsafePickleError, read_cifar_batch, safe_load_pickle
from neuroevo.data.dataset import Dataset
from neuroevo.data.idx import find_idx_files, read_idx
from neuroevo.data.loading import KNOWN_DATASETS, NORMALISATION, SPLITS, default_data_root, load_dataset
from neuroevo.data.splits import holdout_count, train_holdout_split

__all__ = [
    "Dataset",
    "KNOWN_DATASETS",
    "NORMALISATION",
    "SPLITS",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "default_data_root",
    "find_idx_files",
    "holdout_count",
    "load_dataset",
    "read_cifar_batch",
    "read_idx",
    "safe_load_pickle",
    "train_holdout_split",
]
