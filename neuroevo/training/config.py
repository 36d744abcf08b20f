"""Settings of a training run (the paper's recipe is the default)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from neuroevo.validation import check_choice, check_int, check_positive

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`~neuroevo.training.train_genome` trains a genome.

    The defaults are the paper's recipe: Adam with a one-cycle learning rate peaking at 0.01,
    batches of 1000, 2000 steps, mean cross-entropy.

    Attributes:
        steps: number of optimizer steps (one batch each).
        batch_size: training samples per step.
        optimizer: ``"adam"`` (one-cycle schedule, ``OneCycleLR``) or ``"sgd"`` (momentum,
            learning rate annealed linearly from ``max_lr`` to 0, ``LinearLR``).
        max_lr: peak (Adam) or initial (SGD) learning rate.
        momentum: SGD momentum (ignored by Adam, whose beta1 the one-cycle schedule cycles).
        validate_every: evaluate on the holdout set every this many steps (and after the last).
        seed: seeds the batch order; with the same genome and data a run is reproducible on the CPU.
        train_input_encoding: embedding genomes only: whether the input encoding is learned (a
            genome trained from scratch) or held fixed (a genome built on a shared basis).
        eval_batch_size: samples per forward pass when evaluating (memory only).
    """

    steps: int = 2000
    batch_size: int = 1000
    optimizer: str = "adam"
    max_lr: float = 0.01
    momentum: float = 0.9
    validate_every: int = 100
    seed: int = 0
    train_input_encoding: bool = True
    eval_batch_size: int = 2000

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "validate_every", "eval_batch_size"):
            check_int(name, getattr(self, name))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_positive("max_lr", self.max_lr)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
