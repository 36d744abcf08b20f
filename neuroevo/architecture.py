"""Architecture descriptions: what a genome decodes into, independent of the encoding.

An architecture is written as a dash-separated spec, the way the paper names its networks:

* ``"784-400-10"``: 784 inputs, one dense hidden layer of 400 neurons, 10 classes.
* ``"784-400x4-10"``: ``NxK`` repeats a dense width ``K`` times.
* ``"3-10r-1"``: a *recurrent* dense hidden layer of 10 neurons (``r`` after the width; ``10rx2``
  repeats it). A recurrent layer also receives its own output of the previous time step
  (``h_t = act(x_t W + h_{t-1} R + b)``, ``h_{-1} = 0``). Conv layers, the input and the output
  layer cannot be recurrent.
* ``"1x28x28-20c-40c-80c-100-10"`` (or ``"20c-40c-80c-100-10"`` with ``input_shape=(1, 28, 28)``):
  conv layers of 20, 40 and 80 neurons (channels), each followed by ReLU and max pooling, then
  the conv-to-dense junction, a dense layer of 100 and 10 outputs.

Widths are only the *initial* widths of a genome: embedding genomes may grow or shrink hidden
layers (structural mutation); the genome's packed tensors are the source of truth for widths.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

SIGMAS = ("identity", "tanh", "sinh")
ACTIVATIONS = ("relu", "tanh", "gelu")
JUNCTIONS = ("position", "free", "gap")
CONV_STYLES = ("separable", "standard")


def _parse_positive_int(token: str, spec: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise ValueError(f"architecture {spec!r}: {token!r} is not a layer width") from None
    if value <= 0:
        raise ValueError(f"architecture {spec!r}: width {value} must be positive")
    return value


@dataclass(frozen=True)
class Architecture:
    """The layer stack a genome describes.

    Args:
        input_shape: shape of one input sample, ``(C, H, W)`` for images or ``(n_inputs,)``.
        conv_widths: initial number of neurons (channels) of each conv layer, in depth order.
        dense_widths: initial number of neurons of each dense *hidden* layer.
        n_classes: number of output neurons; output neuron ``c`` is class ``c``.
        kernel_size: side ``k`` of every conv layer's ``k x k`` kernels (odd; "same" padding).
        pool: max-pooling window and stride after each conv layer (1 disables pooling).
        activation: hidden-layer nonlinearity, one of :data:`ACTIVATIONS`.
        sigma: weight-generation function of embedding genomes, ``W = sigma(Z_prev Z_next^T)``,
            one of :data:`SIGMAS`.
        junction: how the last conv layer feeds the first dense layer, one of :data:`JUNCTIONS`:
            ``"position"`` (self-contained: feature ``(i, p)`` of conv neuron ``i`` at position
            ``p`` has embedding ``z_i * e_p``, the elementwise product of the neuron's embedding and
            a shared position embedding), ``"free"`` (the paper's code: every ``(i, p)`` feature
            has its own free embedding, stored with neuron ``i``), ``"gap"`` (global average
            pooling over positions, then ``W = sigma(Z_conv Z_dense^T)``). Direct genomes use a
            plain flatten for ``"position"``/``"free"`` and global average pooling for ``"gap"``.
        conv_style: conv layers of *direct* genomes: ``"separable"`` (reverse-order depthwise
            separable: 1x1 pointwise, then each neuron's own k x k depthwise kernel) or
            ``"standard"`` (full k x k convolution). Embedding genomes are always separable.
        recurrent: per dense hidden layer, whether it is recurrent; ``()`` (the normal form when
            no layer is) for a feed-forward network. Flags that are all ``False`` are stored as
            ``()``, so both spell the same architecture.

    ``n_classes`` is the number of outputs whatever the task (classes, or a control policy's
    actions).
    """

    input_shape: tuple[int, ...]
    conv_widths: tuple[int, ...] = ()
    dense_widths: tuple[int, ...] = ()
    n_classes: int = 10
    kernel_size: int = 3
    pool: int = 2
    activation: str = "relu"
    sigma: str = "identity"
    junction: str = "position"
    conv_style: str = "separable"
    recurrent: tuple[bool, ...] = ()
    _spec: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "conv_widths", tuple(int(w) for w in self.conv_widths))
        object.__setattr__(self, "dense_widths", tuple(int(w) for w in self.dense_widths))
        flags = tuple(bool(r) for r in self.recurrent)
        object.__setattr__(self, "recurrent", flags if any(flags) else ())
        if self.recurrent and len(self.recurrent) != len(self.dense_widths):
            raise ValueError(
                f"recurrent has {len(self.recurrent)} flags but there are {len(self.dense_widths)} "
                "dense hidden layers (one flag per dense hidden layer)"
            )
        if not self.input_shape or any(s <= 0 for s in self.input_shape):
            raise ValueError(f"input_shape {self.input_shape} must be non-empty and positive")
        if any(w <= 0 for w in self.conv_widths + self.dense_widths) or self.n_classes <= 0:
            raise ValueError("layer widths and n_classes must be positive")
        if self.conv_widths and len(self.input_shape) != 3:
            raise ValueError(
                f"conv layers need an image input shape (C, H, W); got {self.input_shape}"
            )
        if self.kernel_size <= 0 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {self.kernel_size}")
        if self.pool < 1:
            raise ValueError(f"pool must be >= 1, got {self.pool}")
        for name, value, allowed in (
            ("sigma", self.sigma, SIGMAS),
            ("activation", self.activation, ACTIVATIONS),
            ("junction", self.junction, JUNCTIONS),
            ("conv_style", self.conv_style, CONV_STYLES),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        if self.conv_widths:
            h, w = self.conv_output_hw
            if h < 1 or w < 1:
                raise ValueError(
                    f"input {self.input_shape} pooled by {self.pool} after each of "
                    f"{len(self.conv_widths)} conv layers leaves no positions"
                )

    # ----------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, spec: str, input_shape: tuple[int, ...] | None = None, **options: Any) -> "Architecture":
        """Build an architecture from a spec such as ``"784-400x4-10"`` or ``"20c-40c-100-10"``.

        Args:
            spec: dash-separated layer list (see the module docstring).
            input_shape: shape of one input sample; required when the spec does not start with
                an input token. When both are given they must agree.
            **options: any other :class:`Architecture` field (``sigma``, ``junction``, ...).

        Raises:
            ValueError: a malformed token, conv layers after dense ones, a recurrence mark on a
                conv layer, the input or the output, or an input shape that disagrees with the
                spec.
        """
        tokens = [t.strip() for t in spec.strip().split("-")]
        if len(tokens) < 2 or any(not t for t in tokens):
            raise ValueError(f"architecture {spec!r}: expected at least an input and an output")
        spec_shape: tuple[int, ...] | None = None
        if tokens[0].lower().endswith("r"):
            raise ValueError(f"architecture {spec!r}: the input {tokens[0]!r} cannot be recurrent")
        if not tokens[0].lower().endswith("c"):
            spec_shape = tuple(_parse_positive_int(t, spec) for t in tokens[0].lower().split("x"))
            tokens = tokens[1:]
        if spec_shape is not None and input_shape is not None:
            if math.prod(spec_shape) != math.prod(input_shape):
                raise ValueError(
                    f"architecture {spec!r} expects {math.prod(spec_shape)} inputs but the data "
                    f"has shape {tuple(input_shape)} ({math.prod(input_shape)} inputs)"
                )
            if len(spec_shape) == 1:
                spec_shape = tuple(input_shape)
        shape = spec_shape if spec_shape is not None else input_shape
        if shape is None:
            raise ValueError(f"architecture {spec!r} has no input token; pass input_shape")
        if len(tokens) < 1:
            raise ValueError(f"architecture {spec!r}: no output layer")
        conv: list[int] = []
        dense: list[int] = []
        recurrent: list[bool] = []
        for token in tokens[:-1]:
            lowered = token.lower()
            if lowered.endswith("c") or lowered.rstrip("r").endswith("c"):
                if "r" in lowered:
                    raise ValueError(f"architecture {spec!r}: conv layer {token!r} cannot be recurrent")
                if dense:
                    raise ValueError(f"architecture {spec!r}: conv layer {token!r} after dense layers")
                conv.append(_parse_positive_int(lowered[:-1], spec))
                continue
            width, _, repeat = lowered.partition("x")
            if repeat.endswith("r"):
                raise ValueError(
                    f"architecture {spec!r}: write the recurrence mark on the width, "
                    f"{width}rx{repeat[:-1]}, not {token!r}"
                )
            is_recurrent = width.endswith("r")
            count = _parse_positive_int(repeat, spec) if repeat else 1
            dense.extend([_parse_positive_int(width.removesuffix("r"), spec)] * count)
            recurrent.extend([is_recurrent] * count)
        if tokens[-1].lower().endswith("r"):
            raise ValueError(f"architecture {spec!r}: the output layer {tokens[-1]!r} cannot be recurrent")
        n_classes = _parse_positive_int(tokens[-1], spec)
        if any(recurrent):
            if "recurrent" in options:
                raise ValueError(
                    f"architecture {spec!r} marks recurrent layers; do not pass recurrent= as well"
                )
            options["recurrent"] = tuple(recurrent)
        return cls(tuple(shape), tuple(conv), tuple(dense), n_classes, _spec=spec, **options)

    # ----------------------------------------------------------------- derived
    @property
    def spec(self) -> str:
        """The canonical spec string, e.g. ``"1x28x28-20c-40c-100-10"`` or ``"784-400-400-10"``.

        The input token is the whole input shape (``"1x8x8"`` for an image fed to a dense net,
        ``"784"`` for a flat input) and repeats are written out, so
        ``Architecture.parse(a.spec, **options) == a`` for every architecture ``a``, where
        ``options`` are its fields that a spec does not name (``sigma``, ``kernel_size``, ...;
        none are needed for the defaults).
        """
        head = "x".join(str(s) for s in self.input_shape)
        flags = self.recurrent or (False,) * len(self.dense_widths)
        body = [f"{w}c" for w in self.conv_widths] + [
            f"{w}r" if r else str(w) for w, r in zip(self.dense_widths, flags)
        ]
        return "-".join([head, *body, str(self.n_classes)])

    @property
    def n_inputs_flat(self) -> int:
        """Number of scalar inputs per sample (``prod(input_shape)``)."""
        return math.prod(self.input_shape)

    @property
    def n_input_neurons(self) -> int:
        """Rows of the input encoding: image channels for a conv net, pixels for a dense net."""
        return self.input_shape[0] if self.conv_widths else self.n_inputs_flat

    @property
    def widths(self) -> tuple[int, ...]:
        """Initial widths of every layer of the genome: conv, dense hidden, output."""
        return self.conv_widths + self.dense_widths + (self.n_classes,)

    @property
    def n_layers(self) -> int:
        """Number of genome layers (conv + dense hidden + output)."""
        return len(self.widths)

    @property
    def n_conv(self) -> int:
        return len(self.conv_widths)

    def is_conv(self, layer: int) -> bool:
        """Whether genome layer ``layer`` is a conv layer (negative counts from the end).

        Raises:
            ValueError: ``layer`` is out of range.
        """
        return self.layer_index(layer) < self.n_conv

    def is_output(self, layer: int) -> bool:
        """Whether genome layer ``layer`` is the output layer (negative counts from the end).

        Raises:
            ValueError: ``layer`` is out of range.
        """
        return self.layer_index(layer) == self.n_layers - 1

    def is_recurrent(self, layer: int) -> bool:
        """Whether genome layer ``layer`` is a recurrent dense hidden layer (negative counts from
        the end).

        Raises:
            ValueError: ``layer`` is out of range.
        """
        index = self.layer_index(layer) - self.n_conv
        return bool(self.recurrent) and 0 <= index < len(self.dense_widths) and self.recurrent[index]

    @property
    def recurrent_layers(self) -> tuple[int, ...]:
        """Genome layer indices of the recurrent layers, in depth order (``()`` when feed-forward)."""
        return tuple(self.n_conv + i for i, flag in enumerate(self.recurrent) if flag)

    @property
    def hidden_layers(self) -> tuple[int, ...]:
        """Indices of the layers whose neuron order carries no meaning."""
        return tuple(range(self.n_layers - 1))

    @property
    def conv_output_hw(self) -> tuple[int, int]:
        """Spatial size ``(h, w)`` of the last conv layer's output after pooling."""
        _, h, w = self.input_shape
        for _ in self.conv_widths:
            h, w = h // self.pool, w // self.pool
        return h, w

    @property
    def n_positions(self) -> int:
        """Spatial positions ``P = h * w`` at the conv-to-dense junction (0 without conv layers)."""
        if not self.conv_widths:
            return 0
        h, w = self.conv_output_hw
        return h * w

    @property
    def uses_position_embeddings(self) -> bool:
        """Whether embedding genomes need shared position embeddings in their input encoding."""
        return bool(self.conv_widths) and self.junction == "position"

    def check_layer(self, layer: int) -> None:
        """Raise ``ValueError`` unless ``layer`` indexes a genome layer (negative counts from the end)."""
        if not -self.n_layers <= layer < self.n_layers:
            raise ValueError(f"layer {layer} out of range: the genome has {self.n_layers} layers")

    def layer_index(self, layer: int) -> int:
        """The non-negative index of genome layer ``layer`` (negative counts from the end).

        Raises:
            ValueError: ``layer`` is out of range.
        """
        self.check_layer(layer)
        return layer % self.n_layers

    # ------------------------------------------------------------- persistence
    def to_json(self) -> str:
        """The fields as JSON (``recurrent`` only when some layer is, so feed-forward
        architectures keep the text, and the identity, they always had)."""
        data = asdict(self)
        data.pop("_spec")
        if not data["recurrent"]:
            data.pop("recurrent")
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Architecture":
        """The architecture :meth:`to_json` wrote."""
        data = json.loads(text)
        data["input_shape"] = tuple(data["input_shape"])
        return cls(**data)

    def with_options(self, **options: Any) -> "Architecture":
        """A copy with some fields changed (e.g. ``sigma="tanh"``)."""
        return replace(self, **options)

    def __str__(self) -> str:
        extras = [f"sigma={self.sigma}"]
        if self.conv_widths:
            extras += [f"k={self.kernel_size}", f"pool={self.pool}", f"junction={self.junction}"]
        return f"{self.spec} ({', '.join(extras)})"
