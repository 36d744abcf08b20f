"""Optimizers and learning-rate schedules of a training run (PyTorch's own schedulers)."""

from __future__ import annotations

from typing import Iterable

import torch
from torch.optim.lr_scheduler import LinearLR, LRScheduler, OneCycleLR

from neuroevo.training.config import TrainConfig


def make_optimizer(parameters: Iterable[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or SGD with momentum over ``parameters``, starting at ``config.max_lr``.

    The schedule from :func:`make_scheduler` sets the actual learning rate of every step.
    """
    parameters = [p for p in parameters if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.max_lr)
    return torch.optim.SGD(parameters, lr=config.max_lr, momentum=config.momentum)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> LRScheduler:
    """The learning-rate schedule over ``config.steps`` steps (call ``step()`` after each one).

    * Adam: ``OneCycleLR`` with PyTorch's defaults (warm-up over 30% of the steps from
      ``max_lr / 25`` to ``max_lr``, cosine annealing to ``max_lr / 25e4``, beta1 cycled
      between 0.95 and 0.85).
    * SGD: ``LinearLR`` from ``max_lr`` down to 0 at the last step.
    """
    if config.optimizer == "adam":
        return OneCycleLR(optimizer, max_lr=config.max_lr, total_steps=config.steps)
    return LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=config.steps)
