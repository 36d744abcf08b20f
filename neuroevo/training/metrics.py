"""Accuracy and mean cross-entropy of a module on a whole data set, evaluated in chunks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuroevo.architecture import Architecture
from neuroevo.data import Dataset
from neuroevo.decoding import decode
from neuroevo.genomes import Genome


@dataclass(frozen=True)
class Metrics:
    """Classification quality on a data set.

    Attributes:
        accuracy: fraction of samples whose arg-max logit is the label, in ``[0, 1]``.
        cross_entropy: mean cross-entropy of the softmax of the logits, in nats per sample.
        n_samples: number of samples evaluated.
    """

    accuracy: float
    cross_entropy: float
    n_samples: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@torch.no_grad()
def evaluate_module(module: nn.Module, dataset: Dataset, *, batch_size: int = 2000) -> Metrics:
    """Evaluate ``module`` on every sample of ``dataset``, ``batch_size`` samples at a time.

    Batches are moved to the device of the module's parameters; the module is put in eval mode
    and its previous mode restored afterwards.

    Args:
        module: maps images ``[B, C, H, W]`` to logits ``[B, n_classes]``.
        dataset: the samples to evaluate (any device).
        batch_size: samples per forward pass (bounds memory, not the result).

    Returns:
        Accuracy and mean cross-entropy over the whole data set.

    Raises:
        ValueError: an empty data set.
    """
    if len(dataset) == 0:
        raise ValueError(f"cannot evaluate on an empty data set ({dataset.name}, {dataset.split})")
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    correct = 0
    total_loss = 0.0
    for images, labels in dataset.batches(batch_size, shuffle=False):
        images, labels = images.to(device), labels.to(device)
        logits = module(images)
        total_loss += float(F.cross_entropy(logits, labels, reduction="sum"))
        correct += int((logits.argmax(dim=1) == labels).sum())
    module.train(was_training)
    n = len(dataset)
    return Metrics(accuracy=correct / n, cross_entropy=total_loss / n, n_samples=n)


def evaluate_genome(
    genome: Genome, dataset: Dataset, *, device: torch.device | str | None = None, batch_size: int = 2000
) -> Metrics:
    """Decode ``genome`` on ``device`` (CPU when ``None``) and evaluate it on ``dataset``.

    Raises:
        ValueError: the genome's input size or number of classes does not match the data
            (see :func:`check_genome_fits_data`), or an empty data set.
    """
    check_genome_fits_data(genome.architecture, dataset)
    return evaluate_module(decode(genome, device), dataset, batch_size=batch_size)


def check_genome_fits_data(architecture: Architecture, dataset: Dataset) -> None:
    """Raise ``ValueError`` unless networks of ``architecture`` can classify ``dataset``.

    A dense-first network needs as many inputs as the images have values; a conv network needs
    the images' exact ``(C, H, W)``; the number of output neurons must equal the number of classes.
    """
    data_shape = dataset.input_shape
    if architecture.n_conv:
        if tuple(architecture.input_shape) != tuple(data_shape):
            raise ValueError(
                f"architecture {architecture.spec} expects images of shape {architecture.input_shape}, "
                f"data set {dataset.name} ({dataset.split}) has {data_shape}"
            )
    elif architecture.n_inputs_flat != math.prod(data_shape):
        raise ValueError(
            f"architecture {architecture.spec} has {architecture.n_inputs_flat} inputs, data set "
            f"{dataset.name} ({dataset.split}) has images of shape {data_shape} ({math.prod(data_shape)} values)"
        )
    if architecture.n_classes != dataset.n_classes:
        raise ValueError(
            f"architecture {architecture.spec} has {architecture.n_classes} output neurons, data set "
            f"{dataset.name} has {dataset.n_classes} classes"
        )
