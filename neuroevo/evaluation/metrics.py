"""Per-genome scores: accumulated chunk by chunk, reported as tensors and as DEAP fitness tuples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

METRICS = ("accuracy", "cross_entropy")
# Fitness objectives, each to be maximised (DEAP weights (1.0, ...)).
OBJECTIVES = ("accuracy", "negative_cross_entropy")


def check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """The requested metrics as a tuple (``ValueError`` for unknown or no metrics)."""
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metrics {unknown or '(none given)'}; choose from {', '.join(METRICS)}")
    return metrics


@dataclass(frozen=True)
class PopulationScores:
    """Scores of a population on one data set, in the order the genomes were given.

    Attributes:
        n_samples: number of samples each genome was scored on.
        accuracy: ``[P]`` fraction of samples classified correctly (``argmax`` of the logits,
            first class on ties), in ``[0, 1]``; ``None`` if not requested.
        cross_entropy: ``[P]`` mean cross-entropy in nats; ``None`` if not requested.
        flops: floating-point operations of the matrix products and convolutions performed
            (2 per multiply-add, weight generation and shared projections included); ``None``
            where not counted.
    """

    n_samples: int
    accuracy: Tensor | None = None
    cross_entropy: Tensor | None = None
    flops: int | None = None

    def __len__(self) -> int:
        return len(self.accuracy if self.accuracy is not None else self.cross_entropy)

    def __getitem__(self, metric: str) -> Tensor:
        value = getattr(self, metric) if metric in METRICS else None
        if value is None:
            raise KeyError(f"metric {metric!r} was not computed (computed: {', '.join(self.metrics)})")
        return value

    @property
    def metrics(self) -> tuple[str, ...]:
        """Names of the metrics computed."""
        return tuple(m for m in METRICS if getattr(self, m) is not None)

    def fitness(self, *objectives: str) -> list[tuple[float, ...]]:
        """DEAP fitness values, one tuple per genome, every objective to be maximised.

        Args:
            *objectives: ``"accuracy"`` and/or ``"negative_cross_entropy"`` (default: accuracy).

        Returns:
            ``[(objective_1, ...), ...]`` in genome order, e.g. ``ind.fitness.values = t``.

        Raises:
            ValueError: an unknown objective, or one whose metric was not computed.
        """
        objectives = objectives or ("accuracy",)
        columns = []
        for objective in objectives:
            if objective not in OBJECTIVES:
                raise ValueError(f"unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")
            metric = objective.removeprefix("negative_")
            if getattr(self, metric) is None:
                raise ValueError(f"objective {objective!r} needs the {metric!r} metric, which was not computed")
            values = getattr(self, metric)
            columns.append((-values if objective != metric else values).tolist())
        return list(zip(*columns))


class ScoreAccumulator:
    """Sums of correct predictions and cross-entropies per genome, on the evaluation device.

    Args:
        n_genomes: population size ``P``.
        metrics: metrics to accumulate (see :data:`METRICS`).
        device: where the sums live.
    """

    def __init__(self, n_genomes: int, metrics: Sequence[str], device: torch.device) -> None:
        self.metrics = tuple(metrics)
        self.correct = torch.zeros(n_genomes, dtype=torch.int64, device=device)
        self.cross_entropy = torch.zeros(n_genomes, dtype=torch.float64, device=device)

    def add(self, positions: Tensor, logits: Tensor, labels: Tensor) -> None:
        """Add one chunk.

        Args:
            positions: ``[g]`` population positions of the genomes (int64, on the device).
            logits: ``[g, n_classes, s]`` (classes before samples: the reductions over classes
                then run along contiguous memory).
            labels: ``[s]`` class indices.
        """
        if "accuracy" in self.metrics:
            predictions = logits.max(1).indices  # the first maximum, as argmax
            self.correct.index_add_(0, positions, (predictions == labels).sum(1))
        if "cross_entropy" in self.metrics:
            targets = logits.gather(1, labels.expand(logits.shape[0], 1, -1)).squeeze(1)
            losses = torch.logsumexp(logits, 1) - targets
            self.cross_entropy.index_add_(0, positions, losses.sum(1, dtype=torch.float64))

    def scores(self, n_samples: int, flops: int | None = None) -> PopulationScores:
        """The means over ``n_samples``, as CPU float64 tensors."""
        return PopulationScores(
            n_samples,
            accuracy=(self.correct.double() / n_samples).cpu() if "accuracy" in self.metrics else None,
            cross_entropy=(self.cross_entropy / n_samples).cpu() if "cross_entropy" in self.metrics else None,
            flops=flops,
        )
