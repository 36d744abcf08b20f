"""Evolve MNIST classifiers with a plain DEAP ``eaSimple`` loop.

Neuron-transplant crossover and Gaussian mutation on embedding genomes, with the whole population
evaluated in one batched pass by ``toolbox.map``. The initial population is a few briefly trained
parents (sharing one input encoding) plus noisy copies of them. Fitness is accuracy on 1,000
images held out of the 5k training subset; the final best individual is scored once on the 10k
test split. A couple of minutes on a laptop CPU::

    python examples/evolve_mnist.py                 # the built-in MNIST subset (mnist-small)

Members that descend from the same parent share its neurons, so crossover is the *aligned*
transplant (matched neurons trade places); a random-subset transplant between two copies of one
network would drop some neurons and duplicate others.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from deap import algorithms, base, tools

import operators
from neuroevo import Architecture
from neuroevo.data import BUILTIN_DATASET, load_dataset, train_holdout_split
from neuroevo.evaluation import evaluate_genome
from neuroevo.training import TrainConfig
from populations import population_from_parents, register_batched_evaluation, seed_everything, similar, train_parents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=BUILTIN_DATASET, help="data set name or IDX folder (default: %(default)s)")
    parser.add_argument("--arch", default="784-64-32-10")
    parser.add_argument("--d", type=int, default=32, help="embedding width")
    parser.add_argument("--parents", type=int, default=4, help="briefly trained parents")
    parser.add_argument("--train-steps", type=int, default=300, help="training steps per parent")
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    seed_everything(args.seed)
    train, holdout = train_holdout_split(load_dataset(args.data, "train"), 1000, seed=args.seed, stratify=True)
    test = load_dataset(args.data, "test")
    architecture = Architecture.parse(args.arch)

    config = TrainConfig(steps=args.train_steps, batch_size=250, validate_every=args.train_steps)
    parents = train_parents(architecture, args.parents, train, holdout, d=args.d, config=config, seed=args.seed)
    print("parents, holdout accuracy:", " ".join(f"{evaluate_genome(p, holdout).accuracy:.4f}" for p in parents))

    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, holdout)  # toolbox.evaluate and a batching toolbox.map
    toolbox.register("mate", operators.cx_transplant_aligned, layer=0, coefficient=0.5)
    toolbox.register("mutate", operators.mut_gaussian, sigma=0.01, indpb=0.05)
    toolbox.register("select", tools.selTournament, tournsize=3)

    population = population_from_parents(parents, args.population, sigma=0.01)
    halloffame = tools.HallOfFame(1, similar=similar)
    stats = tools.Statistics(lambda individual: individual.fitness.values[0])
    stats.register("max", np.max)
    stats.register("avg", np.mean)
    random.seed(args.seed)
    algorithms.eaSimple(population, toolbox, cxpb=0.5, mutpb=0.3, ngen=args.generations,
                        stats=stats, halloffame=halloffame, verbose=True)

    best = halloffame[0]
    best_parent = max(parents, key=lambda p: evaluate_genome(p, holdout).accuracy)
    print(f"best individual: holdout {best.fitness.values[0]:.4f}, test {evaluate_genome(best, test).accuracy:.4f} "
          f"(best parent: test {evaluate_genome(best_parent, test).accuracy:.4f}); "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
