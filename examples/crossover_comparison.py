"""Why the toolkit exists: crossover between independently trained networks, at equal cost.

Six arms of one generational GA (``populations.evolve``: DEAP's ``eaSimple``), each run with
several seeds, all with the same population size and number of generations and every offspring
evaluated, so every arm spends exactly ``population * (generations + 1)`` fitness evaluations:

* embedding transplant: the paper's neuron transplant of the first hidden layer (embedding
  genomes): a random half of each parent's neurons trade places, whichever they are;
* embedding aligned transplant: the same, after matching the second parent's neurons to the
  first's by embedding similarity, so that matched pairs trade places;
* embedding mutation only;
* direct transplant: the same on ordinary weight matrices, where neuron ``i`` of one parent trades
  places with neuron ``i`` of the other for a random half of the positions ``i``, taking its
  incoming weights and its outgoing weights (the matching columns of the next layer);
* direct aligned transplant: the same, after matching the second parent's hidden neurons to the
  first's by activation correlation on a probe batch of training images;
* direct mutation only.

Crossover arms cross every pair (``cxpb=1``) and mutate with ``mutpb=0.2``; mutation-only arms
mutate every offspring (``mutpb=1``). Mutation is Gaussian on 5% of the genes, with a standard
deviation of 2% of the parents' root-mean-square gene (so the two encodings get comparable
relative noise).

Initial population, per seed: four parents trained briefly from different random seeds (embedding
parents share one input encoding: the first learns it, the others are trained on it, frozen), plus
noisy copies of them. Fitness is accuracy on 1,000 images held out of MNIST's 5k training subset;
the best individual of each run is scored once on the 10k test split. Writes a JSON file of all
numbers and plots of the mean best fitness (its gain over generation 0, and the population's mean
fitness) with 95% confidence intervals per generation::

    python examples/crossover_comparison.py --output runs/crossover_comparison
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from deap import base, tools

from neuroevo import Architecture, Genome
from neuroevo.data import BUILTIN_DATASET, Dataset, load_dataset, train_holdout_split
from neuroevo.provenance import provenance
from neuroevo.evaluation import evaluate_genome
from neuroevo.training import TrainConfig
from operators.registry import crossover, mutation
from populations import (
    EaSimple,
    evolve,
    population_from_parents,
    register_batched_evaluation,
    seed_everything,
    similar,
    train_parents,
)
from neuroevo.statistics import mean_confidence_interval
from populations.plots import plot_mean_ci

CROSSOVER_ARM = {"cxpb": 1.0, "mutpb": 0.2}
MUTATION_ARM = {"cxpb": 0.0, "mutpb": 1.0}


def gene_rms(genomes: Sequence[Genome]) -> float:
    """Root-mean-square of every neuron-record value of ``genomes``."""
    values = torch.cat([t.flatten() for g in genomes for layer in g.layers for _, t in layer.items()])
    return float(values.square().mean().sqrt())


def arms(probe: torch.Tensor, layer: int, coefficient: float) -> dict[str, tuple[str, Callable | None, dict]]:
    """arm name -> (encoding, crossover or None, varAnd probabilities)."""
    options = {"layer": layer, "coefficient": coefficient}
    return {
        "embedding transplant": ("embedding", crossover("transplant", **options), CROSSOVER_ARM),
        "embedding aligned transplant": ("embedding", crossover("transplant-aligned", **options), CROSSOVER_ARM),
        "embedding mutation only": ("embedding", None, MUTATION_ARM),
        "direct transplant": ("direct", crossover("transplant", move_outgoing=True, **options), CROSSOVER_ARM),
        "direct aligned transplant": ("direct", crossover("transplant-aligned", method="activation", probe=probe,
                                                          move_outgoing=True, **options), CROSSOVER_ARM),
        "direct mutation only": ("direct", None, MUTATION_ARM),
    }


def run_arm(parents: list[Genome], mate: Callable | None, probabilities: dict, holdout: Dataset,
            args: argparse.Namespace, seed: int) -> tuple[list[float], list[float], int, Genome]:
    """One GA run. Returns the best-so-far and the population-mean holdout accuracy per
    generation, the number of fitness evaluations, and the best individual."""
    sigma = 0.02 * gene_rms(parents)
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, holdout)
    if mate is not None:
        toolbox.register("mate", mate)
    toolbox.register("mutate", mutation("gaussian", sigma=sigma, indpb=0.05))
    toolbox.register("select", tools.selTournament, tournsize=3)
    stats = tools.Statistics(lambda individual: individual.fitness.values[0])
    stats.register("max", np.max)
    stats.register("avg", np.mean)
    seed_everything(seed)  # the two or three arms of one encoding start from the same population
    population = population_from_parents(parents, args.population, sigma=sigma)
    halloffame = tools.HallOfFame(1, similar=similar)
    result = evolve(EaSimple(stats=stats, **probabilities), population, toolbox, ngen=args.generations,
                    halloffame=halloffame)
    return [point.best for point in result.curve], [point.mean for point in result.curve], result.evaluations, result.best


def summarise(results: dict[str, Any]) -> str:
    """A markdown table of the final numbers."""
    last = results["generations"]
    lines = [f"| arm | evaluations per run | best holdout, gen 0 | best holdout, gen {last} | "
             f"gain of the best, gen 0 to {last} | population mean holdout, gen 1 | "
             f"population mean holdout, gen {last} | best individual, test | best parent, test |",
             "|---|---|---|---|---|---|---|---|---|"]

    def cell(values: list[float]) -> str:
        mean, half = mean_confidence_interval(np.array(values)[:, None])
        return f"{100 * mean[0]:.2f} ± {100 * half[0]:.2f}"

    for name, arm in results["arms"].items():
        best, population_mean = np.array(arm["best_holdout"]), np.array(arm["mean_holdout"])
        lines.append(f"| {name} | {arm['evaluations'][0]} | {cell(best[:, 0])} | {cell(best[:, -1])} | "
                     f"{cell(best[:, -1] - best[:, 0])} | {cell(population_mean[:, 1])} | "
                     f"{cell(population_mean[:, -1])} | {cell(arm['test'])} | {cell(arm['best_parent_test'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=BUILTIN_DATASET, help="data set name or IDX folder (default: the built-in MNIST subset)")
    parser.add_argument("--arch", default="784-64-32-10")
    parser.add_argument("--d", type=int, default=32, help="embedding width")
    parser.add_argument("--parents", type=int, default=4)
    parser.add_argument("--train-steps", type=int, default=100, help="Adam steps per parent (batch 250)")
    parser.add_argument("--population", type=int, default=20, help="even, so that cxpb=1 crosses everyone")
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--layer", type=int, default=0, help="genome layer of the transplant")
    parser.add_argument("--coefficient", type=float, default=0.5, help="fraction of the layer's neurons moved")
    parser.add_argument("--output", default="runs/crossover_comparison", help="writes OUTPUT.json and OUTPUT.png")
    args = parser.parse_args()
    if args.population % 2:
        parser.error("--population must be even")

    start = time.perf_counter()
    train, holdout = train_holdout_split(load_dataset(args.data, "train"), 1000, seed=0, stratify=True)
    test = load_dataset(args.data, "test")
    probe = train.images[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:500]]
    architecture = Architecture.parse(args.arch)
    config = TrainConfig(steps=args.train_steps, batch_size=250, validate_every=args.train_steps)
    results: dict[str, Any] = {"settings": vars(args), "generations": args.generations,
                               "data": f"{train.name}: {len(train)} training, {len(holdout)} holdout (fitness), "
                                       f"{len(test)} test images", "arms": {}}
    for seed in range(args.seeds):
        parents = {encoding: train_parents(architecture, args.parents, train, holdout, encoding=encoding, d=args.d,
                                           config=config, seed=1000 * seed)
                   for encoding in ("embedding", "direct")}
        for name, (encoding, mate, probabilities) in arms(probe, args.layer, args.coefficient).items():
            curve, means, evaluations, best = run_arm(parents[encoding], mate, probabilities, holdout, args, seed)
            arm = results["arms"].setdefault(name, {"best_holdout": [], "mean_holdout": [], "evaluations": [],
                                                    "test": [], "best_parent_test": []})
            arm["best_holdout"].append(curve)
            arm["mean_holdout"].append(means)
            arm["evaluations"].append(evaluations)
            arm["test"].append(evaluate_genome(best, test).accuracy)
            arm["best_parent_test"].append(max(evaluate_genome(p, test).accuracy for p in parents[encoding]))
            print(f"seed {seed} {name:26s} best holdout {curve[0]:.4f} -> {curve[-1]:.4f}, population mean "
                  f"{means[0]:.4f} -> {means[-1]:.4f}, test {arm['test'][-1]:.4f}, "
                  f"{evaluations} evaluations, {time.perf_counter() - start:.0f} s", flush=True)
    results["wall_time_s"] = time.perf_counter() - start
    results["cpu_time_s"] = time.process_time()
    results |= provenance(dataset=train.name, split=f"fitness: {len(holdout)} holdout images of train; reported: {test.split}")

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    xlabel = f"generation ({args.population} fitness evaluations each)"
    best = {name: np.array(arm["best_holdout"]) for name, arm in results["arms"].items()}
    plots = {
        ".png": (best, "best holdout accuracy so far"),
        "_gain.png": ({name: curves - curves[:, :1] for name, curves in best.items()},
                      "gain of the best holdout accuracy over generation 0"),
        "_population_mean.png": ({name: np.array(arm["mean_holdout"]) for name, arm in results["arms"].items()},
                                 "population mean holdout accuracy"),
    }
    for suffix, (curves, ylabel) in plots.items():
        plot_mean_ci(curves, output.parent / (output.name + suffix), ylabel=ylabel, xlabel=xlabel,
                     title=f"MNIST {args.arch}: {args.seeds} seeds, mean and 95% CI")
    print(summarise(results))
    print(f"total {results['wall_time_s']:.0f} s wall, {results['cpu_time_s']:.0f} s CPU; "
          f"wrote {output}.json, {output}.png, {output}_gain.png, {output}_population_mean.png")


if __name__ == "__main__":
    main()
