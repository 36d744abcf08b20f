"""The data set shipped with the package: usable by name with no network and no data folder.

``mnist-small`` (:data:`BUILTIN_DATASET`): 5,000 MNIST training images (500 per class) and
MNIST's official 10,000-image test split, as gzip IDX files in the package data folder
``neuroevo/data/builtin/mnist-small/`` (with their README and licence: MNIST by Yann LeCun,
Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0). :func:`neuroevo.data.load_dataset`
reads it by name.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUILTIN_DATASET", "BUILTIN_DATASETS", "builtin_folder"]

#: The built-in data set: the default data of ``neuroevo train``, ``evolve`` and ``sweep``.
BUILTIN_DATASET = "mnist-small"

#: Every built-in data set -> the known data set whose normalisation constants and classes it uses.
BUILTIN_DATASETS: dict[str, str] = {BUILTIN_DATASET: "mnist"}

_FOLDER = Path(__file__).resolve().parent / "builtin"


def builtin_folder(name: str) -> Path:
    """The folder holding built-in data set ``name``'s IDX files.

    Raises:
        ValueError: ``name`` is not a built-in data set.
        FileNotFoundError: The package was installed without its data files.
    """
    if name not in BUILTIN_DATASETS:
        raise ValueError(f"{name!r} is not a built-in data set ({', '.join(BUILTIN_DATASETS)})")
    folder = _FOLDER / name
    if not folder.is_dir():
        raise FileNotFoundError(
            f"the built-in data set {name} is missing from this installation ({folder}); "
            "reinstall neuroevo (pip install .) to get its package data"
        )
    return folder
