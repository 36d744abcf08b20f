"""Specialists: members trained on different parts of the data, for crossover to combine.

:func:`class_shards` splits a data set by class; :func:`specialist_population` makes an initial
population for :func:`populations.memetic.run_memetic` (``initial=...``) whose members descend from
one ancestor and were each trained further on one shard only, so that a crossover child of two
members of different shards holds neurons that neither parent had.
"""

from __future__ import annotations

from typing import Sequence

import torch

from neuroevo.data import Dataset
from neuroevo.genomes import Genome
from populations.individuals import individual_from_genome
from populations.learning import LamarckianTraining
from populations.memetic import MemeticSettings

__all__ = ["DEFAULT_CLASS_GROUPS", "class_shards", "specialist_population"]

#: Two halves of ten classes.
DEFAULT_CLASS_GROUPS: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))


def class_shards(dataset: Dataset, groups: Sequence[Sequence[int]]) -> list[Dataset]:
    """One data set per group of classes: the samples whose label is in the group (all classes
    keep their indices, so a network trained on a shard still has every output).

    Args:
        dataset: the data to split (not modified).
        groups: class indices per shard; each group non-empty, the groups disjoint.

    Returns:
        ``len(groups)`` data sets named ``<split>-classes-<a>-<b>...``.

    Raises:
        ValueError: no groups, an empty or overlapping group, a class outside
            ``0 .. n_classes - 1``, or a group with no samples.
    """
    if not groups:
        raise ValueError("class_shards needs at least one group of classes")
    seen: set[int] = set()
    shards = []
    for group in groups:
        classes = [int(c) for c in group]
        if not classes:
            raise ValueError("a class group is empty")
        bad = [c for c in classes if not 0 <= c < dataset.n_classes]
        if bad:
            raise ValueError(f"classes {bad} are outside 0 .. {dataset.n_classes - 1}")
        if seen & set(classes):
            raise ValueError(f"class groups overlap in {sorted(seen & set(classes))}")
        seen |= set(classes)
        mask = torch.isin(dataset.labels, torch.tensor(classes, device=dataset.labels.device))
        if not bool(mask.any()):
            raise ValueError(f"no samples of classes {classes} in {dataset.name} ({dataset.split})")
        name = f"{dataset.split}-classes-{'-'.join(map(str, classes))}"
        shards.append(dataset.subset(torch.nonzero(mask).flatten(), name))
    return shards


def specialist_population(
    root: Genome,
    train: Dataset,
    settings: MemeticSettings,
    *,
    specialist_steps: int = 100,
    groups: Sequence[Sequence[int]] = DEFAULT_CLASS_GROUPS,
) -> tuple[list[Genome], int]:
    """``settings.population`` copies of ``root``, member ``i`` trained ``specialist_steps`` Adam steps
    (:class:`~populations.learning.LamarckianTraining`, ``settings.lr``) on shard ``i % len(groups)``
    only, so consecutive members are specialists of different shards.

    Randomness (the batch orders) comes from Python's :mod:`random`.

    Returns:
        ``(members, gradient steps taken)`` (the steps counted by the training).

    Raises:
        ValueError: as :func:`class_shards`, or a non-positive ``specialist_steps``.
    """
    shards = class_shards(train, groups)
    learners = [LamarckianTraining(shard, steps=specialist_steps, batch_size=settings.batch_size, lr=settings.lr)
                for shard in shards]
    members = []
    for i in range(settings.population):
        member = individual_from_genome(root)
        learners[i % len(learners)](member)
        members.append(member)
    return members, sum(learner.gradient_steps for learner in learners)
