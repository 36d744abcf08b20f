"""The algorithms the engine (:mod:`populations.engine`) runs, one :class:`~populations.engine.Strategy` each.

* :class:`EaSimple`: DEAP's ``eaSimple`` (select, ``varAnd``, evaluate).
* :class:`Memetic`: every child learns (``toolbox.learn``) before it is scored.
* :class:`ESP`: neuron-level evolution of slot subpopulations of neuron records.
* :class:`CoSyNE`: whole networks whose neuron records are permuted across the population.
* :class:`SANE`: a pool of neuron records and blueprints that assemble networks from it.
"""

from populations.strategies.cosyne import COSYNE_VARIATIONS, CoSyNE, permute_records
from populations.strategies.ea_simple import EaSimple, fitness_record
from populations.strategies.esp import ESP, NEURON_VARIATIONS, neuron_subpopulations
from populations.strategies.memetic import ORDERS, Memetic, prediction_disagreement
from populations.strategies.sane import SANE, sane_population

__all__ = ["COSYNE_VARIATIONS", "CoSyNE", "ESP", "NEURON_VARIATIONS", "ORDERS", "EaSimple", "Memetic", "SANE",
           "fitness_record", "neuron_subpopulations", "permute_records", "prediction_disagreement", "sane_population"]
