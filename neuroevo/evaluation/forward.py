"""The batched forward: logits of every genome of a :class:`GenomeStack` on one chunk of data.

Layouts:

* separable conv activations ``[g, c, s, H, W]`` (genome major): a pointwise layer is one batched
  product over the whole tile; the depthwise step and the pooling are
  :func:`~neuroevo.decoding.functional.depthwise_conv` and
  :func:`~neuroevo.decoding.functional.finish_conv_layer`, as in a decoded module;
* standard conv activations ``[s, g * c, H, W]``: the population's channels side by side, so a
  conv layer is one grouped convolution;
* dense activations ``[g, features, s]`` (features by samples), so the output layer is a batched
  product with the few classes as rows. The first layer of a dense network is ONE matrix product
  for the whole stack: ``[g * n, k] @ [k, s]``, where ``k`` is the pixels (dense form) or the
  shared projection ``Z_in^T x^T`` (factored form, computed once per chunk for every stack on that
  input encoding).

Why these layouts: docs/design_notes.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import activation_function, depthwise_conv, finish_conv_layer, junction_inputs
from neuroevo.evaluation.stacking import ConvOperands, DenseOperands, GenomeStack, SharedRows


class FlopCounter:
    """Running total of the floating-point operations of matrix products and convolutions
    (2 per multiply-add; element-wise work is not counted)."""

    def __init__(self) -> None:
        self.total = 0

    def add_matmul(self, batch: int, m: int, k: int, n: int) -> None:
        """Count ``batch`` products of ``[m, k] @ [k, n]``."""
        self.total += 2 * batch * m * k * n


class SharedInputs:
    """One chunk of data as every stack reads it.

    Args:
        images: ``[s, *input_shape]`` or ``[s, n_inputs]``, on the evaluation device.
        counter: where the FLOPs of the shared projections are counted.
    """

    def __init__(self, images: Tensor, counter: FlopCounter) -> None:
        self.images = images
        self.flat = images.reshape(images.shape[0], -1)
        self._counter = counter
        self._projections: dict[str, Tensor] = {}
        self._distinct: dict[int, Tensor] = {}
        self._patches: dict[tuple, Tensor] = {}

    @property
    def n_samples(self) -> int:
        return self.images.shape[0]

    def distinct_first_layer(self, distinct: SharedRows, operand: Tensor) -> Tensor:
        """``[U, s]`` pre-activations of the distinct first-layer records on ``operand`` (``[k, s]``:
        the pixels or the shared projection); computed once per chunk when they serve several
        tiles (``distinct.across_tiles``)."""
        key = id(distinct.rows)
        if key in self._distinct:
            return self._distinct[key]
        self._counter.add_matmul(1, distinct.rows.shape[0], distinct.rows.shape[1], self.n_samples)
        h = torch.addmm(distinct.bias.unsqueeze(1), distinct.rows, operand)
        if distinct.across_tiles:
            self._distinct[key] = h
        return h

    def patches(self, input_shape: tuple[int, int, int], k: int) -> Tensor:
        """``[C * k * k, s * H * W]``: every sample's ``k x k`` neighbourhoods ("same" zero padding),
        rows ordered (channel, kernel row, kernel column) as ``F.unfold``, columns (sample, y, x);
        computed once per chunk and kernel size."""
        key = (tuple(input_shape), k)
        if key not in self._patches:
            images = self.images.reshape(self.n_samples, *input_shape)
            unfolded = F.unfold(images, k, padding=k // 2)  # [s, C k k, H W]
            self._patches[key] = unfolded.transpose(0, 1).reshape(unfolded.shape[1], -1)
        return self._patches[key]

    def projection(self, encoding_id: str, input_embeddings: Tensor) -> Tensor:
        """``(x @ Z_in)^T``, ``[d, s]``: computed once per chunk and input encoding."""
        if encoding_id not in self._projections:
            self._projections[encoding_id] = input_embeddings.T @ self.flat.T
            m, d = input_embeddings.shape
            self._counter.add_matmul(1, d, m, self.n_samples)
        return self._projections[encoding_id]


def stack_logits(stack: GenomeStack, inputs: SharedInputs, counter: FlopCounter) -> Tensor:
    """Logits of every genome of ``stack`` on one chunk.

    Args:
        stack: ``g`` genomes' operands, on the device of ``inputs``.
        inputs: the chunk (``s`` samples).
        counter: FLOPs performed are added here.

    Returns:
        ``[g, n_classes, s]`` logits.
    """
    arch = stack.architecture
    activate = activation_function(arch.activation, in_place=True)
    if arch.n_conv and arch.conv_style == "separable":
        h = _separable_features(stack, inputs, counter)
        layers = stack.dense
    elif arch.n_conv:
        h = _conv_features(stack, inputs, counter).permute(1, 2, 0)  # [g, features, s]
        layers = stack.dense
    else:
        h = _first_dense_layer(stack, inputs, counter)
        layers = stack.dense[1:]
        if layers:
            h = activate(h)
    for index, layer in enumerate(layers):
        h = _dense_layer(layer, h, counter)
        if index < len(layers) - 1:
            h = activate(h)
    return h


def _first_dense_layer(stack: GenomeStack, inputs: SharedInputs, counter: FlopCounter) -> Tensor:
    """``[g * n, k] @ [k, s]`` on the shared input, as ``[g, n, s]``; with shared rows, only the
    ``U`` distinct records are multiplied (``[U, k] @ [k, s]``) and then gathered."""
    layer = stack.dense[0]
    g, n = layer.bias.shape
    if layer.factored:
        rows = layer.z_next.reshape(g * n, -1)
        shared = inputs.projection(stack.encoding_id, stack.input_embeddings)
    else:
        rows = layer.matrix.reshape(g * n, -1)
        shared = inputs.flat.T
    distinct = stack.first_rows
    if distinct is not None:
        h = inputs.distinct_first_layer(distinct, shared)
        return h.index_select(0, distinct.index).view(g, n, inputs.n_samples)
    counter.add_matmul(1, g * n, rows.shape[1], inputs.n_samples)
    return torch.addmm(layer.bias.reshape(g * n, 1), rows, shared).view(g, n, inputs.n_samples)


def _dense_layer(layer: DenseOperands, h: Tensor, counter: FlopCounter) -> Tensor:
    """``[g, m, s] -> [g, n, s]`` in the layer's form."""
    g, m, s = h.shape
    bias = layer.bias.unsqueeze(-1)
    if not layer.factored:
        counter.add_matmul(g, layer.matrix.shape[1], m, s)
        return torch.baddbmm(bias, layer.matrix, h)
    d = layer.z_next.shape[-1]
    counter.add_matmul(g, d, m, s)
    counter.add_matmul(g, layer.z_next.shape[1], d, s)
    return torch.baddbmm(bias, layer.z_next, torch.bmm(layer.z_prev.transpose(1, 2), h))


def _separable_features(stack: GenomeStack, inputs: SharedInputs, counter: FlopCounter) -> Tensor:
    """Separable conv layers in the ``[g, c, s, H, W]`` layout, then the junction: ``[g, features, s]``
    (features channel major, as ``torch.flatten`` of ``[c, h, w]``; ``"gap"``: ``[g, c, s]``)."""
    arch = stack.architecture
    s = inputs.n_samples
    c, height, width = arch.input_shape
    k = arch.kernel_size
    for index, layer in enumerate(stack.conv):
        bias = None
        if index == 0 and _fuse_first_layer(c, k):
            h = _fused_first_layer(layer, inputs.patches(arch.input_shape, k), s, height, width, counter)
            bias = layer.bias.reshape(*layer.bias.shape, 1, 1, 1)
        else:
            if index == 0:
                h = inputs.images.reshape(s, c, height, width).transpose(0, 1).unsqueeze(0)  # [1, C, s, H, W]
            h = _separable_layer(layer, h, k, counter)
        h = finish_conv_layer(h, arch, bias=bias, in_place=True)
        height, width = h.shape[-2:]
    if arch.junction == "gap":
        return h.mean(dim=(3, 4))
    g, c, _, height, width = h.shape
    return h.permute(0, 1, 3, 4, 2).reshape(g, c * height * width, s)


def _fuse_first_layer(c_in: int, k: int) -> bool:
    """Whether the first (shared-input) separable layer runs as one fused product on the image
    patches: it multiplies ``c_in k^2`` per output instead of ``c_in + k^2``, and is worth it while
    that is at most 3 times as many (one to three image channels at ``k = 3``)."""
    return c_in * k * k <= 3 * (c_in + k * k)


def _fused_first_layer(layer: ConvOperands, patches: Tensor, s: int, height: int, width: int,
                       counter: FlopCounter) -> Tensor:
    """The first separable layer of ``g`` genomes on the shared image as ONE product: each output
    channel's pointwise weights times its kernel (``[g c_out, c_in k k]``) by the patches
    (``[c_in k k, s H W]``): ``[g, c_out, s, H, W]``, WITHOUT the bias (added after pooling, on a
    quarter of the values, by :func:`~neuroevo.decoding.functional.finish_conv_layer`)."""
    g, c_out, c_in = layer.weight.shape
    fused = (layer.weight.unsqueeze(-1) * layer.kernels.reshape(g, c_out, 1, -1)).reshape(g * c_out, -1)
    counter.add_matmul(1, g * c_out, fused.shape[1], patches.shape[1])
    return (fused @ patches).view(g, c_out, s, height, width)


def _separable_layer(layer: ConvOperands, h: Tensor, k: int, counter: FlopCounter) -> Tensor:
    """Reverse-order separable conv of ``g`` genomes: ``[g or 1, c_in, s, H, W] -> [g, c_out, s, H, W]``
    (a leading 1: the shared input). Pointwise ``[c_out, c_in]`` product, then each channel's own
    ``k x k`` kernel ("same" zero padding) as ``k * k`` multiply-adds of shifted windows, plus the
    bias."""
    g, c_out, c_in = layer.weight.shape
    _, _, s, height, width = h.shape
    if h.shape[0] == 1:
        mixed = (layer.weight.reshape(g * c_out, c_in) @ h.reshape(c_in, -1)).view(g, c_out, s, height, width)
        counter.add_matmul(1, g * c_out, c_in, s * height * width)
    else:
        mixed = torch.bmm(layer.weight, h.reshape(g, c_in, -1)).view(g, c_out, s, height, width)
        counter.add_matmul(g, c_out, c_in, s * height * width)
    counter.total += 2 * g * c_out * k * k * s * height * width
    return depthwise_conv(mixed, layer.kernels.unsqueeze(2), layer.bias.unsqueeze(2))


def _conv_features(stack: GenomeStack, inputs: SharedInputs, counter: FlopCounter) -> Tensor:
    """Standard conv layers as grouped convolutions, then the junction: ``[s, g, features]``."""
    arch = stack.architecture
    s = inputs.n_samples
    g = stack.n_genomes
    h = inputs.images.reshape(s, *arch.input_shape)
    height, width = arch.input_shape[1:]
    for index, layer in enumerate(stack.conv):
        h = _conv_layer(layer, h, arch, shared_input=index == 0)
        counter.total += _conv_flops(layer, s, height, width)
        h = finish_conv_layer(h, arch, in_place=True)
        height, width = h.shape[2:]
    c = stack.widths[arch.n_conv - 1]
    return junction_inputs(h.reshape(s * g, c, height, width), arch).view(s, g, -1)


def _conv_layer(layer: ConvOperands, h: Tensor, arch: Architecture, *, shared_input: bool) -> Tensor:
    """One standard conv layer of ``g`` genomes: ``[s, c_in or g * c_in, H, W] -> [s, g * c_out, H, W]``.

    The first layer reads the shared image (one convolution with all genomes' filters); later
    layers read each genome's own channels (``groups=g``).
    """
    g, c_out = layer.bias.shape
    groups = 1 if shared_input else g
    return F.conv2d(h, layer.weight.flatten(0, 1), layer.bias.reshape(g * c_out), padding=arch.kernel_size // 2,
                    groups=groups)


def _conv_flops(layer: ConvOperands, s: int, height: int, width: int) -> int:
    """FLOPs of one standard conv layer of the stack on ``s`` samples at ``height x width``."""
    return 2 * s * layer.weight.shape[0] * layer.weight[0].numel() * height * width  # c_out * c_in * k * k
