"""The direct genome: ordinary weight matrices, the baseline every experiment compares against."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.genomes.base import Genome
from neuroevo.neurons import NeuronSet, row_ranks


class DirectGenome(Genome):
    """A network stored as weight matrices, with neurons as rows.

    Each neuron's record is its *incoming* weights and bias, so the operators that move neuron
    records work on both encodings alike:

    * dense layer: ``weight [fan_in]``, ``bias []``, where ``fan_in`` is the previous width, the
      number of input pixels, or at the conv-to-dense junction ``c_last * P`` (flatten, channel
      major as ``torch.flatten``) or ``c_last`` (``"gap"`` junction);
    * separable conv layer: ``weight [c_prev]`` (1x1 pointwise), ``kernels [k, k]`` (its own
      depthwise kernel), ``bias []``;
    * standard conv layer: ``weight [c_prev, k, k]``, ``bias []``;
    * recurrent dense layer: also ``recurrent [n]``, its recurrent incoming weights: neuron ``j``'s
      ``recurrent[i]`` is the weight from the layer's own neuron ``i`` at step ``t - 1`` to ``j``
      at step ``t`` (the layer's ``recurrent`` field ``[n, n]`` is ``W_rec^T``).

    A neuron's *outgoing* weights are columns of the next layer's records (and, in a recurrent
    layer, columns of its own layer's ``recurrent`` field), which is why permuting a hidden layer
    also permutes those columns (:meth:`permute_layer`).
    """

    encoding = "direct"

    def __init__(self, architecture: Architecture, layers: Sequence[NeuronSet]) -> None:
        super().__init__(architecture, layers)
        self.validate()

    @classmethod
    def random(cls, architecture: Architecture, *, generator: torch.Generator | None = None) -> "DirectGenome":
        """PyTorch's default initialisation (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as ``nn.Linear``
        and ``nn.Conv2d``) for every weight, kernel and bias; recurrent weights
        ``U(-1/sqrt(n), 1/sqrt(n))`` (``n`` the layer's width, as ``nn.RNN``)."""
        layers = []
        for index, width in enumerate(architecture.widths):
            shapes = direct_record_shapes(architecture, index, architecture.widths)
            fields = {
                name: (torch.rand(width, *shape, generator=generator) * 2 - 1) / math.sqrt(math.prod(shape))
                for name, shape in shapes.items()
                if name != "bias"
            }
            fan_in = math.prod(shapes["weight"])
            fields["bias"] = (torch.rand(width, generator=generator) * 2 - 1) / math.sqrt(fan_in)
            layers.append(NeuronSet(**fields))
        return cls(architecture, layers)

    def expected_fields(self, index: int) -> dict[str, tuple[int, ...]]:
        return direct_record_shapes(self.architecture, index, self.widths)

    def _validate_layer(self, index: int, layer: NeuronSet) -> None:
        self._check_fields(index, layer)

    def _permute_references(self, index: int, permutation: Tensor) -> None:
        successor = self.layers[index + 1]
        self.layers[index + 1] = successor.replace(
            weight=permute_incoming_columns(self.architecture, index + 1, successor["weight"], permutation)
        )
        layer = self.layers[index]
        if "recurrent" in layer:
            recurrent = layer["recurrent"]
            self.layers[index] = layer.replace(recurrent=recurrent.index_select(1, permutation.to(recurrent.device)))

    def canonical_orders(self) -> list[Tensor]:
        """The canonical order of every hidden layer (see :meth:`Genome.canonical_orders`).

        A neuron's record here is its incoming weights, read in the previous layer's order, so
        layers are sorted in depth order, each after the previous one's columns have been put in
        canonical order. A recurrent layer is sorted by its records without the ``recurrent``
        field (read in the layer's own order, which is being decided). When that leaves two
        neurons of a layer with equal records (their outgoing or recurrent weights may still
        differ), the order comes from the whole network instead
        (:func:`canonical_orders_by_refinement`).
        """
        arch = self.architecture
        orders: list[Tensor] = []
        for index in arch.hidden_layers:
            layer = self.layers[index]
            if index:
                layer = layer.replace(
                    weight=permute_incoming_columns(arch, index, layer["weight"], orders[-1])
                )
            ranks = without_recurrent(layer).record_ranks()
            if int(ranks.max()) + 1 < len(ranks):
                return canonical_orders_by_refinement(self)
            order = torch.empty_like(ranks)
            order[ranks] = torch.arange(len(ranks), device=ranks.device)
            orders.append(order)
        return orders

    def parameter_counts(self) -> dict[str, int]:
        """``weights`` (incl. pointwise), ``kernels`` (depthwise), ``biases``, and ``recurrent``
        (recurrent weights) when the architecture has recurrent layers."""
        counts = {"weights": 0, "kernels": 0, "biases": 0}
        if self.architecture.recurrent_layers:
            counts["recurrent"] = 0
        for layer in self.layers:
            counts["weights"] += layer["weight"].numel()
            counts["biases"] += layer["bias"].numel()
            for name in ("kernels", "recurrent"):
                if name in layer:
                    counts[name] += layer[name].numel()
        return counts


def direct_record_shapes(
    architecture: Architecture, index: int, widths: Sequence[int]
) -> dict[str, tuple[int, ...]]:
    """Per-neuron field shapes of layer ``index`` of a direct genome whose layers have ``widths``."""
    arch = architecture
    k = arch.kernel_size
    if arch.is_conv(index):
        c_prev = arch.input_shape[0] if index == 0 else widths[index - 1]
        if arch.conv_style == "standard":
            return {"weight": (c_prev, k, k), "bias": ()}
        return {"weight": (c_prev,), "kernels": (k, k), "bias": ()}
    if index == 0:
        fan_in = arch.n_inputs_flat
    elif index == arch.n_conv:
        c_last = widths[index - 1]
        fan_in = c_last if arch.junction == "gap" else c_last * arch.n_positions
    else:
        fan_in = widths[index - 1]
    if arch.is_recurrent(index):
        return {"weight": (fan_in,), "recurrent": (widths[index],), "bias": ()}
    return {"weight": (fan_in,), "bias": ()}


def without_recurrent(layer: NeuronSet) -> NeuronSet:
    """``layer``'s records without the ``recurrent`` field (the fields that do not refer to the
    layer's own neurons by position; the tensors are shared)."""
    if "recurrent" not in layer:
        return layer
    return NeuronSet(**{name: t for name, t in layer.items() if name != "recurrent"})


def incoming_blocks(architecture: Architecture, index: int, weight: Tensor) -> Tensor:
    """Layer ``index``'s incoming weights grouped by sending neuron (a view).

    Args:
        weight: ``[..., n, *record]``, the ``weight`` field of layer ``index`` (``index >= 1``),
            maybe with extra leading dimensions (e.g. a population axis).

    Returns:
        ``[..., n, n_prev, r]``: block ``[j, i]`` holds the ``r`` weights from neuron ``i`` of layer
        ``index - 1`` to neuron ``j`` (``r = k * k`` for a standard conv layer, the number of
        positions ``P`` at a flattening conv-to-dense junction, else 1).
    """
    arch = architecture
    if arch.is_conv(index) and arch.conv_style == "standard":
        return weight.flatten(-2)
    if index == arch.n_conv and arch.n_conv and arch.junction != "gap":
        return weight.unflatten(-1, (-1, arch.n_positions))
    return weight.unsqueeze(-1)


def permute_incoming_columns(
    architecture: Architecture, index: int, weight: Tensor, permutation: Tensor
) -> Tensor:
    """Reorder the columns of layer ``index``'s incoming weights to follow a permutation of layer
    ``index - 1``'s neurons (a new tensor).

    ``weight`` may carry extra leading dimensions (e.g. a population axis); the neuron axis is the
    one before the record dimensions.
    """
    blocks = incoming_blocks(architecture, index, weight)
    return blocks.index_select(-2, permutation.to(weight.device)).reshape(weight.shape)


# ------------------------------------------------------------ canonical order of tied records
def canonical_orders_by_refinement(genome: DirectGenome) -> list[Tensor]:
    """The canonical order of every hidden layer, from the whole network (incoming *and* outgoing
    weights), for genomes in which neurons of a layer have equal incoming records.

    The network is a layered weighted graph whose inputs and output neurons (classes) have fixed
    positions; its canonical form is found as graph canonisers do (individualisation and
    refinement). Hidden neurons are coloured by colour refinement: a neuron's colour is refined by
    its own fields (bias, kernels, first-layer weights, recurrent self-weight), by the multiset of
    its incoming weight blocks from each colour class of the previous layer, by the multiset of its
    outgoing blocks to each class of the next layer and, in a recurrent layer, by the multisets of
    its recurrent incoming and outgoing weights per class of its own layer, until no class splits. A class that remains is split by
    individualising each of its neurons in turn and refining again, down to orders that tell every
    neuron apart; the canonical order is the one whose reordered genome is lexicographically
    smallest. Branches that an automorphism of the network maps onto an explored one are skipped
    (twins, neurons with equal fields, incoming and outgoing weights, at once, in feed-forward
    layers; others once two orders give the same genome). Every step depends only on the network, not on the stored
    order, so a genome and any permuted copy get the same canonical form. The search branches
    only on neurons that refinement cannot tell apart: twins, or highly symmetric weight patterns
    (which can make it slow) that trained real-valued networks do not have.

    Returns:
        ``orders[l]``: a permutation ``[n_l]`` per hidden layer, as :meth:`Genome.canonical_orders`.
    """
    return _CanonicalSearch(genome).run()


class _CanonicalSearch:
    """State of :func:`canonical_orders_by_refinement`'s search: the network as own fields and
    incoming blocks per layer, the best leaf so far, and the automorphisms found."""

    def __init__(self, genome: DirectGenome) -> None:
        arch = genome.architecture
        self.genome = genome
        self.own: list[Tensor] = []  # [n_l, a] bias, kernels, recurrent self-weight (first layer: weights)
        self.incoming: list[Tensor | None] = [None]  # [n_l, n_{l-1}, r] from layer 1 on
        self.recurrent: list[Tensor | None] = []  # [n_l, n_l] (target, source) in recurrent layers
        for index, layer in enumerate(genome.layers):
            fields = layer.as_dict()
            if index:
                self.incoming.append(incoming_blocks(arch, index, fields.pop("weight").detach()).double())
            recurrent = fields.pop("recurrent", None)
            self.recurrent.append(None if recurrent is None else recurrent.detach().double())
            own = NeuronSet(**fields).record_matrix()
            if recurrent is not None:
                own = torch.cat([own, self.recurrent[-1].diagonal().unsqueeze(1)], dim=1)
            self.own.append(own)
        self.leaves: list[tuple[list[Tensor], Tensor | None]] = []  # the first and the best leaf
        self.automorphisms: list[list[Tensor]] = []  # per hidden layer: neuron -> neuron

    def run(self) -> list[Tensor]:
        hidden = self.genome.architecture.hidden_layers
        colors = [row_ranks(self.own[index]) for index in hidden]
        colors.append(torch.arange(len(self.genome.layers[-1]), device=colors[0].device))  # classes
        self.explore(colors, [])
        return self.leaves[-1][0]

    def explore(self, colors: list[Tensor], path: list[tuple[int, int]]) -> None:
        """Search below the node with these colours, reached by individualising ``path``'s
        ``(layer, neuron)`` pairs."""
        colors = _refined(colors, self.incoming, self.recurrent)
        for index in self.genome.architecture.hidden_layers:
            counts = torch.bincount(colors[index])
            if bool((counts > 1).any()):
                break
        else:
            self.leaf([torch.sort(c).indices for c in colors[:-1]])
            return
        cell = int(torch.nonzero(counts > 1)[0])
        members = torch.nonzero(colors[index] == cell).flatten().tolist()
        explored: list[int] = []
        for neuron in members:
            orbit = self.orbits(index, members, path)
            if any(orbit[neuron] == orbit[other] for other in explored):
                continue
            explored.append(neuron)
            split = colors[index] * 2 + 1
            split[neuron] -= 1
            trial = list(colors)
            trial[index] = torch.unique(split, return_inverse=True)[1]
            self.explore(trial, path + [(index, neuron)])

    def leaf(self, orders: list[Tensor]) -> None:
        """Keep the first leaf and the lexicographically smallest; an equal genome from another
        order is an automorphism (keys are computed only once a second leaf exists)."""
        if not self.leaves:
            self.leaves.append((orders, None))
            return
        self.leaves = [(o, self.key(o) if k is None else k) for o, k in self.leaves]
        key = self.key(orders)
        for other, other_key in self.leaves:
            if torch.equal(key, other_key):
                mapping = []
                for a, b in zip(other, orders):
                    gamma = torch.empty_like(a)
                    gamma[a] = b
                    mapping.append(gamma)
                self.automorphisms.append(mapping)
                return
        if _lexicographically_less(key, self.leaves[-1][1]):
            self.leaves = [self.leaves[0], (orders, key)]

    def key(self, orders: list[Tensor]) -> Tensor:
        """The genome reordered by ``orders``, flattened (float64)."""
        return torch.cat([t.reshape(-1).double() for layer in self.genome._reordered_layers(orders)
                          for _, t in layer.items()])

    def orbits(self, index: int, members: list[int], path: list[tuple[int, int]]) -> list[int]:
        """An orbit label per neuron of layer ``index`` under the automorphisms known to fix every
        neuron of ``path``: transpositions of twins among ``members`` (feed-forward layers), and
        those found at leaves."""
        parent = list(range(len(self.genome.layers[index])))

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def join(x: int, y: int) -> None:
            parent[root(x)] = root(y)

        if self.recurrent[index] is None:  # twins of a recurrent layer also need equal recurrent links
            neighbourhood = [self.own[index][members],
                             self.incoming[index + 1][:, members].transpose(0, 1).flatten(1)]
            if index:
                neighbourhood.append(self.incoming[index][members].flatten(1))
            twins = row_ranks(torch.cat(neighbourhood, dim=1)).tolist()
            first_twin: dict[int, int] = {}
            for neuron, twin in zip(members, twins):
                join(neuron, first_twin.setdefault(twin, neuron))
        for gamma in self.automorphisms:
            if all(int(gamma[layer][neuron]) == neuron for layer, neuron in path):
                for x, y in enumerate(gamma[index].tolist()):
                    join(x, y)
        return [root(x) for x in parent]


def _refined(colors: list[Tensor], incoming: list[Tensor | None], recurrent: list[Tensor | None]) -> list[Tensor]:
    """Colour refinement of the hidden layers (``colors[-1]``, the output layer, stays fixed):
    each neuron's new colour ranks (old colour, multisets of incoming and outgoing blocks per
    neighbouring colour class, and of recurrent incoming and outgoing weights per colour class of
    its own layer), repeated until no class splits."""
    colors = list(colors)
    while True:
        before = sum(int(c.max()) + 1 for c in colors)
        for index in range(len(colors) - 1):
            keys = [colors[index].double().unsqueeze(1),
                    _grouped_blocks(incoming[index + 1].transpose(0, 1), colors[index + 1])]
            if index:
                keys.append(_grouped_blocks(incoming[index], colors[index - 1]))
            if recurrent[index] is not None:
                links = recurrent[index].unsqueeze(-1)  # [target, source, 1]
                keys += [_grouped_blocks(links, colors[index]), _grouped_blocks(links.transpose(0, 1), colors[index])]
            colors[index] = row_ranks(torch.cat(keys, dim=1))
        if sum(int(c.max()) + 1 for c in colors) == before:
            return colors


def _grouped_blocks(blocks: Tensor, colors: Tensor) -> Tensor:
    """Each row's blocks as sorted multisets per colour class of the other layer.

    Args:
        blocks: ``[n, m, r]``: block ``[j, i]`` links neuron ``j`` to neuron ``i`` of the other layer.
        colors: ``[m]`` colour of each neuron of the other layer.

    Returns:
        ``[n, m * r]``: per row, the blocks ordered by colour, then lexicographically; two rows
        are equal exactly when they link to every colour class by the same multiset of blocks.
    """
    n, m, r = blocks.shape
    order = torch.arange(m, device=blocks.device).expand(n, m)
    for k in reversed(range(r)):
        order = order.gather(1, torch.sort(blocks[..., k].gather(1, order), dim=1, stable=True).indices)
    order = order.gather(1, torch.sort(colors[order], dim=1, stable=True).indices)
    return blocks.gather(1, order.unsqueeze(-1).expand(n, m, r)).reshape(n, m * r)


def _lexicographically_less(a: Tensor, b: Tensor) -> bool:
    """Whether vector ``a`` sorts before vector ``b`` (same length)."""
    differ = torch.nonzero(a != b)
    return bool(differ.numel()) and bool(a[differ[0, 0]] < b[differ[0, 0]])
