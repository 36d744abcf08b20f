"""The :class:`Dataset` container: a whole labelled data set (images or feature vectors) as
tensors, made from files (:func:`~neuroevo.data.load_dataset`) or from a user's arrays
(:meth:`Dataset.from_arrays`); :func:`as_dataset` is the one entry every function that takes data
passes its argument through."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any, Union

import torch

from neuroevo.data.arrays import as_labels, as_samples, feature_statistics
from neuroevo.data.arrays import standardise as standardise_samples
from neuroevo.validation import check_int

__all__ = ["DataLike", "Dataset", "as_dataset"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A whole labelled data set held as two tensors: images or flat feature vectors.

    Data sets here are small enough to live entirely in (GPU) memory: move
    them once with :meth:`to` and iterate with :meth:`batches`, which slices
    the tensors by index (no DataLoader, no per-batch copies from the host).

    Attributes:
        images: The samples, floating point: images ``[N, C, H, W]`` (for
            data from files, standardised per channel:
            ``(pixel / 255 - mean[c]) / std[c]``) or feature vectors
            ``[N, F]`` (for dense networks of ``F`` inputs).
        labels: int64 ``[N]``, class indices in ``0 .. n_classes - 1``.
        name: Where the data comes from: ``"mnist-small"``, ``"mnist"``,
            ``"fashion-mnist"``, ``"cifar10"``, ``"idx:<folder name>"`` for a
            local IDX folder, ``"arrays"`` for a user's arrays.
        split: Human-readable description of which samples these are, e.g.
            ``"train"``, ``"test"``, ``"holdout"``, ``"train-minus-holdout"``.
        n_classes: Number of classes.
        mean: Per-channel (per-feature for ``[N, F]``) mean subtracted from
            the source values (pixels scaled to [0, 1]); ``(0.0,)`` if not
            standardised.
        std: Per-channel (per-feature) divisor applied after subtracting
            ``mean``; ``(1.0,)`` if not standardised.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    split: str
    n_classes: int
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.images.ndim not in (2, 4) or not self.images.is_floating_point():
            raise ValueError(
                "images must be a floating-point tensor of images [N, C, H, W] or feature vectors [N, F], "
                f"got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.ndim != 1 or self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be an int64 [N] tensor, got {self.labels.dtype} {tuple(self.labels.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.images.device != self.labels.device:
            raise ValueError(f"images on {self.images.device} but labels on {self.labels.device}")
        check_int("n_classes", self.n_classes)

    def __len__(self) -> int:
        """Number of samples ``N``."""
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)}, input_shape={self.input_shape}, "
            f"n_classes={self.n_classes}, device={self.device})"
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(C, H, W)`` for images, ``(F,)`` for feature vectors."""
        return tuple(int(size) for size in self.images.shape[1:])

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        y: Any,
        *,
        standardise: bool = True,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        n_classes: int | None = None,
        name: str = "arrays",
        split: str = "train",
    ) -> Dataset:
        """A data set from a user's arrays (numpy arrays, tensors or nested sequences).

        Typical use, with the test part scaled by the training part's statistics::

            train = Dataset.from_arrays(x_train, y_train)
            test = Dataset.from_arrays(x_test, y_test, mean=train.mean, std=train.std, split="test")

        Args:
            x: Samples: feature vectors ``[N, F]``, one-channel images
                ``[N, H, W]`` or images ``[N, C, H, W]``, any real dtype
                (uint8 is taken as pixels and scaled to [0, 1] first).
            y: ``[N]`` class indices (integers, or floats with integer values).
            standardise: Standardise per channel (images) or per feature
                (vectors) with ``x``'s own mean and standard deviation, or with
                ``mean`` and ``std`` when given.
            mean, std: Statistics to standardise with (e.g. a training set's
                ``mean`` and ``std``), one value per channel or feature; both
                or neither.
            n_classes: Number of classes (default one more than the largest
                label; give it when a split may lack the last class).
            name, split: Recorded in results.

        Returns:
            A CPU data set for numpy input (on the tensors' device for tensor
            input): float32 ``[N, C, H, W]`` or ``[N, F]``, int64 labels. The
            arguments are never modified.

        Raises:
            ValueError: Samples of another rank, empty, or with NaN or infinite
                values; not one label per sample; non-integer, negative or
                out-of-range labels; ``n_classes`` not a positive integer;
                ``mean`` / ``std`` of the wrong length, one without the other, or
                given with ``standardise=False``.
            TypeError: Non-numeric or boolean arrays.
        """
        samples = as_samples(x)
        labels, n_classes = as_labels(y, len(samples), n_classes)
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        if mean is not None and not standardise:
            raise ValueError("mean and std are given but standardise=False")
        stats = ((0.0,), (1.0,))
        if standardise:
            stats = (tuple(map(float, mean)), tuple(map(float, std))) if mean is not None else feature_statistics(samples)
            samples = standardise_samples(samples, *stats)
        return cls(samples, labels.to(samples.device), name, split, n_classes, mean=stats[0], std=stats[1])

    @property
    def device(self) -> torch.device:
        """Device the tensors are on."""
        return self.images.device

    def to(self, device: torch.device | str) -> Dataset:
        """Returns the same data set with both tensors on ``device``."""
        return dataclasses.replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def subset(self, indices: torch.Tensor, split: str) -> Dataset:
        """Returns the samples at ``indices`` (int64 ``[M]``), renamed to ``split``."""
        indices = indices.to(self.device)
        return dataclasses.replace(self, images=self.images[indices], labels=self.labels[indices], split=split)

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Iterates over the data set in batches, on the data set's device.

        Args:
            batch_size: Samples per batch (the last batch may be smaller unless
                ``drop_last``).
            shuffle: Visit the samples in a random order (a fresh permutation
                per call); otherwise in stored order, as views without copies.
            generator: Source of randomness for ``shuffle``; its device is where
                the permutation is drawn. ``None`` uses torch's global RNG.
            drop_last: Skip a final batch smaller than ``batch_size``.

        Yields:
            ``(images [B, C, H, W], labels [B])``.

        Raises:
            ValueError: ``batch_size`` is not a positive integer.
        """
        check_int("batch_size", batch_size)
        n = len(self)
        stop = n - n % batch_size if drop_last else n
        if not shuffle:
            for start in range(0, stop, batch_size):
                yield self.images[start : start + batch_size], self.labels[start : start + batch_size]
            return
        perm_device = generator.device if generator is not None else self.device
        order = torch.randperm(n, generator=generator, device=perm_device).to(self.device)
        for start in range(0, stop, batch_size):
            index = order[start : start + batch_size]
            yield self.images[index], self.labels[index]


#: What every function that takes data accepts: a :class:`Dataset` or a pair ``(x, y)`` of arrays.
DataLike = Union[Dataset, tuple[Any, Any]]


def as_dataset(data: DataLike, *, n_classes: int | None = None) -> Dataset:
    """The one normaliser of data arguments: a :class:`Dataset` as it is, or a pair ``(x, y)``.

    A pair is converted by :meth:`Dataset.from_arrays` *without* standardisation (its values
    are taken as already prepared; use ``Dataset.from_arrays`` to standardise), named
    ``"arrays"``, split ``"pair"``. Tensors of the right dtypes are used without a copy.

    Args:
        data: A :class:`Dataset`, or a pair (tuple or list) ``(x, y)``: samples ``[N, F]``,
            ``[N, H, W]`` or ``[N, C, H, W]`` and labels ``[N]`` as numpy arrays or tensors.
        n_classes: Number of classes of a pair (e.g. the network's outputs); default one more
            than its largest label. Ignored for a :class:`Dataset`.

    Returns:
        A :class:`Dataset`.

    Raises:
        TypeError: ``data`` is neither a :class:`Dataset` nor a pair.
        ValueError: A malformed pair (see :meth:`Dataset.from_arrays`).
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
        return Dataset.from_arrays(x, y, standardise=False, n_classes=n_classes, split="pair")
    raise TypeError(f"data must be a Dataset or a pair (x, y) of arrays or tensors, got {type(data).__name__}")
