"""Fitting an embedding genome to a reference direct network (the paper's eq. 4).

* :mod:`~neuroevo.fitting.objective`: the embedding factors and eq. 4.
* :mod:`~neuroevo.fitting.least_squares`: alternating least squares (closed-form solves).
* :mod:`~neuroevo.fitting.fit`: :func:`fit_to_reference` (ALS, Adam, or ALS then Adam).
"""

from neuroevo.fitting.fit import FIT_METHODS, FitResult, fit_to_reference, fitted_architecture
from neuroevo.fitting.least_squares import AlternatingLeastSquares, solve_rows
from neuroevo.fitting.objective import EmbeddingFactors, layer_mse, objective, reference_weights

__all__ = [
    "FIT_METHODS",
    "AlternatingLeastSquares",
    "EmbeddingFactors",
    "FitResult",
    "fit_to_reference",
    "fitted_architecture",
    "layer_mse",
    "objective",
    "reference_weights",
    "solve_rows",
]
