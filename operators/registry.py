"""Named operators: the one place where a name such as ``"transplant-aligned"`` becomes a function.

The command line, the evolution recipes, the sweeps and the examples all look operators up here,
so a name means the same operator with the same parameters everywhere::

    from operators.registry import crossover, mutation

    toolbox.register("mate", crossover("transplant-aligned", layer=0, coefficient=0.5))
    toolbox.register("mutate", mutation("gaussian", sigma=0.01, indpb=0.1))

Each entry is an :class:`OperatorSpec`: the function, the keyword parameters a user may set, the
keywords the name fixes (``"interpolate-aligned-repair"`` is aligned interpolation with
``method="activation", repair=True``), the encodings it fits and whether it needs a probe batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Mapping

from operators.interpolation import cx_interpolate, cx_interpolate_aligned
from operators.mutation import mut_add_neuron, mut_gaussian, mut_remove_neuron
from operators.transplant import cx_transplant, cx_transplant_aligned

__all__ = ["CROSSOVERS", "MUTATIONS", "OperatorSpec", "crossover", "mutation", "operator_spec"]

ENCODINGS = ("embedding", "direct")


@dataclass(frozen=True)
class OperatorSpec:
    """One named operator.

    Attributes:
        name: the name used by the command line, recipes, sweeps and examples.
        kind: ``"crossover"`` or ``"mutation"``.
        function: the DEAP-compatible operator.
        parameters: keyword parameters a user may set (others are refused).
        fixed: keywords the name itself sets (not settable).
        encodings: genome encodings it fits.
        needs_probe: whether it needs ``probe`` (a batch of inputs) to build children.
        summary: one line for help texts.
    """

    name: str
    kind: str
    function: Callable[..., Any]
    parameters: tuple[str, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    encodings: tuple[str, ...] = ENCODINGS
    needs_probe: bool = False
    summary: str = ""

    def bind(self, **settings: Any) -> Callable[..., Any]:
        """The operator with ``settings`` bound as keywords, ready for ``toolbox.register``.

        ``None`` values are dropped (the operator's default applies).

        Raises:
            ValueError: a setting the operator does not take, or a missing probe.
        """
        unknown = sorted(set(settings) - set(self.parameters))
        if unknown:
            raise ValueError(f"{self.kind} {self.name!r} takes {', '.join(self.parameters) or 'no settings'}; "
                             f"got {', '.join(unknown)}")
        bound = {key: value for key, value in settings.items() if value is not None}
        if self.needs_probe and bound.get("probe") is None:
            raise ValueError(f"{self.kind} {self.name!r} needs a probe batch of inputs (probe=...)")
        return partial(self.function, **self.fixed, **bound)

    def bind_from(self, settings: Mapping[str, Any]) -> Callable[..., Any]:
        """The operator with the entries of ``settings`` it takes bound (others are skipped), for
        callers that hold one set of settings for whichever operator is chosen. ``probe`` is bound
        only where the operator uses it (it needs one, or matches by activation)."""
        bound = {key: settings[key] for key in self.parameters if key in settings and key != "probe"}
        if "probe" in self.parameters and (self.needs_probe or bound.get("method") == "activation"
                                           or bound.get("repair")):
            bound["probe"] = settings.get("probe")
        return self.bind(**bound)

    def check_encoding(self, encoding: str) -> None:
        """Raises ``ValueError`` when the operator does not fit genomes of ``encoding``."""
        if encoding not in self.encodings:
            raise ValueError(f"{self.kind} {self.name!r} does not fit {encoding} genomes (it fits "
                             f"{' and '.join(self.encodings)} genomes)")


def _entries(*specs: OperatorSpec) -> dict[str, OperatorSpec]:
    return {spec.name: spec for spec in specs}


#: Every named crossover.
CROSSOVERS: dict[str, OperatorSpec] = _entries(
    OperatorSpec("transplant", "crossover", cx_transplant,
                 ("layer", "coefficient", "move_outgoing", "repair", "probe", "rng"),
                 summary="swap a fraction of one layer's neurons at random positions"),
    OperatorSpec("transplant-aligned", "crossover", cx_transplant_aligned,
                 ("layer", "coefficient", "method", "move_outgoing", "repair", "probe", "rng"),
                 summary="swap a fraction of one layer's neurons between matched pairs"),
    OperatorSpec("interpolate", "crossover", cx_interpolate, ("alpha", "layer", "repair", "probe"),
                 summary="average the records at equal positions"),
    OperatorSpec("interpolate-aligned", "crossover", cx_interpolate_aligned,
                 ("alpha", "layer", "method", "repair", "probe"),
                 summary="average matched records"),
    OperatorSpec("interpolate-aligned-repair", "crossover", cx_interpolate_aligned, ("alpha", "layer", "probe"),
                 fixed={"method": "activation", "repair": True}, encodings=("direct",), needs_probe=True,
                 summary="average neurons matched by activation, then REPAIR the child's statistics"),
)

#: Every named mutation.
MUTATIONS: dict[str, OperatorSpec] = _entries(
    OperatorSpec("gaussian", "mutation", mut_gaussian, ("mu", "sigma", "indpb", "fields", "rng"),
                 summary="add Gaussian noise to each gene with probability indpb"),
    OperatorSpec("add-neuron", "mutation", mut_add_neuron, ("layer", "rng"),
                 summary="add one neuron to a hidden layer"),
    OperatorSpec("remove-neuron", "mutation", mut_remove_neuron, ("layer", "rng"),
                 summary="remove one neuron from a hidden layer"),
)


def operator_spec(kind: str, name: str) -> OperatorSpec:
    """The :class:`OperatorSpec` of a named crossover or mutation.

    Raises:
        ValueError: an unknown kind or name (the message lists the known names).
    """
    table = {"crossover": CROSSOVERS, "mutation": MUTATIONS}.get(kind)
    if table is None:
        raise ValueError(f"unknown operator kind {kind!r}; choose crossover or mutation")
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}")
    return table[name]


def crossover(name: str, **settings: Any) -> Callable[..., Any]:
    """The named crossover with ``settings`` bound (see :meth:`OperatorSpec.bind`)."""
    return operator_spec("crossover", name).bind(**settings)


def mutation(name: str, **settings: Any) -> Callable[..., Any]:
    """The named mutation with ``settings`` bound (see :meth:`OperatorSpec.bind`)."""
    return operator_spec("mutation", name).bind(**settings)
