"""The peers of issue 18, run side by side on the project's own environments: CMA-ES and NEAT.

Each function runs ONE independent run of a peer on one task and returns one record::

    {"task", "algorithm", "encoding", "variation": "peer", "operator", "seed",
     "evaluations_to_solve", "solved", "generalisation", "wall_s"}

* :func:`run_cma`: CMA-ES (Hansen & Ostermeier 2001; the ``cma`` package) with IPOP restarts
  (Auger & Hansen 2005, "A restart CMA evolution strategy with increasing population size") or BIPOP
  restarts (Hansen 2009, "Benchmarking a BI-population CMA-ES on the BBOB-2009 function testbed") on
  the flat weight vector of a fixed-topology network. A whole CMA population is one
  :class:`~neuroevo.control.policy.StackedPolicy` evaluated in one batched
  :func:`~neuroevo.control.rollout.rollout`.
* :func:`run_neat`: NEAT (Stanley & Miikkulainen 2002, "Evolving neural networks through augmenting
  topologies") as neat-python 2.0 implements it, with its own topologies; the networks of a
  generation step in lockstep through one batch of our environment (one row per genome; each
  network's ``activate`` is called on its row's observation every step).

Protocol (DESIGN.md, "Control tasks: sources and anchors"; issue 18):

* One start state and one input scaling for every peer: our environment's defaults
  (:mod:`neuroevo.control.envs.double_pole`: the long pole at 1 degree, everything else 0, no cart
  friction, NEAT's input scaling x/4.8, xdot/2, theta/0.52, thetadot/2).
* Every episode run for fitness counts as one evaluation. The solve tests (the non-Markov 100,000-step
  check and 625-start generalisation test; the Gymnasium 100-episode test) are not counted, as in
  Gomez et al. (JMLR 2008).
* ``evaluations_to_solve`` counts every evaluation up to and including the generation in which the
  solution appeared (the whole generation). A generation that would take the count past ``cap`` is
  not started: an unsolved run has used at most ``cap`` evaluations and reports ``None``.
* ``double-pole`` (Markov, 6 inputs): fitness = steps balanced in one episode from the fixed start,
  capped at 100,000; solved when a member balances all 100,000 steps.
* ``double-pole-nv`` (non-Markov, 3 inputs): fitness = Gruau et al.'s damping fitness of one
  1,000-step episode (the environment's score); solved when the generation's best by fitness, having
  balanced its 1,000 steps, passes :func:`~neuroevo.control.rollout.solve_check` (100,000 steps from
  the start, then at least 200 of the 625 generalisation starts); ``generalisation`` is its score.
* ``gymnasium:CartPole-v1``: fitness = the return of one episode (start states drawn afresh each
  generation); solved when the generation's best averages at least 475 over 100 fresh episodes.

CMA-ES's networks (``hidden=None``: the task's default): ``double-pole`` a linear controller, six
inputs to one output plus bias (7 weights, ``force = 10 N * tanh(output)``), the size that suits
CMA-ES (DESIGN.md); ``double-pole-nv`` 3 inputs -> 2 fully recurrent tanh neurons -> 1 output
(6 + 4 + 2 input, recurrent and bias weights, 2 + 1 output weights and bias: 15); CartPole-v1 a linear
4 -> 2 arg-max controller (10 weights). Initial mean uniform in [-1, 1] per coordinate, sigma0 = 1;
a run restarts (from a fresh mean) when it stalls: its best fitness has not improved for
``10 + ceil(30 n / popsize)`` generations, or ``cma``'s own termination criteria fire
(``tolflatfitness``, ``tolfun``, ``tolstagnation``, ...).

NEAT's settings (:func:`neat_config_text`): neat-python 2.0 with Stanley & Miikkulainen (2002)'s
double-pole parameters as far as neat-python expresses them: population 150, c1 = c2 = 1.0,
c3 = 0.4, delta_t = 3.0, weight mutation rate 0.8 (10% replaced), add-node 0.03, add-link 0.05,
no gene deletion, stagnation after 15 generations, survival threshold 0.2, one elite per species,
steepened sigmoid (neat-python's ``sigmoid`` is ``1 / (1 + exp(-5 z))``, NEAT's slope 4.924),
starting fully connected inputs -> outputs without hidden nodes; feed-forward on the Markov task,
recurrent on the non-Markov one. The sigmoid output ``s`` drives the cart with ``20 N (s - 0.5)``,
i.e. action ``2 s - 1`` in our environment's [-1, 1] (the map the environment documents).

Command line (resumable; records already in the output file are skipped)::

    OMP_NUM_THREADS=1 python examples/control_peers.py --task double-pole --algorithm cma-es \\
        --seeds 0-9 --output docs/results/control_peers_pilot.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from neuroevo.control.envs import BatchedEnv, DoublePole, TensorEnv, make_env
from neuroevo.control.envs.double_pole import (DAMPING_EPISODE, GENERALISATION_PASS, LONG_CHECK_STEPS,
                                               generalisation_starts)
from neuroevo.control.policy import StackedPolicy
from neuroevo.control.rollout import rollout, solve_check

TASKS = ("double-pole", "double-pole-nv", "gymnasium:CartPole-v1")
ALGORITHMS = ("cma-es", "neat")
RESTARTS = ("ipop", "bipop", "none")
RECORD_FIELDS = ("task", "algorithm", "encoding", "variation", "operator", "seed", "evaluations_to_solve",
                 "solved", "generalisation", "wall_s")
#: Gymnasium CartPole-v1's standard threshold, and the episodes of its test.
CARTPOLE_THRESHOLD = 475.0
CARTPOLE_TEST_EPISODES = 100
NEAT_INSTALL_HINT = "pip install neat-python==2.0.0 (the project's optional 'bench' extra)"


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


def _record(task: str, algorithm: str, operator: str, seed: int, evaluations: int | None,
            generalisation: int | None, wall_s: float) -> dict[str, Any]:
    return {
        "task": task,
        "algorithm": algorithm,
        "encoding": "direct" if algorithm == "cma-es" else "neat",
        "variation": "peer",
        "operator": operator,
        "seed": seed,
        "evaluations_to_solve": evaluations,
        "solved": evaluations is not None,
        "generalisation": generalisation,
        "wall_s": round(wall_s, 3),
    }


def _make_task_env(task: str, max_steps: int | None) -> BatchedEnv:
    """Our environment for ``task`` with its default start and scaling; ``max_steps`` overrides the
    fitness episode's cap (Markov: 100,000; non-Markov: 1,000; CartPole-v1: 500)."""
    kwargs = {} if max_steps is None else {"max_steps": max_steps}
    return make_env(task, **kwargs)


# ================================================================== CMA-ES
def network_shapes(task: str, hidden: int | None = None, recurrent: bool | None = None) -> dict[str, Any]:
    """The fixed topology CMA-ES evolves on ``task``.

    Args:
        task: one of :data:`TASKS`.
        hidden: hidden tanh neurons; ``None``: the task's default (0 on ``double-pole`` and
            CartPole-v1, 2 on ``double-pole-nv``).
        recurrent: whether the hidden layer is fully recurrent; ``None``: on ``double-pole-nv`` only.

    Returns:
        ``{"inputs", "hidden", "outputs", "recurrent", "parameters"}``.
    """
    _check_task(task)
    inputs, outputs = {"double-pole": (6, 1), "double-pole-nv": (3, 1), "gymnasium:CartPole-v1": (4, 2)}[task]
    if hidden is None:
        hidden = 2 if task == "double-pole-nv" else 0
    if recurrent is None:
        recurrent = task == "double-pole-nv"
    if hidden < 0:
        raise ValueError(f"hidden must be >= 0, got {hidden}")
    if recurrent and hidden == 0:
        raise ValueError("a recurrent network needs hidden >= 1")
    if hidden == 0:
        parameters = inputs * outputs + outputs
    else:
        parameters = inputs * hidden + (hidden * hidden if recurrent else 0) + hidden + hidden * outputs + outputs
    return {"inputs": inputs, "hidden": hidden, "outputs": outputs, "recurrent": bool(recurrent),
            "parameters": parameters}


def policy_from_vectors(vectors: np.ndarray | Tensor, shapes: dict[str, Any]) -> StackedPolicy:
    """A :class:`StackedPolicy` whose member ``p`` is flat vector ``vectors[p]``.

    Layout of a vector: without hidden layer ``W [inputs, outputs]`` (row-major) then ``b [outputs]``;
    with one: ``W1 [inputs, hidden]``, ``R [hidden, hidden]`` (recurrent only; row = source neuron at
    ``t - 1``), ``b1 [hidden]``, ``W2 [hidden, outputs]``, ``b2 [outputs]``.
    """
    x = torch.as_tensor(np.asarray(vectors), dtype=torch.float32)
    if x.dim() != 2 or x.shape[1] != shapes["parameters"]:
        raise ValueError(f"vectors must be [P, {shapes['parameters']}], got {tuple(x.shape)}")
    population, n_in, n_h, n_out = x.shape[0], shapes["inputs"], shapes["hidden"], shapes["outputs"]
    offset = 0

    def take(*shape: int) -> Tensor:
        nonlocal offset
        size = math.prod(shape)
        piece = x[:, offset:offset + size].reshape(population, *shape).contiguous()
        offset += size
        return piece

    if n_h == 0:
        w, b = take(n_in, n_out), take(n_out)
        return StackedPolicy([w], [b])
    w1 = take(n_in, n_h)
    r = take(n_h, n_h) if shapes["recurrent"] else None
    b1, w2, b2 = take(n_h), take(n_h, n_out), take(n_out)
    return StackedPolicy([w1, w2], [b1, b2], [r, None], "tanh")


def _padded(policy: StackedPolicy, minimum: int = 8) -> StackedPolicy:
    """``policy`` padded with copies of member 0 to the next power of two (at least ``minimum``), so
    a compiled rollout is reused across populations of nearby sizes (IPOP/BIPOP change them)."""
    size = max(minimum, 1 << (policy.population - 1).bit_length())
    if size == policy.population:
        return policy
    index = torch.cat([torch.arange(policy.population), torch.zeros(size - policy.population, dtype=torch.int64)])
    return policy.select(index)


class _CmaEvaluator:
    """Fitness (to minimise) and the solve test of a CMA-ES population on one task."""

    def __init__(self, task: str, seed: int, *, max_steps: int | None, long_steps: int, compile: bool):
        self.task, self.seed, self.compile, self.long_steps = task, seed, compile, long_steps
        self.env = _make_task_env(task, max_steps)
        self.generation = 0

    def __call__(self, policy: StackedPolicy) -> tuple[np.ndarray, int | None, int | None]:
        """``(fitness to minimise [P], index of a solution or None, its generalisation or None)``."""
        population = policy.population
        compile = self.compile and isinstance(self.env, TensorEnv)
        run_policy = _padded(policy) if compile else policy
        result = rollout(run_policy, self.env, seed=self.seed * 1_000_003 + self.generation, compile=compile)
        self.generation += 1
        returns = result.returns[:population, 0]
        if self.task == "double-pole":
            fitness = -(returns / self.env.max_steps).double().numpy()
            solved = torch.nonzero(returns >= self.env.max_steps).flatten()
            return fitness, (int(solved[0]) if solved.numel() else None), None
        if self.task == "double-pole-nv":
            scores = result.scores[:population, 0]
            best = int(torch.argmax(scores))
            fitness = -scores.double().numpy()
            if float(returns[best]) < self.env.max_steps:
                return fitness, None, None
            check = solve_check(policy.select([best]), steps=self.long_steps, compile=self.compile)
            generalisation = int(check.generalisation[0])
            return fitness, (best if bool(check.solved[0]) else None), generalisation
        # gymnasium:CartPole-v1
        fitness = -returns.double().numpy()
        best = int(torch.argmax(returns))
        if float(returns[best]) < CARTPOLE_THRESHOLD:
            return fitness, None, None
        test = rollout(policy.select([best]), self.env, episodes=CARTPOLE_TEST_EPISODES,
                       seed=-(self.seed * 1_000_003 + self.generation))
        return fitness, (best if float(test.returns.mean()) >= CARTPOLE_THRESHOLD else None), None


def run_cma(task: str, seed: int, *, cap: int = 100_000, hidden: int | None = None, recurrent: bool | None = None,
            restarts: str = "ipop", incpopsize: float = 2.0, sigma0: float = 1.0, popsize: int | None = None,
            stall: int | None = None,
            max_steps: int | None = None, long_steps: int = LONG_CHECK_STEPS, compile: bool = True,
            cma_options: dict[str, Any] | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One run of CMA-ES (``cma`` package) with restarts on ``task``; returns its record.

    CMA-ES (Hansen & Ostermeier 2001) on the flat weight vector of :func:`network_shapes`'s network,
    every generation one batched rollout of the whole population on our environment. When the run
    stalls (``stall``, or ``cma``'s termination criteria: flat fitness, ``tolfun``, ...) it
    restarts from a fresh mean drawn uniformly in [-1, 1]: IPOP (Auger & Hansen 2005) multiplies the
    population size by ``incpopsize`` at each restart; BIPOP (Hansen 2009) alternates that large
    regime with small populations of random size and step size, giving each regime about the same
    evaluations; ``"none"`` restarts with the same settings.

    Evaluations are episodes: every member of every generation counts one, up to and including the
    generation in which the solution appeared (see the module docstring for the solve tests, which
    are not counted). A generation that would pass ``cap`` is not started.

    Args:
        task: ``"double-pole"``, ``"double-pole-nv"`` or ``"gymnasium:CartPole-v1"``.
        seed: the run's seed (``cma``'s seeds, the initial means, the episodes' start draws).
        cap: the evaluation budget.
        hidden, recurrent: the topology (:func:`network_shapes`; ``None``: the task's default).
        restarts: ``"ipop"``, ``"bipop"`` or ``"none"``.
        incpopsize: IPOP's population factor per (large) restart.
        sigma0: the initial step size of each restart.
        popsize: the first run's population (default: ``cma``'s ``4 + 3 ln n``).
        stall: restart when the run's best fitness has not improved for this many generations
            (default ``10 + ceil(30 n / popsize)``, the window of ``cma``'s ``tolfunhist``), besides
            ``cma``'s own termination criteria: on the Markov task a run otherwise sits for hundreds of
            generations on a plateau before ``tolstagnation`` fires.
        max_steps: override of the fitness episode's cap (tests: a short Markov task is "solved" at
            ``max_steps``); default the task's (100,000 / 1,000 / 500).
        long_steps: the non-Markov long check's steps (100,000; tests shorten it).
        compile: run the double-pole rollouts with ``torch.compile`` (populations padded to powers of
            two so the compiled step is reused); results equal the eager ones up to floating-point
            reassociation.
        cma_options: extra ``cma.CMAOptions`` (e.g. ``{"tolflatfitness": 10}``).
        log: called with a line per restart (its population, evaluations so far, why it stopped).

    Returns:
        The record (:data:`RECORD_FIELDS`), ``algorithm="cma-es"``, ``encoding="direct"``,
        ``operator=restarts``.
    """
    import cma

    _check_task(task)
    if restarts not in RESTARTS:
        raise ValueError(f"restarts must be one of {', '.join(RESTARTS)}, got {restarts!r}")
    start = time.perf_counter()
    shapes = network_shapes(task, hidden, recurrent)
    n = shapes["parameters"]
    evaluate = _CmaEvaluator(task, seed, max_steps=max_steps, long_steps=long_steps, compile=compile)
    rng = np.random.default_rng(seed)
    default_popsize = popsize or int(4 + 3 * math.log(n))
    evaluations = 0
    used = {"large": 0, "small": 0}
    large_restarts = 0
    run = 0
    while True:
        # choose this run's population and step size
        regime = "large"
        lam, sigma = default_popsize, sigma0
        if run > 0 and restarts == "ipop":
            lam = int(round(default_popsize * incpopsize ** run))
        elif run > 0 and restarts == "bipop":
            if used["small"] < used["large"]:
                regime = "small"
                u = rng.uniform()
                lam_large = default_popsize * incpopsize ** large_restarts
                lam = max(2, int(default_popsize * (0.5 * lam_large / default_popsize) ** (u ** 2)))
                sigma = sigma0 * 10 ** (-2 * rng.uniform())
            else:
                large_restarts += 1
                lam = int(round(default_popsize * incpopsize ** large_restarts))
        options = {"popsize": lam, "seed": seed * 1000 + run + 1, "verbose": -9, **(cma_options or {})}
        es = cma.CMAEvolutionStrategy(rng.uniform(-1.0, 1.0, n), sigma, options)
        window = stall if stall is not None else 10 + math.ceil(30 * n / es.popsize)
        best, since = math.inf, 0
        while not es.stop() and since < window:
            if evaluations + es.popsize > cap:
                return _record(task, "cma-es", restarts, seed, None, None, time.perf_counter() - start)
            candidates = es.ask()
            fitness, solution, generalisation = evaluate(policy_from_vectors(np.stack(candidates), shapes))
            evaluations += len(candidates)
            used[regime] += len(candidates)
            if solution is not None:
                return _record(task, "cma-es", restarts, seed, evaluations,
                               generalisation if task == "double-pole-nv" else None, time.perf_counter() - start)
            es.tell(candidates, fitness.tolist())
            since = 0 if fitness.min() < best else since + 1
            best = min(best, float(fitness.min()))
        if log is not None:
            log(f"run {run}: popsize {lam}, sigma0 {sigma:.3g}, {es.countiter} generations, best "
                f"{es.best.f:.4g}, {evaluations} evaluations so far, stopped by {dict(es.stop()) or f'no improvement in {window} generations'}")
        run += 1


# ================================================================== NEAT
def neat_config_text(task: str, population: int = 150) -> str:
    """neat-python 2.0's configuration for ``task`` (see the module docstring for the choices)."""
    _check_task(task)
    inputs, outputs = {"double-pole": (6, 1), "double-pole-nv": (3, 1), "gymnasium:CartPole-v1": (4, 2)}[task]
    feed_forward = task != "double-pole-nv"
    return f"""\
[NEAT]
fitness_criterion     = max
fitness_threshold     = 1e30
no_fitness_termination = False
pop_size              = {population}
reset_on_extinction   = True

[DefaultGenome]
num_inputs              = {inputs}
num_hidden              = 0
num_outputs             = {outputs}
initial_connection      = full_direct
feed_forward            = {feed_forward}
compatibility_disjoint_coefficient = 1.0
compatibility_weight_coefficient   = 0.4
conn_add_prob           = 0.05
conn_delete_prob        = 0.0
node_add_prob           = 0.03
node_delete_prob        = 0.0
single_structural_mutation = False
structural_mutation_surer  = default
activation_default      = sigmoid
activation_options      = sigmoid
activation_mutate_rate  = 0.0
aggregation_default     = sum
aggregation_options     = sum
aggregation_mutate_rate = 0.0
bias_init_mean          = 0.0
bias_init_stdev         = 1.0
bias_init_type          = gaussian
bias_replace_rate       = 0.1
bias_mutate_rate        = 0.8
bias_mutate_power       = 0.5
bias_max_value          = 30.0
bias_min_value          = -30.0
response_init_mean      = 1.0
response_init_stdev     = 0.0
response_init_type      = gaussian
response_replace_rate   = 0.0
response_mutate_rate    = 0.0
response_mutate_power   = 0.0
response_max_value      = 30.0
response_min_value      = -30.0
weight_init_mean        = 0.0
weight_init_stdev       = 1.0
weight_init_type        = gaussian
weight_max_value        = 30.0
weight_min_value        = -30.0
weight_mutate_rate      = 0.8
weight_replace_rate     = 0.1
weight_mutate_power     = 0.5
enabled_default         = True
enabled_mutate_rate     = 0.0
enabled_rate_to_true_add  = 0.0
enabled_rate_to_false_add = 0.0

[DefaultSpeciesSet]
compatibility_threshold = 3.0

[DefaultStagnation]
species_fitness_func = max
max_stagnation       = 15
species_elitism      = 1

[DefaultReproduction]
elitism            = 1
survival_threshold = 0.2
min_species_size   = 1
"""


def _import_neat():
    try:
        import neat
    except ImportError as error:
        raise ImportError(f"run_neat needs neat-python: {NEAT_INSTALL_HINT}") from error
    return neat


def neat_config(task: str, population: int = 150):
    """A ``neat.Config`` from :func:`neat_config_text` (written to a temporary file and read back)."""
    neat = _import_neat()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "neat-config"
        path.write_text(neat_config_text(task, population))
        return neat.Config(neat.DefaultGenome, neat.DefaultReproduction, neat.DefaultSpeciesSet,
                           neat.DefaultStagnation, str(path))


#: Compiled ``TensorEnv.advance`` per environment (the same env objects are reused, so one compile each).
_ADVANCE: dict[int, Callable] = {}


def _advance(env: TensorEnv, compile: bool) -> Callable:
    if not compile:
        return env.advance
    if id(env) not in _ADVANCE:
        _ADVANCE[id(env)] = torch.compile(env.advance, fullgraph=True, dynamic=False)
    return _ADVANCE[id(env)]


def _bucket(size: int) -> int:
    """Batch size rounded up (to 8 below 64, else to a multiple of 64) to limit recompiles."""
    return max(8, -(-size // 8) * 8) if size <= 64 else -(-size // 64) * 64


def lockstep_episodes(nets: Sequence[Any], env: BatchedEnv, *, starts: Tensor | None = None, seed: int = 0,
                      compile: bool = False) -> tuple[Tensor, Tensor | None]:
    """One episode per network, all stepped in lockstep through one batch of ``env``.

    Each step calls every running network's ``activate`` on its row's observation. Double pole: the
    (sigmoid) output ``s`` becomes the action ``2 s - 1`` (force ``20 N (s - 0.5)``, NEAT's map);
    Gymnasium: ``env.action_from_output`` (arg-max of the outputs).

    Args:
        nets: neat-python networks (``activate(list) -> list``), fresh (zero state).
        env: the task; a :class:`TensorEnv` (double pole) or a Gymnasium adapter.
        starts: ``[len(nets), state_size]`` start states (tensor environments; default its own).
        seed: seeds the start draws.
        compile: compile the environment's step (tensor environments; the batch is padded with
            finished rows to a few sizes so the compiled step is reused).

    Returns:
        ``(returns [N], scores [N] or None)``: steps balanced / episode return, and the task's
        score (``double-pole-nv``: the damping fitness).
    """
    count = len(nets)
    generator = torch.Generator().manual_seed(seed)
    if isinstance(env, TensorEnv):
        batch = _bucket(count) if compile else count
        state = env.initial_state(batch, generator) if starts is None else starts.to(env.device, env.dtype)
        if starts is not None and batch > count:
            state = torch.cat([state, state[:1].expand(batch - count, -1)])
        current = env.start(state)
        current = current._replace(done=torch.arange(batch) >= count)
        advance = _advance(env, compile)
        returns = torch.zeros(batch, dtype=env.dtype)
        observations = env.observe(current.state)
        running = list(range(count))
        actions = [0.0] * batch
        for _ in range(env.max_steps):
            rows = observations.tolist()
            for i in running:
                actions[i] = 2.0 * nets[i].activate(rows[i])[0] - 1.0
            current, reward = advance(current, torch.tensor(actions, dtype=env.dtype))
            returns = returns + reward
            observations = env.observe(current.state)
            done = current.done.tolist()
            running = [i for i in running if not done[i]]
            if not running:
                break
        score = env.score(current.memory, returns)
        return returns[:count], None if score is None else score[:count]
    observations = env.reset(count, generator=generator)
    returns = torch.zeros(count, dtype=env.dtype)
    done = [False] * count
    outputs = [[0.0] * env.action_size for _ in range(count)]
    for _ in range(env.max_steps):
        rows = observations.tolist()
        for i in range(count):
            if not done[i]:
                outputs[i] = nets[i].activate(rows[i])
        actions = env.action_from_output(torch.tensor(outputs, dtype=env.dtype))
        observations, reward, finished = env.step(actions)
        returns = returns + reward
        done = finished.tolist()
        if all(done):
            break
    return returns, None


class _NeatEvaluator:
    """Fitness and the solve test of a NEAT generation on one task."""

    def __init__(self, task: str, seed: int, neat_module: Any, *, max_steps: int | None, long_steps: int,
                 compile: bool):
        self.task, self.seed, self.neat, self.compile = task, seed, neat_module, compile
        self.env = _make_task_env(task, max_steps)
        self.long_steps = long_steps
        self.generation = 0
        self.network = neat_module.nn.RecurrentNetwork if task == "double-pole-nv" else \
            neat_module.nn.FeedForwardNetwork

    def nets(self, genome, config, copies: int) -> list[Any]:
        return [self.network.create(genome, config) for _ in range(copies)]

    def __call__(self, genomes: list, config) -> tuple[int | None, int | None]:
        """Set every genome's fitness; ``(index of a solution or None, its generalisation or None)``."""
        nets = [self.network.create(genome, config) for _, genome in genomes]
        returns, scores = lockstep_episodes(nets, self.env, seed=self.seed * 1_000_003 + self.generation,
                                            compile=self.compile and isinstance(self.env, TensorEnv))
        self.generation += 1
        fitness = scores if self.task == "double-pole-nv" else returns
        for (_, genome), value in zip(genomes, fitness.tolist()):
            genome.fitness = float(value)
        if self.task == "double-pole":
            solved = torch.nonzero(returns >= self.env.max_steps).flatten()
            return (int(solved[0]) if solved.numel() else None), None
        best = int(torch.argmax(fitness))
        genome = genomes[best][1]
        if self.task == "double-pole-nv":
            if float(returns[best]) < self.env.max_steps:
                return None, None
            long_env = _long_env(self.long_steps)
            balanced, _ = lockstep_episodes(self.nets(genome, config, 1), long_env, compile=self.compile)
            if float(balanced[0]) < self.long_steps:
                return None, 0
            starts = generalisation_starts()
            general_env = _long_env(DAMPING_EPISODE)
            held, _ = lockstep_episodes(self.nets(genome, config, starts.shape[0]), general_env, starts=starts,
                                        compile=self.compile)
            generalisation = int((held >= DAMPING_EPISODE).sum())
            return (best if generalisation >= GENERALISATION_PASS else None), generalisation
        if float(returns[best]) < CARTPOLE_THRESHOLD:
            return None, None
        test, _ = lockstep_episodes(self.nets(genome, config, CARTPOLE_TEST_EPISODES), self.env,
                                    seed=-(self.seed * 1_000_003 + self.generation))
        return (best if float(test.mean()) >= CARTPOLE_THRESHOLD else None), None


#: Non-Markov double-pole environments of the solve tests, one per episode length (reused: one compile each).
_LONG_ENVS: dict[int, DoublePole] = {}


def _long_env(steps: int) -> DoublePole:
    if steps not in _LONG_ENVS:
        _LONG_ENVS[steps] = DoublePole(velocities=False, max_steps=steps)
    return _LONG_ENVS[steps]


class _Stop(Exception):
    """Raised from the fitness function to end a neat-python run (solved, or the cap reached)."""


def run_neat(task: str, seed: int, *, cap: int = 100_000, population: int = 150, max_steps: int | None = None,
             long_steps: int = LONG_CHECK_STEPS, compile: bool = True) -> dict[str, Any]:
    """One run of NEAT (neat-python 2.0, Stanley & Miikkulainen 2002) on ``task``; returns its record.

    neat-python evolves its own topologies with :func:`neat_config_text`'s settings; each generation's
    networks step in lockstep through one batch of our environment (:func:`lockstep_episodes`).
    Evaluations are episodes: every genome of every generation counts one, up to and including the
    generation in which the solution appeared (the solve tests are not counted). A generation that
    would pass ``cap`` is not evaluated.

    Args:
        task: ``"double-pole"``, ``"double-pole-nv"`` or ``"gymnasium:CartPole-v1"``.
        seed: the run's seed (neat-python's ``random`` seed; the episodes' start draws).
        cap: the evaluation budget.
        population: neat-python's ``pop_size``.
        max_steps: override of the fitness episode's cap (tests); default the task's.
        long_steps: the non-Markov long check's steps (100,000; tests shorten it).
        compile: compile our environment's step (``torch.compile``).

    Returns:
        The record (:data:`RECORD_FIELDS`), ``algorithm="neat"``, ``encoding="neat"``,
        ``operator="neat"``.

    Raises:
        ImportError: neat-python is not installed.
    """
    neat = _import_neat()
    _check_task(task)
    start = time.perf_counter()
    config = neat_config(task, population)
    evaluate = _NeatEvaluator(task, seed, neat, max_steps=max_steps, long_steps=long_steps, compile=compile)
    outcome: dict[str, Any] = {"evaluations": 0, "solved": False, "generalisation": None}

    def fitness_function(genomes: list, config) -> None:
        if outcome["evaluations"] + len(genomes) > cap:
            raise _Stop
        solution, generalisation = evaluate(genomes, config)
        outcome["evaluations"] += len(genomes)
        if solution is not None:
            outcome["solved"], outcome["generalisation"] = True, generalisation
            raise _Stop

    pop = neat.Population(config, seed=seed)
    try:
        pop.run(fitness_function, None)
    except _Stop:
        pass
    evaluations = outcome["evaluations"] if outcome["solved"] else None
    generalisation = outcome["generalisation"] if task == "double-pole-nv" and outcome["solved"] else None
    return _record(task, "neat", "neat", seed, evaluations, generalisation, time.perf_counter() - start)


# ================================================================== command line
def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"3"``, ``"0,2,5-7"`` -> the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        values = range(int(low), int(high) + 1) if dash else [int(low)]
        seeds.extend(s for s in values if s not in seeds)
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    return seeds


def _key(record: dict[str, Any]) -> tuple:
    return record["task"], record["algorithm"], record["operator"], record["seed"]


def load_runs(path: Path) -> dict[str, Any]:
    """The output file's content (``{"commit", "provenance", "runs"}``), empty when it does not exist."""
    if not path.exists():
        return {"commit": None, "provenance": None, "runs": []}
    return json.loads(path.read_text())


def save_runs(path: Path, content: dict[str, Any]) -> None:
    """Write ``content`` to ``path`` atomically, with the current provenance."""
    from neuroevo.files import atomic_write
    from neuroevo.provenance import provenance

    record = provenance()
    content = {**content, "commit": record["commit"], "provenance": record}
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(content, indent=1) + "\n"))


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median and mean evaluations over solved runs, success rate and mean wall time of ``runs``."""
    solved = [r["evaluations_to_solve"] for r in runs if r["solved"]]
    generalisation = [r["generalisation"] for r in runs if r.get("generalisation") is not None]
    return {
        "runs": len(runs),
        "solved": len(solved),
        "median_evaluations": float(np.median(solved)) if solved else None,
        "mean_evaluations": float(np.mean(solved)) if solved else None,
        "mean_generalisation": float(np.mean(generalisation)) if generalisation else None,
        "mean_wall_s": float(np.mean([r["wall_s"] for r in runs])) if runs else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--algorithm", choices=ALGORITHMS, required=True)
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5-7")
    parser.add_argument("--output", type=Path, required=True, help="JSON file of records (appended, resumable)")
    parser.add_argument("--cap", type=int, default=100_000, help="evaluations per run")
    parser.add_argument("--restarts", choices=RESTARTS, default="ipop", help="cma-es")
    parser.add_argument("--hidden", type=int, default=None, help="cma-es hidden neurons (default: the task's)")
    parser.add_argument("--population", type=int, default=150, help="neat")
    parser.add_argument("--no-compile", action="store_true", help="eager rollouts (no torch.compile)")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    content = load_runs(args.output)
    done = {_key(r) for r in content["runs"]}
    operator = args.restarts if args.algorithm == "cma-es" else "neat"
    for seed in parse_seeds(args.seeds):
        if (args.task, args.algorithm, operator, seed) in done:
            print(f"{args.task} {args.algorithm} {operator} seed {seed}: already in {args.output}, skipped")
            continue
        if args.algorithm == "cma-es":
            record = run_cma(args.task, seed, cap=args.cap, hidden=args.hidden, restarts=args.restarts,
                             compile=not args.no_compile)
        else:
            record = run_neat(args.task, seed, cap=args.cap, population=args.population,
                              compile=not args.no_compile)
        content["runs"].append(record)
        save_runs(args.output, content)
        extra = f", generalisation {record['generalisation']}" if record["generalisation"] is not None else ""
        print(f"{args.task} {args.algorithm} {operator} seed {seed}: solved={record['solved']} "
              f"evaluations={record['evaluations_to_solve']}{extra} ({record['wall_s']:.1f} s)", flush=True)
    mine = [r for r in content["runs"] if r["task"] == args.task and r["algorithm"] == args.algorithm
            and r["operator"] == operator]
    print(json.dumps(summarise(mine)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
