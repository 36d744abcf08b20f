"""The learning step of memetic (Lamarckian) evolution, as a DEAP toolbox function."""

from __future__ import annotations

import dataclasses
import random

import torch

from neuroevo.data import Dataset
from neuroevo.decoding import decode
from neuroevo.evaluation import check_genome_fits_data
from neuroevo.genomes import Genome
from neuroevo.training import TrainConfig, batch_stream, make_optimizer, train_step
from neuroevo.validation import check_int
from operators.randomness import torch_generator

__all__ = ["LamarckianTraining"]


class LamarckianTraining:
    """``steps`` Adam steps on the individual's own minibatch stream, the trained weights written
    back into its genome.

    A DEAP toolbox function (``toolbox.register("learn", learner)``): ``learner(ind)`` modifies
    ``ind`` in place (its ``layers`` are replaced; an embedding genome's input encoding stays frozen)
    and returns ``(ind,)``; ``fitness`` is not touched (the caller invalidates it). Each call draws a
    fresh batch order from ``rng`` (Python's :mod:`random` by default), so two copies of one parent
    learn from different minibatches, and a seeded run is reproducible. The optimizer starts fresh
    at every call (its state is not part of the genome) with a constant learning rate.

    Args:
        train_data: the training samples (moved to ``device`` once).
        steps: optimizer steps per call, ``K >= 1``.
        batch_size: samples per step.
        lr: Adam's learning rate.
        device: where training runs (CPU when ``None``).

    Attributes:
        gradient_steps: optimizer steps taken over all calls (counted as they are taken).

    Raises:
        ValueError: no or empty training data, or a non-positive ``steps``, ``batch_size`` or ``lr``.
    """

    def __init__(
        self,
        train_data: Dataset | None,
        *,
        steps: int = 25,
        batch_size: int = 64,
        lr: float = 0.005,
        device: torch.device | str | None = None,
    ) -> None:
        check_int("steps", steps)
        check_int("batch_size", batch_size)
        if train_data is None or len(train_data) == 0:
            raise ValueError(
                f"Lamarckian training of {steps} steps per child needs training data, got "
                f"{'none' if train_data is None else 'an empty data set'}"
            )
        self.config = TrainConfig(steps=steps, batch_size=batch_size, optimizer="adam", max_lr=lr)
        self.device = device
        self.train_data = train_data if device is None else train_data.to(device)
        self.gradient_steps = 0

    @property
    def steps(self) -> int:
        return self.config.steps

    @property
    def lr(self) -> float:
        """Adam's learning rate of the next calls (a schedule may set it between generations)."""
        return self.config.max_lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.config = dataclasses.replace(self.config, max_lr=value)

    def __call__(self, individual: Genome, *, rng: random.Random | None = None) -> tuple[Genome]:
        check_genome_fits_data(individual.architecture, self.train_data)
        module = decode(individual, self.device)
        optimizer = make_optimizer(module.parameters(), self.config)
        batches = batch_stream(self.train_data, self.config.batch_size, torch_generator(rng))
        for _ in range(self.config.steps):
            train_step(module, optimizer, *next(batches))
            self.gradient_steps += 1
        individual.layers[:] = module.neuron_sets()
        return (individual,)

    def __repr__(self) -> str:
        return (f"LamarckianTraining(steps={self.config.steps}, batch_size={self.config.batch_size}, "
                f"lr={self.config.max_lr}, data={self.train_data.name}/{self.train_data.split})")
