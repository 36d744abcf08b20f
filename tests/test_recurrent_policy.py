"""stack_policies: genomes as one StackedPolicy, step for step what their decoded modules compute."""

from __future__ import annotations

import pytest
import torch

from neuroevo.architecture import Architecture
from neuroevo.control.genome_policy import stack_policies
from neuroevo.decoding import decode
from neuroevo.encoding import InputEncoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome

D = 8


def population(encoding: str, spec: str, size: int, seed: int = 0, *, shared: bool = True) -> list[Genome]:
    arch = Architecture.parse(spec, activation="tanh")
    generator = torch.Generator().manual_seed(seed)
    if encoding == "direct":
        return [DirectGenome.random(arch, generator=generator) for _ in range(size)]
    basis = InputEncoding.random(arch.n_input_neurons, D, generator=generator)
    return [
        EmbeddingGenome.random(arch, input_encoding=basis if shared else None, d=D, generator=generator)
        for _ in range(size)
    ]


@pytest.mark.parametrize("spec", ["4-16-2", "3-6r-2", "3-5r-4-6r-2"])
@pytest.mark.parametrize("encoding, shared", [("embedding", True), ("embedding", False), ("direct", True)])
def test_stacked_policy_steps_as_the_decoded_genomes(encoding, shared, spec):
    genomes = population(encoding, spec, 3, shared=shared)
    policy = stack_policies(genomes)
    assert policy.population == 3 and policy.activation == "tanh"
    assert [r is not None for r in policy.recurrent] == [
        genomes[0].architecture.is_recurrent(i) for i in range(genomes[0].n_layers)
    ]
    episodes, n_inputs = 5, genomes[0].architecture.n_inputs_flat
    policy.reset(episodes)
    networks = [decode(g) for g in genomes]
    states = [net.initial_state(episodes) for net in networks]
    x = torch.randn(6, 3, episodes, n_inputs, generator=torch.Generator().manual_seed(1))
    for t in range(6):
        outputs = policy(x[t])
        for p, net in enumerate(networks):
            expected, states[p] = net.step(x[t, p], states[p])
            torch.testing.assert_close(outputs[p], expected, atol=1e-5, rtol=1e-4)


def test_stacked_policy_shares_no_storage_with_the_genomes():
    genomes = population("direct", "3-6r-2", 2)
    policy = stack_policies(genomes)
    policy.recurrent[0].zero_()
    assert bool(genomes[0].layers[0]["recurrent"].abs().sum() > 0)


@pytest.mark.parametrize(
    "genomes, message",
    [
        ([], "at least one genome"),
        (population("direct", "3-6r-2", 1) + population("direct", "3-6-2", 1), "architecture"),
        (population("direct", "3-6r-2", 1) + population("embedding", "3-6r-2", 1), "encoding"),
        (population("direct", "1x4x4-2c-3-2", 1), "conv layers"),
    ],
)
def test_stack_policies_refuses_what_does_not_stack(genomes, message):
    with pytest.raises(ValueError, match=message):
        stack_policies(genomes)


def test_stack_policies_refuses_different_widths():
    genomes = population("embedding", "3-6r-2", 2)
    genomes[1].layers[0] = genomes[1].layers[0].select([0, 1, 2])
    with pytest.raises(ValueError, match=r"genomes\[1\] has widths \(3, 2\)"):
        stack_policies(genomes)
