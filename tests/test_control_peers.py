"""Fast checks of examples/control_peers.py (issue 18's peers): record fields and evaluation counting.

The runs here are tiny (short episodes via ``max_steps``, eager rollouts): they check the protocol's
bookkeeping, not the peers' performance.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cma", reason="CMA-ES peer needs the cma package (the project's optional 'bench' extra)")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "control_peers.py"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("control_peers", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["control_peers"] = module
    spec.loader.exec_module(module)
    return module


def needs_neat():
    return pytest.importorskip("neat", reason="the NEAT peer needs neat-python 2.0 (the optional 'bench' extra)")


def check_record(peers, record, *, task, algorithm, operator, seed):
    assert tuple(record) == peers.RECORD_FIELDS
    assert record["task"] == task and record["algorithm"] == algorithm and record["operator"] == operator
    assert record["encoding"] == ("direct" if algorithm == "cma-es" else "neat")
    assert record["variation"] == "peer" and record["seed"] == seed
    assert record["solved"] == (record["evaluations_to_solve"] is not None)
    assert isinstance(record["wall_s"], float) and record["wall_s"] >= 0
    if task != "double-pole-nv" or not record["solved"]:
        assert record["generalisation"] is None
    json.dumps(record)


def test_network_shapes_and_layout(peers):
    assert peers.network_shapes("double-pole")["parameters"] == 7
    nv = peers.network_shapes("double-pole-nv")
    assert nv == {"inputs": 3, "hidden": 2, "outputs": 1, "recurrent": True, "parameters": 15}
    vectors = np.arange(2 * 15, dtype=np.float64).reshape(2, 15)
    policy = peers.policy_from_vectors(vectors, nv)
    assert policy.sizes == (3, 2, 1) and policy.recurrent[0] is not None
    assert policy.weights[0][1].flatten().tolist() == list(range(15, 21))  # W1 first, row-major
    assert policy.recurrent[0][0].flatten().tolist() == [6, 7, 8, 9]
    assert policy.biases[1][0].tolist() == [14]
    with pytest.raises(ValueError, match="recurrent network needs hidden"):
        peers.network_shapes("double-pole", hidden=0, recurrent=True)


def test_cma_counts_whole_generations_up_to_the_solution(peers, monkeypatch):
    generations = []
    original = peers._CmaEvaluator.__call__

    def spy(self, policy):
        out = original(self, policy)
        generations.append((policy.population, out[1] is not None))
        return out

    monkeypatch.setattr(peers._CmaEvaluator, "__call__", spy)
    record = peers.run_cma("double-pole", 3, max_steps=60, compile=False)
    check_record(peers, record, task="double-pole", algorithm="cma-es", operator="ipop", seed=3)
    assert record["solved"]
    assert record["evaluations_to_solve"] == sum(p for p, _ in generations)
    assert generations[-1][1] and not any(s for _, s in generations[:-1])


def test_cma_cap_stops_before_a_generation_would_pass_it(peers):
    # popsize 9 (cma's default for 7 weights): a cap of 17 allows exactly one generation
    record = peers.run_cma("double-pole", 0, cap=17, max_steps=2000, compile=False)
    check_record(peers, record, task="double-pole", algorithm="cma-es", operator="ipop", seed=0)
    assert not record["solved"] and record["evaluations_to_solve"] is None


def test_cma_nv_solve_check_and_generalisation(peers, monkeypatch):
    calls = []
    original = peers.solve_check

    def spy(policy, **kwargs):
        calls.append(kwargs["steps"])
        return original(policy, **kwargs)

    monkeypatch.setattr(peers, "solve_check", spy)
    record = peers.run_cma("double-pole-nv", 1, cap=60, max_steps=20, long_steps=30, compile=False)
    check_record(peers, record, task="double-pole-nv", algorithm="cma-es", operator="ipop", seed=1)
    if record["solved"]:
        assert calls and isinstance(record["generalisation"], int) and 200 <= record["generalisation"] <= 625
    assert all(steps == 30 for steps in calls)


def test_bipop_operator(peers):
    record = peers.run_cma("double-pole", 0, restarts="bipop", max_steps=40, compile=False)
    check_record(peers, record, task="double-pole", algorithm="cma-es", operator="bipop", seed=0)
    with pytest.raises(ValueError, match="restarts"):
        peers.run_cma("double-pole", 0, restarts="lpop")


def test_neat_config_loads(peers):
    needs_neat()
    config = peers.neat_config("double-pole-nv", population=20)
    assert config.pop_size == 20 and config.genome_config.num_inputs == 3
    assert not config.genome_config.feed_forward
    assert peers.neat_config("double-pole").genome_config.feed_forward


def test_neat_counts_whole_generations(peers, monkeypatch):
    needs_neat()
    sizes = []
    original = peers._NeatEvaluator.__call__

    def spy(self, genomes, config):
        out = original(self, genomes, config)
        sizes.append(len(genomes))
        return out

    monkeypatch.setattr(peers._NeatEvaluator, "__call__", spy)
    record = peers.run_neat("double-pole", 0, population=20, max_steps=40, compile=False)
    check_record(peers, record, task="double-pole", algorithm="neat", operator="neat", seed=0)
    assert record["solved"] and record["evaluations_to_solve"] == sum(sizes)
    unsolved = peers.run_neat("double-pole", 0, population=20, cap=19, max_steps=40, compile=False)
    assert not unsolved["solved"] and unsolved["evaluations_to_solve"] is None


def test_lockstep_matches_one_at_a_time(peers):
    needs_neat()
    config = peers.neat_config("double-pole-nv", population=6)
    import neat

    population = neat.Population(config, seed=0)
    genomes = list(population.population.values())[:4]
    env = peers.make_env("double-pole-nv", max_steps=50)
    together, scores = peers.lockstep_episodes([neat.nn.RecurrentNetwork.create(g, config) for g in genomes], env)
    alone = [peers.lockstep_episodes([neat.nn.RecurrentNetwork.create(g, config)], env)[0][0] for g in genomes]
    assert together.tolist() == [float(a) for a in alone]
    assert scores is not None and scores.shape == (4,)


def test_cli_resumes(peers, tmp_path, monkeypatch, capsys):
    calls = []

    def fake(task, seed, **kwargs):
        calls.append(seed)
        return peers._record(task, "cma-es", kwargs["restarts"], seed, 100 + seed, None, 0.5)

    monkeypatch.setattr(peers, "run_cma", fake)
    output = tmp_path / "runs.json"
    assert peers.main(["--task", "double-pole", "--algorithm", "cma-es", "--seeds", "0-2", "--output", str(output)]) == 0
    assert peers.main(["--task", "double-pole", "--algorithm", "cma-es", "--seeds", "1-3", "--output", str(output)]) == 0
    assert calls == [0, 1, 2, 3]
    content = json.loads(output.read_text())
    assert [r["seed"] for r in content["runs"]] == [0, 1, 2, 3]
    assert "commit" in content and "skipped" in capsys.readouterr().out
    assert peers.parse_seeds("0,2,5-7") == [0, 2, 5, 6, 7]


def test_summary(peers):
    runs = [peers._record("double-pole", "cma-es", "ipop", s, e, None, 1.0) for s, e in enumerate([100, 300, None])]
    summary = peers.summarise(runs)
    assert summary["solved"] == 2 and summary["median_evaluations"] == 200.0 and summary["runs"] == 3
