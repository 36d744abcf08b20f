"""Checking and converting a user's arrays (numpy or torch) into the tensors of a data set.

Used by :meth:`neuroevo.data.Dataset.from_arrays`; the file loaders use :func:`standardise` too,
so data from files and from arrays are scaled the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuroevo.validation import check_int

__all__ = ["as_labels", "as_samples", "feature_statistics", "standardise"]


def _tensor(value: Any, what: str) -> Tensor:
    """``value`` as a tensor (numpy arrays and nested sequences copied to the CPU; tensors kept)."""
    if isinstance(value, Tensor):
        return value.detach()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric arrays or tensors, got dtype {array.dtype}")
    return torch.tensor(array)


def as_samples(x: Any) -> Tensor:
    """The samples of ``x`` as float32: images ``[N, C, H, W]`` or feature vectors ``[N, F]``.

    ``[N, H, W]`` is taken as one-channel images (``[N, 1, H, W]``). uint8 values are pixels and
    are scaled to ``[0, 1]`` (as the file loaders do); other values are kept as they are.

    Args:
        x: numpy array, tensor or nested sequence, ``[N, F]``, ``[N, H, W]`` or ``[N, C, H, W]``.

    Returns:
        float32 tensor on ``x``'s device (the CPU for numpy); ``x`` itself when it already is one.

    Raises:
        TypeError: Not numeric (booleans included).
        ValueError: Another number of dimensions, no samples, or a NaN or infinite value (the
            message counts them and gives the first sample holding one).
    """
    samples = _tensor(x, "samples")
    if samples.dtype == torch.bool or samples.is_complex():
        raise TypeError(f"samples must be real numbers, got {samples.dtype}")
    if samples.dim() not in (2, 3, 4):
        raise ValueError(
            f"samples must be feature vectors [N, F] or images [N, H, W] / [N, C, H, W], got shape {tuple(samples.shape)}"
        )
    if samples.shape[0] == 0 or samples[0].numel() == 0:
        raise ValueError(f"samples of shape {tuple(samples.shape)} hold no values")
    if samples.dim() == 3:
        samples = samples.unsqueeze(1)
    samples = samples.to(torch.float32) / 255.0 if samples.dtype == torch.uint8 else samples.to(torch.float32)
    finite = torch.isfinite(samples).flatten(1).all(dim=1)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite).flatten()
        raise ValueError(
            f"samples hold NaN or infinite values in {len(bad)} of {len(samples)} samples (first: sample {int(bad[0])})"
        )
    return samples


def as_labels(y: Any, n: int, n_classes: int | None) -> tuple[Tensor, int]:
    """Class labels as int64 ``[n]`` and the number of classes.

    Args:
        y: numpy array, tensor or sequence ``[n]`` of integers (integer-valued floats accepted).
        n: number of samples they label.
        n_classes: classes; ``None``: one more than the largest label.

    Returns:
        ``(labels int64 [n] on y's device, n_classes)``.

    Raises:
        TypeError: Not numeric, or booleans.
        ValueError: Not one label per sample, a non-integer, negative or NaN label, a label
            ``>= n_classes`` (the message names the offending value and its index), or an
            ``n_classes`` that is not a positive integer.
    """
    labels = _tensor(y, "labels")
    if labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"labels must be integer class indices, got {labels.dtype}")
    if labels.dim() != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must be one per image or feature vector: {n} samples, labels of shape {tuple(labels.shape)}")
    if labels.is_floating_point():
        whole = torch.isfinite(labels) & (labels == labels.round())
        if not bool(whole.all()):
            index = int(torch.nonzero(~whole)[0])
            raise ValueError(f"labels must be integer class indices; label {index} is {float(labels[index])}")
    labels = labels.to(torch.int64)
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise ValueError(f"labels must be >= 0; label {int(torch.argmin(labels))} is {low}")
    if n_classes is None:
        n_classes = high + 1
    elif high >= check_int("n_classes", n_classes):
        raise ValueError(f"label {int(torch.argmax(labels))} is {high}, out of range for {n_classes} classes")
    return labels, n_classes


def feature_statistics(samples: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (images ``[N, C, H, W]``) or per-feature (``[N, F]``) mean and standard
    deviation; a constant channel or feature gets standard deviation 1 (it is only centred)."""
    dims = (0, 2, 3) if samples.dim() == 4 else (0,)
    mean = samples.double().mean(dim=dims)
    std = samples.double().std(dim=dims, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return tuple(mean.tolist()), tuple(std.tolist())


def standardise(samples: Tensor, mean: Sequence[float], std: Sequence[float], *, in_place: bool = False) -> Tensor:
    """``(samples - mean) / std`` per channel (images ``[N, C, H, W]``) or per feature (``[N, F]``).

    Args:
        samples: float tensor.
        mean, std: one value per channel / feature.
        in_place: overwrite ``samples`` (for a fresh tensor of the caller's own) instead of
            returning a new tensor.

    Raises:
        ValueError: ``mean`` and ``std`` are not one value per channel / feature, or a standard
            deviation is not positive and finite.
    """
    width = samples.shape[1]
    if len(mean) != width or len(std) != width:
        kind = "channel" if samples.dim() == 4 else "feature"
        raise ValueError(f"mean and std need one value per {kind} ({width}), got {len(mean)} and {len(std)}")
    std_tensor = torch.tensor(std, dtype=torch.float32, device=samples.device)
    if not bool(torch.isfinite(std_tensor).all() and (std_tensor > 0).all()):
        raise ValueError(f"std must be positive and finite, got {tuple(std)}")
    shape = (1, -1, 1, 1) if samples.dim() == 4 else (1, -1)
    mean_tensor = torch.tensor(mean, dtype=torch.float32, device=samples.device).view(shape)
    if in_place:
        return samples.sub_(mean_tensor).div_(std_tensor.view(shape))
    return (samples - mean_tensor) / std_tensor.view(shape)
