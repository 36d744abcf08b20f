"""DEAP-compatible crossover and mutation operators for neuroevo genomes.

Every operator follows DEAP's contract: crossovers modify both individuals in place and return
the pair, mutations modify in place and return a 1-tuple, ``fitness`` is never touched, children
share no tensor storage with each other, and randomness comes from Python's :mod:`random` (or an
explicit ``rng``). Register them in a toolbox with bound options::

    toolbox.register("mate", operators.cx_transplant, layer=0, coefficient=0.5)
    toolbox.register("mutate", operators.mut_gaussian, sigma=0.01, indpb=0.1)

Which operators need data (a probe batch of inputs): only ``method="activation"`` matching and
``repair=True``; everything else uses the genomes alone.
"""

from operators.alignment import METHODS, match_neurons
from operators.interpolation import cx_interpolate, cx_interpolate_aligned
from operators.mutation import mut_add_neuron, mut_gaussian, mut_remove_neuron
from operators.repair import repair
from operators.transplant import cx_transplant, cx_transplant_aligned

__all__ = [
    "METHODS",
    "cx_interpolate",
    "cx_interpolate_aligned",
    "cx_transplant",
    "cx_transplant_aligned",
    "match_neurons",
    "mut_add_neuron",
    "mut_gaussian",
    "mut_remove_neuron",
    "repair",
]
