"""The :class:`Dataset` container: a whole labelled image data set as tensors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch

__all__ = ["Dataset"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A whole labelled image data set held as two tensors.

    Data sets here are small enough to live entirely in (GPU) memory: move
    them once with :meth:`to` and iterate with :meth:`batches`, which slices
    the tensors by index (no DataLoader, no per-batch copies from the host).

    Attributes:
        images: float32 ``[N, C, H, W]``, standardised per channel:
            ``(pixel / 255 - mean[c]) / std[c]``.
        labels: int64 ``[N]``, class indices in ``0 .. n_classes - 1``.
        name: Where the data comes from: ``"mnist"``, ``"fashion-mnist"``,
            ``"cifar10"``, or ``"idx:<folder name>"`` for a local IDX folder.
        split: Human-readable description of which samples these are, e.g.
            ``"train"``, ``"test"``, ``"holdout"``, ``"train-minus-holdout"``.
        n_classes: Number of classes.
        mean: Per-channel mean subtracted from the [0, 1]-scaled pixels
            (length ``C``); ``(0.0,)`` if unknown / not standardised.
        std: Per-channel divisor applied after subtracting ``mean``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    split: str
    n_classes: int
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or not self.images.is_floating_point():
            raise ValueError(
                f"images must be a floating-point [N, C, H, W] tensor, got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.ndim != 1 or self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be an int64 [N] tensor, got {self.labels.dtype} {tuple(self.labels.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.images.device != self.labels.device:
            raise ValueError(f"images on {self.images.device} but labels on {self.labels.device}")
        if self.n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {self.n_classes}")

    def __len__(self) -> int:
        """Number of samples ``N``."""
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)}, input_shape={self.input_shape}, "
            f"n_classes={self.n_classes}, device={self.device})"
        )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of one image."""
        c, h, w = self.images.shape[1:]
        return (int(c), int(h), int(w))

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
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
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
