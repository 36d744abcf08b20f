"""Training a genome from its current parameters by gradient descent, with holdout model selection."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from neuroevo.data import DataLike, Dataset, as_dataset
from neuroevo.decoding import decode
from neuroevo.genomes import Genome
from neuroevo.training.config import TrainConfig
from neuroevo.evaluation import Metrics, check_genome_fits_data, evaluate_module
from neuroevo.training.optim import make_optimizer, make_scheduler


@dataclass
class TrainResult:
    """What :func:`train_genome` returns.

    Attributes:
        genome: the selected genome (a new object on the CPU): the one with the best holdout
            accuracy (ties: lower holdout cross-entropy, then the earlier step), or the final one
            when there is no holdout set.
        best_step: the step after which ``genome`` was taken (0 = the initial genome).
        holdout: ``genome``'s holdout metrics (``None`` without a holdout set).
        history: one entry per validation: ``step``, ``lr``, ``train_cross_entropy`` (mean of the
            training batches since the previous entry) and, with a holdout set,
            ``holdout_accuracy`` and ``holdout_cross_entropy``.
        steps: optimizer steps taken.
        wall_time_s: seconds spent in :func:`train_genome`, validation included.
    """

    genome: Genome
    best_step: int
    holdout: Metrics | None
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    wall_time_s: float = 0.0


def train_step(module: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor) -> float:
    """One optimizer step on the mean cross-entropy of a batch.

    Args:
        module: maps ``images [B, ...]`` to logits ``[B, n_classes]``.
        optimizer: over the module's trainable parameters.
        images: ``[B, C, H, W]``; labels: ``[B]`` class indices (both on the module's device).

    Returns:
        The batch's mean cross-entropy before the step (nats).
    """
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(module(images), labels)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def batch_stream(
    dataset: Dataset, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[Tensor, Tensor]]:
    """Endless shuffled batches: epoch after epoch, each a fresh permutation from ``generator``.

    Every batch has ``batch_size`` samples (the remainder of each epoch is dropped) unless the
    data set is smaller than one batch, in which case every batch is the whole shuffled set.
    """
    drop_last = len(dataset) >= batch_size
    while True:
        yield from dataset.batches(batch_size, shuffle=True, generator=generator, drop_last=drop_last)


def train_genome(
    genome: Genome,
    train_data: DataLike,
    holdout_data: DataLike | None,
    *,
    config: TrainConfig = TrainConfig(),
    device: torch.device | str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``genome`` on ``train_data`` and select the best step by holdout accuracy.

    The genome is decoded into a module on ``device`` (embedding genomes learn their input
    encoding only when ``config.train_input_encoding``), trained for ``config.steps`` steps of
    ``config.batch_size`` samples (:class:`~neuroevo.training.TrainConfig`), validated on
    ``holdout_data`` every ``config.validate_every`` steps and after the last, and the best
    parameters are exported as a new genome. ``genome`` itself is not modified.

    Args:
        genome: the starting point (e.g. a random genome).
        train_data: training samples (moved to ``device`` for the run): a
            :class:`~neuroevo.data.Dataset` or a pair ``(x, y)`` of arrays or tensors (taken as
            they are, see :func:`~neuroevo.data.as_dataset`; their classes are the genome's).
        holdout_data: validation samples for model selection (the same kinds), or ``None`` (keep
            the final step).
        config: the recipe.
        device: where to train (CPU when ``None``).
        progress: show a tqdm progress bar.

    Returns:
        A :class:`TrainResult`.

    Raises:
        ValueError: the data does not fit the genome's architecture (input size, classes), is
            empty or malformed (see :func:`~neuroevo.data.as_dataset`); raised before any training.
        TypeError: data that is neither a data set nor a pair.
    """
    n_classes = genome.architecture.n_classes
    train_data = as_dataset(train_data, n_classes=n_classes)
    holdout_data = None if holdout_data is None else as_dataset(holdout_data, n_classes=n_classes)
    for dataset in (train_data, holdout_data):
        if dataset is not None:
            check_genome_fits_data(genome.architecture, dataset)
            if len(dataset) == 0:
                raise ValueError(f"data set {dataset.name} ({dataset.split}) is empty")
    start = time.perf_counter()
    module = decode(genome, device, train_input_encoding=config.train_input_encoding)
    module_device = next(module.parameters()).device
    train_data = train_data.to(module_device)
    optimizer = make_optimizer(module.parameters(), config)
    scheduler = make_scheduler(optimizer, config)
    batches = batch_stream(train_data, config.batch_size, torch.Generator().manual_seed(config.seed))

    def validate() -> Metrics | None:
        if holdout_data is None:
            return None
        return evaluate_module(module, holdout_data, batch_size=config.eval_batch_size)

    best_metrics = validate()
    best_step, best_state = 0, _snapshot(module)
    history: list[dict[str, float]] = []
    losses: list[float] = []
    bar = tqdm(range(1, config.steps + 1), desc="train", unit="step", disable=not progress, leave=False)
    for step in bar:
        lr = optimizer.param_groups[0]["lr"]
        images, labels = next(batches)
        losses.append(train_step(module, optimizer, images, labels))
        scheduler.step()
        if step % config.validate_every and step != config.steps:
            continue
        entry = {"step": step, "lr": lr, "train_cross_entropy": sum(losses) / len(losses)}
        losses.clear()
        metrics = validate()
        if metrics is not None:
            entry.update(holdout_accuracy=metrics.accuracy, holdout_cross_entropy=metrics.cross_entropy)
            bar.set_postfix(loss=f"{entry['train_cross_entropy']:.4f}", holdout=f"{metrics.accuracy:.4f}")
        history.append(entry)
        if metrics is None or _better(metrics, best_metrics):
            best_metrics, best_step, best_state = metrics, step, _snapshot(module)
    bar.close()
    module.load_state_dict(best_state)
    return TrainResult(
        genome=module.to_genome(),
        best_step=best_step,
        holdout=best_metrics,
        history=history,
        steps=config.steps,
        wall_time_s=time.perf_counter() - start,
    )


def _better(candidate: Metrics, incumbent: Metrics | None) -> bool:
    if incumbent is None:
        return True
    if candidate.accuracy != incumbent.accuracy:
        return candidate.accuracy > incumbent.accuracy
    return candidate.cross_entropy < incumbent.cross_entropy


def _snapshot(module: nn.Module) -> dict[str, Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}
