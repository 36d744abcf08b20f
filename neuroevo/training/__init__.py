"""Training genomes from their current parameters (scoring them: :mod:`neuroevo.evaluation`).

* :mod:`~neuroevo.training.config`: :class:`TrainConfig` (the paper's recipe by default).
* :mod:`~neuroevo.training.optim`: optimizers and PyTorch learning-rate schedules.
* :mod:`~neuroevo.training.loop`: :func:`train_genome` with holdout model selection.
* :mod:`~neuroevo.training.results`: the JSON record of a run.
"""

from neuroevo.training.config import OPTIMIZERS, TrainConfig
from neuroevo.training.loop import TrainResult, batch_stream, train_genome, train_step
from neuroevo.training.optim import make_optimizer, make_scheduler
from neuroevo.training.results import dataset_summary, parameter_summary, write_metrics

__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "TrainResult",
    "batch_stream",
    "dataset_summary",
    "make_optimizer",
    "make_scheduler",
    "parameter_summary",
    "train_genome",
    "train_step",
    "write_metrics",
]
