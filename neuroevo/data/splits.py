"""Deterministic train / holdout splits of a :class:`~neuroevo.data.Dataset`."""

from __future__ import annotations

import math
import numbers

import torch

from neuroevo.data.dataset import Dataset

__all__ = ["holdout_count", "stratified_indices", "train_holdout_split"]


def holdout_count(holdout: int | float, n: int) -> int:
    """Number of holdout samples out of ``n`` for a count or a fraction.

    Args:
        holdout: A count (int, ``1 <= holdout < n``) or a fraction (float in
            ``(0, 1)``, rounded to the nearest count, which must also leave
            both parts non-empty).
        n: Size of the data set.

    Raises:
        ValueError: ``holdout`` is not a valid count or fraction for ``n``.
    """
    if isinstance(holdout, bool) or not isinstance(holdout, numbers.Real):
        raise ValueError(f"holdout must be an int count or a float fraction, got {holdout!r}")
    if isinstance(holdout, numbers.Integral):
        count = int(holdout)
        if not 1 <= count < n:
            raise ValueError(f"holdout count {holdout!r} must be in [1, {n - 1}] for a data set of {n} samples")
        return count
    fraction = float(holdout)
    if not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise ValueError(f"holdout fraction {holdout!r} must be in (0, 1)")
    count = round(fraction * n)
    if not 1 <= count < n:
        raise ValueError(f"holdout fraction {holdout!r} of {n} samples gives {count}, leaving a part empty")
    return count


def stratified_indices(labels: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Picks ``count`` indices at random with class proportions as in ``labels``.

    Each class gets ``count * n_c / N`` samples, rounded down, and the remaining
    slots go to the classes with the largest remainders (ties: lower class).

    Args:
        labels: CPU int64 ``[N]``.
        count: How many to pick, ``0 <= count <= N``.
        generator: Source of randomness (CPU).

    Returns:
        int64 ``[count]`` distinct indices, grouped by class (not sorted).
    """
    classes, sizes = torch.unique(labels, return_counts=True)
    exact = sizes.double() * count / len(labels)
    quota = exact.floor().long()
    remainder = exact - quota
    order = sorted(range(len(classes)), key=lambda i: (-float(remainder[i]), i))
    for i in order[: count - int(quota.sum())]:
        quota[i] += 1
    picked = []
    for cls, k in zip(classes.tolist(), quota.tolist()):
        members = torch.nonzero(labels == cls).flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.cat(picked)


def train_holdout_split(
    dataset: Dataset,
    holdout: int | float,
    *,
    seed: int,
    stratify: bool = False,
) -> tuple[Dataset, Dataset]:
    """Splits a data set into a training part and a holdout part.

    The split depends only on ``len(dataset)``, ``holdout``, ``seed`` (and the
    labels, if ``stratify``): it uses its own ``torch.Generator`` seeded with
    ``seed`` on the CPU, never the global RNG. Both parts keep the original
    sample order and stay on the data set's device.

    Args:
        dataset: Data set to split, ``N`` samples.
        holdout: Holdout size as a count (int) or a fraction of ``N`` (float
            in ``(0, 1)``); see :func:`holdout_count`.
        seed: Seed of the random choice.
        stratify: Keep class proportions in the holdout part (per-class counts
            rounded so that they sum to the requested size).

    Returns:
        ``(train_part, holdout_part)``, disjoint, covering the data set. Their
        ``split`` is ``"<split>-minus-holdout"`` and ``"holdout"`` (or
        ``"<split>-holdout"`` if the source split is not ``"train"``).

    Raises:
        ValueError: Invalid ``holdout`` (the message names the value).
    """
    n = len(dataset)
    count = holdout_count(holdout, n)
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    if stratify:
        held = stratified_indices(dataset.labels.cpu(), count, generator)
    else:
        held = torch.randperm(n, generator=generator)[:count]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[held] = True
    train_index = torch.nonzero(~mask).flatten()
    holdout_index = torch.nonzero(mask).flatten()
    holdout_name = "holdout" if dataset.split == "train" else f"{dataset.split}-holdout"
    return (
        dataset.subset(train_index, f"{dataset.split}-minus-holdout"),
        dataset.subset(holdout_index, holdout_name),
    )
