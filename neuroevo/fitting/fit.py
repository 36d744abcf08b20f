"""Fitting an embedding genome to a reference (direct) network: the paper's eq. 4.

The fitted genome generates weights ``sigma(L_l Z_l^T)`` as close as possible, in mean squared
error summed over layers, to the reference's weight matrices; the reference's biases and (conv)
depthwise kernels are carried over unchanged. Holding the input encoding fixed to a given shared
one is how two reference networks get a common basis, so that their neurons can be crossed over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.encoding import InputEncoding
from neuroevo.fitting.least_squares import AlternatingLeastSquares
from neuroevo.fitting.objective import EmbeddingFactors, layer_mse, objective, reference_weights
from neuroevo.genomes import DirectGenome, EmbeddingGenome
from neuroevo.neurons import NeuronSet
from neuroevo.validation import check_choice, check_int, check_positive

FIT_METHODS = ("als", "adam", "als+adam")

_INVERSE_SIGMA = {
    "identity": lambda w: w,
    "tanh": lambda w: torch.atanh(w.clamp(-0.999, 0.999)),
    "sinh": torch.asinh,
}


@dataclass
class FitResult:
    """What :func:`fit_to_reference` returns.

    Attributes:
        genome: the fitted :class:`~neuroevo.genomes.EmbeddingGenome` (CPU, float32).
        per_layer_mse: ``||W_l - sigma(L_l Z_l^T)||_F^2 / (m_l n_l)`` of each genome layer.
        objective: eq. 4, the sum of ``per_layer_mse``.
        method: the method used (one of :data:`FIT_METHODS`).
        history: ``"als"``: the objective after initialisation and after every sweep;
            ``"adam"``: the objective every 100 Adam steps (where the stages ran).
        wall_time_s: seconds spent fitting.
    """

    genome: EmbeddingGenome
    per_layer_mse: tuple[float, ...]
    objective: float
    method: str
    history: dict[str, list[float]] = field(default_factory=dict)
    wall_time_s: float = 0.0


def fitted_architecture(reference: Architecture, junction: str | None = None) -> Architecture:
    """The embedding genome's architecture for a reference architecture.

    A reference whose conv-to-dense junction is a flatten (``"position"``/``"free"``) is fitted
    with the ``"free"`` junction by default (one free embedding per flattened feature: it can
    match the flattened weight matrix as well as any dense layer) or ``"position"`` on request
    (far fewer parameters, far coarser fit); a ``"gap"`` reference maps to ``"gap"``.

    Raises:
        ValueError: ``"gap"`` asked for a flatten reference or the reverse.
    """
    if not reference.n_conv:
        return reference
    flatten = reference.junction != "gap"
    if junction is None:
        junction = "free" if flatten else "gap"
    if (junction == "gap") == flatten:
        kind = "flattens" if flatten else "average-pools"
        raise ValueError(f"junction {junction!r} cannot fit a reference whose conv-to-dense junction {kind}")
    return reference.with_options(junction=junction)


def fit_to_reference(
    reference: DirectGenome,
    d: int | None = None,
    *,
    input_encoding: InputEncoding | None = None,
    junction: str | None = None,
    method: str | None = None,
    steps: int = 2000,
    lr: float = 0.002,
    als_sweeps: int = 100,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> FitResult:
    """Fit an embedding genome of width ``d`` to a reference direct genome (eq. 4).

    Methods: ``"als"`` (closed-form alternating least squares, ``sigma = identity`` only; the
    default for it, see docs/design_notes.md),
    ``"adam"`` (Adam on eq. 4 from a random genome, the paper's method), ``"als+adam"`` (ALS,
    then Adam from the ALS solution, keeping the best iterate; the default for
    ``sigma != identity``, where ALS fits ``sigma^{-1}(W)`` to give Adam its start).

    Args:
        reference: a direct genome with dense and/or *separable* conv layers (pointwise weights
            are the conv layers' ``W``). Not modified.
        d: embedding width; may be left out when ``input_encoding`` is given (its width is used).
        input_encoding: a shared input encoding to hold fixed (and its position embeddings, for
            the ``"position"`` junction); ``None`` fits a new one.
        junction: see :func:`fitted_architecture`.
        method: one of :data:`FIT_METHODS`; ``None`` picks ``"als"`` for ``sigma = identity``,
            else ``"als+adam"``.
        steps: Adam steps (``"adam"``, ``"als+adam"``).
        lr: Adam's (constant) learning rate.
        als_sweeps: at most this many ALS sweeps (stops earlier when converged).
        generator: randomness of the initial genome (Adam's start, position embeddings).
        device: where Adam runs (CPU when ``None``).

    Returns:
        A :class:`FitResult`.

    Raises:
        ValueError: a standard-conv reference, an input encoding that does not match the
            reference (number of inputs, positions, width ``d``), an unknown method, ``"als"``
            with ``sigma != identity``, neither ``d`` nor ``input_encoding``, a ``d`` or
            ``als_sweeps`` that is not a positive (non-negative) integer, negative ``steps``, a
            ``lr`` that is not positive; raised before any fitting.
    """
    if not isinstance(reference, DirectGenome):
        raise ValueError(f"the reference must be a direct genome, got {type(reference).__name__}")
    architecture = fitted_architecture(reference.architecture, junction)
    if method is None:
        method = "als" if architecture.sigma == "identity" else "als+adam"
    check_choice("fit method", method, FIT_METHODS)
    check_int("steps", steps, minimum=0)
    check_positive("lr", lr)
    check_int("als_sweeps", als_sweeps, minimum=0)
    if method == "als" and architecture.sigma != "identity":
        raise ValueError(
            f"ALS alone minimises eq. 4 only for sigma = identity, not {architecture.sigma!r}; use als+adam or adam"
        )
    if d is None and input_encoding is None:
        raise ValueError("give an embedding width d or an input encoding to build on")
    if d is not None:
        check_int("d", d)
    if input_encoding is not None and d is not None and input_encoding.d != d:
        raise ValueError(f"d={d} but the given input encoding has width {input_encoding.d}")
    targets = reference_weights(reference)
    start_time = time.perf_counter()
    # A random genome: validates the input encoding against the architecture, and is Adam's start.
    d = input_encoding.d if input_encoding is not None else d
    start = EmbeddingGenome.random(architecture, d, input_encoding=input_encoding, generator=generator)
    factors = genome_factors(start)
    history: dict[str, list[float]] = {}
    if method != "adam":
        als = AlternatingLeastSquares(
            [_INVERSE_SIGMA[architecture.sigma](w) for w in targets],
            architecture,
            factors,
            fix_inputs=input_encoding is not None,
            fix_positions=input_encoding is not None,
        )
        history["als"] = als.run(max_sweeps=als_sweeps)
        factors = als.factors.to(torch.float32)
    if method != "als" and steps:
        factors, history["adam"] = refine_with_adam(
            factors, targets, architecture, steps=steps, lr=lr,
            fix_inputs=input_encoding is not None, device=device,
        )
    genome = genome_from_factors(reference, architecture, factors, input_encoding)
    fitted = genome_factors(genome).to(torch.float64)
    mse = tuple(float(m) for m in layer_mse(fitted, [t.double() for t in targets], architecture))
    return FitResult(
        genome=genome,
        per_layer_mse=mse,
        objective=sum(mse),
        method=method,
        history=history,
        wall_time_s=time.perf_counter() - start_time,
    )


def refine_with_adam(
    factors: EmbeddingFactors,
    targets: list[Tensor],
    architecture: Architecture,
    *,
    steps: int,
    lr: float,
    fix_inputs: bool,
    device: torch.device | str | None = None,
) -> tuple[EmbeddingFactors, list[float]]:
    """Minimise eq. 4 with Adam (constant ``lr``) from ``factors``; return the best iterate.

    The input encoding (and position embeddings) are held fixed when ``fix_inputs``.

    Returns:
        ``(best factors, float32 on the CPU; objective every 100 steps and at the end)``.
    """
    factors = factors.to(torch.float32, device or "cpu")
    targets = [t.detach().to(device or "cpu", torch.float32) for t in targets]
    trainable = [t.requires_grad_() for t in factors.tensors(include_encoding=not fix_inputs)]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    best_value, best = float("inf"), factors
    history: list[float] = []
    for step in range(steps + 1):
        optimizer.zero_grad(set_to_none=True)
        value = objective(factors, targets, architecture)
        current = float(value.detach())
        if current < best_value:
            best_value, best = current, factors.to(torch.float32)
        if step % 100 == 0 or step == steps:
            history.append(current)
        if step == steps:
            break
        value.backward()
        optimizer.step()
    return best.to(torch.float32, "cpu"), history


def genome_factors(genome: EmbeddingGenome) -> EmbeddingFactors:
    """The embedding factors of ``genome`` (copies; float32)."""
    arch = genome.architecture
    features = genome.layers[arch.n_conv - 1]["features"] if arch.n_conv and arch.junction == "free" else None
    factors = EmbeddingFactors(
        inputs=genome.input_encoding.inputs,
        layers=[layer["embeddings"] for layer in genome.layers],
        features=features,
        positions=genome.input_encoding.positions,
    )
    return factors.to(torch.float32)


def genome_from_factors(
    reference: DirectGenome,
    architecture: Architecture,
    factors: EmbeddingFactors,
    input_encoding: InputEncoding | None,
) -> EmbeddingGenome:
    """An embedding genome with ``factors``' embeddings and ``reference``'s biases and kernels.

    ``input_encoding``, when given, is used as the genome's encoding (the shared object itself);
    otherwise a new one is made from ``factors.inputs`` and ``factors.positions``.
    """
    if input_encoding is None:
        positions = None if factors.positions is None else factors.positions.float()
        input_encoding = InputEncoding(factors.inputs.float(), positions)
    layers = []
    for index, (reference_layer, z) in enumerate(zip(reference.layers, factors.layers)):
        fields = {"embeddings": z.detach().float().cpu().clone(), "bias": reference_layer["bias"].detach().clone()}
        if architecture.is_conv(index):
            fields["kernels"] = reference_layer["kernels"].detach().clone()
            if index == architecture.n_conv - 1 and architecture.junction == "free":
                fields["features"] = factors.features.detach().float().cpu().clone()
        layers.append(NeuronSet(**fields))
    return EmbeddingGenome(architecture, input_encoding, layers)
