"""Control rollout throughput: environment steps x genomes per second, batched against its peers.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/control_throughput.py \
        --output benchmarks/results/control_throughput.json [--render-into docs/RESULTS.md]

Tasks (issue 17), each with ``--steps``-step episodes (500) and populations ``--populations``
(64, 1,024, 4,096):

* ``cartpole``: CartPole-v1 with a 4-16-2 tanh policy;
* ``double-pole``: the Markov double pole (Wieland's equations, RK4) with a 6-16-1 tanh policy.

Every genome is a controller that balances for the whole episode (a stabilising linear controller
in the network's first hidden neuron, plus per-genome Gaussian noise on every weight), so every arm
takes the same ``population x steps`` environment steps. Arms, in one process, one thread each,
interleaved (each repeat times every arm once; medians reported):

* ``neuroevo``: :func:`neuroevo.control.rollout.rollout`, eager and compiled (``torch.compile`` of
  the fused policy+environment step; its first call, compilation included, is reported apart as
  ``compile_s``);
* ``gymnasium-loop``: one genome at a time, a numpy policy over Gymnasium's own CartPole-v1 (how
  neat-python's and DEAP's examples evaluate), measured on ``--loop-genomes`` genomes; for the
  double pole, our environment with a batch of one in a Python loop;
* ``gymnax``: gymnax's CartPole-v1 with jax, the policy ``vmap``-ped over the population and
  ``lax.scan`` over the steps, jit-compiled (compile time apart); skipped with a note when jax or
  gymnax is missing (``pip install jax gymnax six``, the ``bench`` extra).

``--quick`` runs tiny sizes (a smoke run). ``--render-into docs/RESULTS.md`` replaces that file's
section :data:`SECTION` with the rendering of the ``--from`` file (or of this run).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from neuroevo.control.envs import CartPole, DoublePole
from neuroevo.control.policy import StackedPolicy
from neuroevo.control.rollout import rollout
from neuroevo.files import atomic_write, replace_markdown_section
from staleness import stale_lines
from neuroevo.provenance import provenance

SECTION = "## Control rollout throughput (issue 17)"
TASKS = ("cartpole", "double-pole")
HIDDEN = 16
#: A stabilising CartPole controller on (x, xdot, theta, thetadot): push right when this is positive.
CARTPOLE_GAIN = (0.1, 0.5, 10.0, 3.0)
#: Per-weight noise (standard deviation) that makes the genomes differ.
NOISE = 0.01
#: Issue 17's goals: (task, peer arm, population, at least this many times the peer's figure).
GOALS = (("cartpole", "gymnasium-loop", 1024, 100.0), ("cartpole", "gymnax", 1024, 1.0),
         ("cartpole", "gymnax", 4096, 1.0), ("double-pole", "gymnasium-loop", 1024, 100.0))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", default="64,1024,4096", help="comma-separated population sizes")
    parser.add_argument("--steps", type=int, default=500, help="steps per episode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--arms", default="neuroevo,gymnasium-loop,gymnax")
    parser.add_argument("--compile", choices=("both", "on", "off"), default="both",
                        help="neuroevo arm: compiled, eager, or both")
    parser.add_argument("--loop-genomes", type=int, default=4, help="genomes the one-at-a-time arm runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: populations 4,8, 20 steps, 1 repeat")
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    parser.add_argument("--from", dest="source", type=Path, help="render this JSON instead of measuring")
    parser.add_argument("--render-into", type=Path, help="replace the section of this markdown file")
    args = parser.parse_args(argv)
    if args.quick:
        args.populations, args.steps, args.repeats, args.loop_genomes = "4,8", 20, 1, 1
    return args


# ------------------------------------------------------------------ the genomes
def double_pole_gain() -> np.ndarray:
    """An LQR gain on the Markov double pole's scaled inputs: action = gain . inputs.

    The dynamics are linearised at rest by central differences of one action (0.02 s) and the
    discrete Riccati equation solved by scipy (state cost identity, action cost 1).
    """
    from scipy.linalg import solve_discrete_are

    env = DoublePole(dtype=torch.float64)
    zero, eps = torch.zeros(1, 6, dtype=torch.float64), 1e-6

    def step(state: torch.Tensor, action: float) -> np.ndarray:
        return env.transition(state, torch.tensor([action], dtype=torch.float64))[0][0].numpy()

    a = np.stack([(step(zero + eps * torch.eye(6, dtype=torch.float64)[i], 0.0)
                   - step(zero - eps * torch.eye(6, dtype=torch.float64)[i], 0.0)) / (2 * eps) for i in range(6)], 1)
    b = ((step(zero, eps) - step(zero, -eps)) / (2 * eps))[:, None]
    p = solve_discrete_are(a, b, np.eye(6), np.eye(1))
    k = np.linalg.solve(np.eye(1) + b.T @ p @ b, b.T @ p @ a)[0]  # action = -k . state
    scale = np.array([4.8, 2.0, 0.52, 2.0, 0.52, 2.0])
    return -k * scale


def controller_population(gain: np.ndarray, outputs: int, population: int, seed: int) -> StackedPolicy:
    """``population`` noisy copies of a linear controller inside an ``n-16-outputs`` tanh network.

    Hidden neuron 0 computes ``tanh(0.1 gain . inputs)``; with one output it carries ``10x`` that
    (a linear controller near rest); with two (CartPole) output 1 minus output 0 has its sign.
    """
    generator = torch.Generator().manual_seed(seed)
    n_in = len(gain)
    w0 = torch.randn(population, n_in, HIDDEN, generator=generator) * NOISE
    w1 = torch.randn(population, HIDDEN, outputs, generator=generator) * NOISE
    w0[:, :, 0] += 0.1 * torch.tensor(gain, dtype=torch.float32)
    if outputs == 1:
        w1[:, 0, 0] += 10.0
    else:
        w1[:, 0, 1] += 1.0
        w1[:, 0, 0] -= 1.0
    return StackedPolicy([w0, w1], [torch.zeros(population, HIDDEN), torch.zeros(population, outputs)])


def task_setup(task: str, steps: int) -> tuple[Callable, np.ndarray, int]:
    """``(environment factory, controller gain, policy outputs)`` of ``task``."""
    if task == "cartpole":
        return (lambda: CartPole(max_steps=steps)), np.array(CARTPOLE_GAIN), 2
    return (lambda: DoublePole(velocities=True, max_steps=steps)), double_pole_gain(), 1


# ------------------------------------------------------------------ the arms
def neuroevo_arm(env, policy: StackedPolicy, compiled: bool, seed: int) -> int:
    """Environment steps one batched rollout took."""
    return int(rollout(policy, env, seed=seed, compile=compiled).steps.sum())


def numpy_policy(policy: StackedPolicy, member: int) -> Callable[[np.ndarray], np.ndarray]:
    w0, w1 = policy.weights[0][member].numpy(), policy.weights[1][member].numpy()
    b0, b1 = policy.biases[0][member].numpy(), policy.biases[1][member].numpy()
    return lambda obs: np.tanh(obs @ w0 + b0) @ w1 + b1


def loop_arm(task: str, policy: StackedPolicy, genomes: int, steps: int, seed: int) -> Callable[[], int]:
    """One genome at a time: Gymnasium's CartPole-v1 with a numpy policy, or our double pole with a
    batch of one in a Python loop. The environment is made once, outside the timing; the returned
    run gives the environment steps it took."""
    if task == "cartpole":
        import gymnasium

        env = gymnasium.make("CartPole-v1", max_episode_steps=steps)

        def episode(member: int) -> int:
            forward = numpy_policy(policy, member)
            observation, _ = env.reset(seed=seed + member)
            for taken in range(1, steps + 1):
                observation, _, terminated, truncated, _ = env.step(int(np.argmax(forward(observation))))
                if terminated or truncated:
                    break
            return taken
    else:
        env = DoublePole(velocities=True, max_steps=steps)
        members = [policy.select([member]) for member in range(genomes)]

        def episode(member: int) -> int:
            one = members[member]
            one.reset(1)
            observation = env.reset(1, generator=torch.Generator().manual_seed(seed))
            for taken in range(1, steps + 1):
                observation, _, done = env.step(env.action_from_output(one(observation.unsqueeze(0))[0]))
                if bool(done[0]):
                    break
            return taken

    return lambda: sum(episode(member) for member in range(genomes))


def gymnax_arm(policy: StackedPolicy, steps: int) -> tuple[Callable[[], int], Callable[[], None]] | None:
    """``(run, compile)`` of the gymnax arm on CartPole-v1, or ``None`` when jax/gymnax are missing."""
    if importlib.util.find_spec("jax") is None or importlib.util.find_spec("gymnax") is None:
        return None
    import gymnax
    import jax
    import jax.numpy as jnp

    env, params = gymnax.make("CartPole-v1")
    params = params.replace(max_steps_in_episode=steps)
    weights = tuple(jnp.asarray(t.numpy()) for t in (policy.weights[0], policy.biases[0], policy.weights[1],
                                                     policy.biases[1]))

    def episode(w0, b0, w1, b1, key):
        observation, state = env.reset(key, params)

        def body(carry, _):
            observation, state, key, taken, alive = carry
            key, sub = jax.random.split(key)
            action = jnp.argmax(jnp.tanh(observation @ w0 + b0) @ w1 + b1)
            observation, state, _, terminated, truncated, _ = env.step(sub, state, action, params)
            return (observation, state, key, taken + alive, alive & ~(terminated | truncated)), None

        carry, _ = jax.lax.scan(body, (observation, state, key, jnp.int32(0), jnp.bool_(True)), None, length=steps)
        return carry[3]

    run = jax.jit(jax.vmap(episode))
    keys = jax.random.split(jax.random.PRNGKey(0), policy.population)
    return (lambda: int(run(*weights, keys).block_until_ready().sum())), (lambda: run.lower(*weights, keys).compile())


# ------------------------------------------------------------------ measuring
def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    populations = [int(p) for p in args.populations.split(",")]
    arms = args.arms.split(",")
    modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.compile]
    timings: dict[tuple, list[float]] = {}
    records: dict[tuple, dict] = {}
    notes: list[str] = []
    runs: list[tuple] = []
    for task in args.tasks.split(","):
        make, gain, outputs = task_setup(task, args.steps)
        for population in populations:
            policy = controller_population(gain, outputs, population, args.seed)
            env = make()
            if "neuroevo" in arms:
                for compiled in modes:
                    key = (task, "neuroevo", population, compiled)
                    started = time.perf_counter()
                    neuroevo_arm(env, policy, compiled, args.seed)  # warm-up (compiles)
                    records[key] = {"compile_s": time.perf_counter() - started} if compiled else {}
                    runs.append((key, lambda env=env, policy=policy, compiled=compiled:
                                 neuroevo_arm(env, policy, compiled, args.seed), population))
            if "gymnasium-loop" in arms and population == populations[0]:
                genomes = min(args.loop_genomes, population)
                key = (task, "gymnasium-loop", genomes, False)
                records[key] = {}
                runs.append((key, loop_arm(task, policy, genomes, args.steps, args.seed), genomes))
            if "gymnax" in arms and task == "cartpole":
                arm = gymnax_arm(policy, args.steps)
                if arm is None:
                    if not notes:
                        notes.append("gymnax arm skipped: jax or gymnax not installed (pip install jax gymnax six)")
                    continue
                run, compile_now = arm
                started = time.perf_counter()
                compile_now()
                key = (task, "gymnax", population, True)
                records[key] = {"compile_s": time.perf_counter() - started}
                run()
                runs.append((key, run, population))
    steps_taken: dict[tuple, int] = {}
    for _ in range(args.repeats):  # interleaved: each repeat times every arm once
        for key, run, _population in runs:
            started = time.perf_counter()
            steps_taken[key] = run()
            timings.setdefault(key, []).append(time.perf_counter() - started)
    result_runs = []
    for key, run, population in runs:
        task, arm, _, compiled = key
        seconds = statistics.median(timings[key])
        result_runs.append({"task": task, "arm": arm, "population": population, "compiled": compiled,
                            "steps_per_s": steps_taken[key] / seconds, "env_steps": steps_taken[key],
                            "seconds": timings[key], "threads": args.threads, **records[key]})
        print(f"{task:12s} {arm:15s} {'compiled' if compiled else 'eager':9s} {population:6d} "
              f"{steps_taken[key] / seconds:14,.0f} steps/s", flush=True)
    return {"runs": result_runs, "notes": notes, "steps": args.steps, "repeats": args.repeats,
            "torch": torch.__version__, "jax": _version("jax"), "gymnax": _version("gymnax"),
            "gymnasium": _version("gymnasium"), "cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0],
            "environment": ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "XLA_FLAGS")
                                     if k in os.environ)}


def _version(package: str) -> str | None:
    if importlib.util.find_spec(package) is None:
        return None
    from importlib.metadata import version

    return version(package)


# ------------------------------------------------------------------ report
def _best(runs: list[dict], task: str, arm: str, population: int | None = None) -> dict | None:
    """The fastest record of ``arm`` on ``task`` (at ``population``; any size for the loop)."""
    chosen = [r for r in runs if r["task"] == task and r["arm"] == arm
              and (population is None or arm == "gymnasium-loop" or r["population"] == population)]
    return max(chosen, key=lambda r: r["steps_per_s"], default=None)


def goals(results: dict) -> list[dict]:
    """Issue 17's goals, each with the measured ratio (``None``: an arm was not measured)."""
    out = []
    for task, peer, population, target in GOALS:
        ours, theirs = _best(results["runs"], task, "neuroevo", population), _best(results["runs"], task, peer, population)
        ratio = None if ours is None or theirs is None else ours["steps_per_s"] / theirs["steps_per_s"]
        out.append({"task": task, "peer": peer, "population": population, "target": target, "ratio": ratio,
                    "met": None if ratio is None else ratio >= target})
    return out


def render_markdown(results: dict) -> str:
    """The RESULTS section (markdown) of one run's JSON."""
    lines = [SECTION, "", *stale_lines(results, results["command"]),
             "Generated by `benchmarks/control_throughput.py --from ... --render-into docs/RESULTS.md`. "
             "Environment steps x genomes per second (higher is better), one thread per arm, arms interleaved, "
             f"median of {results['repeats']} repeats, {results['steps']}-step episodes; every genome balances for "
             "the whole episode (a noisy linear controller inside the network), so every arm takes the same steps. "
             "The one-genome loop is measured on a few genomes (its figure does not depend on the population).",
             "", "```bash", results["command"], "```",
             f"Commit {str(results['commit'])[:10]}{' (uncommitted changes in measured code)' if results['dirty'] else ''}, "
             f"measured {results['measured_at']}; torch {results['torch']}, gymnasium {results['gymnasium']}, "
             f"jax {results['jax'] or 'absent'}, gymnax {results['gymnax'] or 'absent'}; {results['environment']}; "
             f"load average {results['load_average_1min']:.1f} on {results['cpus']} CPUs.", ""]
    populations = sorted({r["population"] for r in results["runs"] if r["arm"] != "gymnasium-loop"})
    lines += ["| task | arm | " + " | ".join(f"{p:,} genomes" for p in populations) + " | compile s |",
              "|---|---|" + "---|" * len(populations) + "---|"]
    for task in dict.fromkeys(r["task"] for r in results["runs"]):
        variants = dict.fromkeys((r["arm"], r["compiled"]) for r in results["runs"] if r["task"] == task)
        for arm, compiled in variants:
            rows = {r["population"]: r for r in results["runs"]
                    if (r["task"], r["arm"], r["compiled"]) == (task, arm, compiled)}
            label = {"neuroevo": "neuroevo " + ("torch.compile" if compiled else "eager"),
                     "gymnax": "gymnax + jax (jit)"}.get(arm, "one genome at a time")
            if arm == "gymnasium-loop":
                (row,) = rows.values()
                cells = [f"{_rate(row['steps_per_s'])} ({row['population']} genomes)"] + ["(same per genome)"] * (len(populations) - 1)
            else:
                cells = [_rate(rows[p]["steps_per_s"]) if p in rows else "" for p in populations]
            compile_s = ", ".join(f"{r['compile_s']:.1f}" for r in rows.values() if "compile_s" in r) or "-"
            lines.append(f"| {task} | {label} | " + " | ".join(cells) + f" | {compile_s} |")
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    for g in goals(results):
        measured = "not measured" if g["ratio"] is None else f"{g['ratio']:.2f}x"
        lines.append(f"| {g['task']}, {g['population']:,} genomes: >= {g['target']:g}x {g['peer']} | {measured} | "
                     f"{'-' if g['met'] is None else 'yes' if g['met'] else 'no'} |")
    lines += ["", *(f"Note: {n}." for n in results["notes"])]
    return "\n".join(lines).rstrip("\n") + "\n"


def _rate(steps_per_s: float) -> str:
    """``2.34M``, ``10.4k`` or ``231``: a rate with three significant figures or so."""
    if steps_per_s >= 1e6:
        return f"{steps_per_s / 1e6:.2f}M"
    return f"{steps_per_s / 1e3:.1f}k" if steps_per_s >= 1e3 else f"{steps_per_s:.0f}"


def render_into(path: Path, text: str) -> None:
    """Replace ``path``'s section :data:`SECTION` with ``text`` (:func:`neuroevo.files.replace_markdown_section`)."""
    replace_markdown_section(path, SECTION, text)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.source is not None:
        results = json.loads(args.source.read_text())
    else:
        results = measure(args)
        results["goals"] = goals(results)
        results |= provenance()
        if args.output is not None:
            atomic_write(args.output, lambda tmp: tmp.write_text(json.dumps(results, indent=2) + "\n"))
            print(f"wrote {args.output}")
    text = render_markdown(results)
    print(text)
    if args.render_into is not None:
        render_into(args.render_into, text)
        print(f"rendered into {args.render_into}")
    return results


if __name__ == "__main__":
    main()
