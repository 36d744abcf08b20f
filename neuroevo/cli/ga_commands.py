"""``neuroevo ga``: a generational GA (DEAP ``eaSimple`` with checkpoints) from flags or a config.

(``neuroevo evolve`` runs the recommended recipe, memetic evolution: :mod:`neuroevo.cli.evolve_commands`.)

The fitness of an individual is its accuracy on a held-out part of the training split (never the
test split). Everything goes into the output folder:

* ``checkpoint.safetensors``: the run's state, every ``--checkpoint-every`` generations and at the
  end (``--resume`` continues from it with the settings stored in it: only ``--generations`` and
  how to run here, :data:`RESUME_FLAGS`, may change; any other flag given is ignored, with a
  warning);
* ``logbook.csv``: one row per generation (rewritten every generation);
* ``fitness.png``: max / mean / min fitness over generations;
* ``best.safetensors``: the best individual found (the hall of fame's first);
* ``settings.json``: the settings of the run (what the run is: every flag but how to run it here).

The data default to the built-in ``mnist-small``; ``--config FILE`` can supply any setting
(:mod:`neuroevo.cli.config`).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from deap import base, tools

import operators
from neuroevo.cli.genome_commands import add_architecture_arguments, architecture_from_args
from neuroevo.cli.options import add_data_arguments, add_memory_budget_argument, load_data
from neuroevo.data import Dataset, train_holdout_split
from neuroevo.files import atomic_write, load_input_encoding, save_genome
from neuroevo.evaluation import evaluate_genome
from populations import (
    evolve,
    load_checkpoint,
    population_from_files,
    population_from_parents,
    random_population,
    register_batched_evaluation,
    resume,
    seed_everything,
    similar,
    write_logbook_csv,
)
from populations.plots import plot_logbook

CHECKPOINT_FILE = "checkpoint.safetensors"
LOGBOOK_FILE = "logbook.csv"
PLOT_FILE = "fitness.png"
BEST_FILE = "best.safetensors"
SETTINGS_FILE = "settings.json"
DEFAULT_GENERATIONS = 10
CROSSOVERS = ("transplant", "transplant-aligned", "interpolate", "none")

#: Flags that say how to run this invocation, not what the run is: never stored.
_RUN_FLAGS = {"config", "resume", "output", "no_progress", "test", "device", "memory_budget", "command", "func",
              "given_flags"}

#: Flags a resumed run takes from the command line; every other one given is ignored, with a warning.
RESUME_FLAGS = {"generations", "device", "memory_budget", "test", "no_progress", "output", "resume"}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _mate(settings: dict[str, Any], probe: Any) -> Any:
    crossover, layer = settings["crossover"], settings["layer"]
    if crossover == "transplant":
        return partial(operators.cx_transplant, layer=layer, coefficient=settings["coefficient"])
    if crossover == "transplant-aligned":
        method = settings["align_method"]
        return partial(operators.cx_transplant_aligned, layer=layer, coefficient=settings["coefficient"],
                       method=method, probe=probe if method == "activation" else None)
    return partial(operators.cx_interpolate, alpha=settings["alpha"], layer=layer)


def build_toolbox(settings: dict[str, Any], fitness_data: Dataset, probe: Any, *,
                  device: str | None = None, memory_budget: int | None = None) -> base.Toolbox:
    """The toolbox of a run: batched evaluation on ``fitness_data`` (on ``device``, within
    ``memory_budget`` bytes), the chosen crossover, Gaussian mutation and tournament selection."""
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, fitness_data, device=device, memory_budget=memory_budget)
    if settings["crossover"] != "none":
        toolbox.register("mate", _mate(settings, probe))
    toolbox.register("mutate", operators.mut_gaussian, sigma=settings["mutation_sigma"], indpb=settings["indpb"])
    toolbox.register("select", tools.selTournament, tournsize=settings["tournament_size"])
    return toolbox


def fitness_statistics() -> tools.Statistics:
    """max / avg / min / std of the first fitness value."""
    stats = tools.Statistics(lambda individual: individual.fitness.values[0])
    for name, function in (("max", np.max), ("avg", np.mean), ("min", np.min), ("std", np.std)):
        stats.register(name, function)
    return stats


def _data(settings: dict[str, Any]) -> tuple[Dataset, Dataset]:
    """``(train part, holdout part)`` of the training split; the GA's fitness is on the holdout."""
    train = load_data(settings, "train")
    return train_holdout_split(train, settings["holdout"], seed=settings["split_seed"], stratify=True)


def _initial_population(settings: dict[str, Any], args: argparse.Namespace) -> list:
    n = settings["population"]
    if settings["parents"]:
        parents = population_from_files(settings["parents"])
        return population_from_parents(parents, n, sigma=settings["init_sigma"])
    architecture = architecture_from_args(args)
    encoding = load_input_encoding(settings["input_encoding"]) if settings["input_encoding"] else None
    kind = "embedding" if settings["encoding"] == "embedding" else "direct"
    return random_population(architecture, n, encoding=kind, d=settings["d"], input_encoding=encoding,
                             init=settings["init"])


def run_ga(args: argparse.Namespace) -> int:
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output {folder} exists and is not a folder")
    checkpoint = folder / CHECKPOINT_FILE
    settings = {key: value for key, value in vars(args).items() if key not in _RUN_FLAGS}
    resuming = checkpoint.exists()
    if resuming and not args.resume:
        raise ValueError(f"{folder} already holds a run; pass --resume to continue it, or choose another --output")
    if resuming:
        stored = load_checkpoint(checkpoint)
        generations = settings["generations"]
        if "settings" not in stored.extra:
            raise ValueError(f"{checkpoint} was not written by neuroevo ga (it holds no settings)")
        settings = stored.extra["settings"]
        if generations is not None:
            settings["generations"] = generations
        for dest, flag in args.given_flags.items():
            if dest not in RESUME_FLAGS:
                print(f"neuroevo ga: warning: {flag} is ignored: a resumed run keeps its stored settings",
                      file=sys.stderr)
        print(f"resuming {folder} from generation {stored.state.generation} of {settings['generations']}")
    else:
        if not (settings["arch"] or settings["parents"]):
            raise ValueError("give --arch (a random initial population) or --parents (a folder of genome files)")
        if settings["generations"] is None:
            settings["generations"] = DEFAULT_GENERATIONS

    train, holdout = _data(settings)
    probe = train.images[torch.randperm(len(train), generator=torch.Generator().manual_seed(settings["split_seed"]))
                         [: settings["probe_size"]]]
    toolbox = build_toolbox(settings, holdout, probe, device=args.device, memory_budget=args.memory_budget)
    common = {
        "cxpb": settings["cxpb"] if settings["crossover"] != "none" else 0.0,
        "mutpb": settings["mutpb"],
        "ngen": settings["generations"],
        "stats": fitness_statistics(),
        "checkpoint_every": settings["checkpoint_every"],
        "progress": not args.no_progress,
        "on_generation": lambda state: write_logbook_csv(state.logbook, folder / LOGBOOK_FILE),
    }
    if resuming:
        state = resume(checkpoint, toolbox, extra={"settings": settings}, **common)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / SETTINGS_FILE, lambda tmp: tmp.write_text(json.dumps(settings, indent=2) + "\n"))
        seed_everything(settings["seed"])
        population = _initial_population(settings, args)
        state = evolve(population, toolbox, halloffame=tools.HallOfFame(settings["hall_of_fame"], similar=similar),
                       checkpoint=checkpoint, extra={"settings": settings}, **common)

    write_logbook_csv(state.logbook, folder / LOGBOOK_FILE)
    plot_logbook(state.logbook, folder / PLOT_FILE)
    best = state.halloffame[0]
    save_genome(best, folder / BEST_FILE)
    print(f"generation {state.generation}: best holdout accuracy {best.fitness.values[0]:.4f} "
          f"({len(holdout)} held-out training images of {train.name})")
    if args.test:
        test = load_data(settings, "test")
        print(f"best individual on the test split: accuracy {evaluate_genome(best, test).accuracy:.4f}")
    print(f"written to {folder}: {CHECKPOINT_FILE}, {LOGBOOK_FILE}, {PLOT_FILE}, {BEST_FILE}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    ga_parser = subparsers.add_parser(
        "ga", help="run a plain genetic algorithm (eaSimple with checkpoints)",
        description="Evolve a population with DEAP's eaSimple: batched evaluation of holdout accuracy, "
                    "neuron-transplant or interpolation crossover, Gaussian mutation, tournament selection. "
                    "Writes OUTPUT/checkpoint.safetensors, logbook.csv, fitness.png, best.safetensors.",
    )
    ga_parser.add_argument("--config", metavar="FILE",
                               help="JSON file of settings named as these flags' destinations, values as on the "
                                    "command line (e.g. {\"population\": 20, \"data\": \"mnist-small\"}); "
                                    "flags given on the command line win")
    add_data_arguments(ga_parser)
    ga_parser.add_argument("--holdout", type=_positive_int, default=1000,
                               help="training images held out to measure fitness (stratified)")
    ga_parser.add_argument("--split-seed", type=int, default=0, help="seed of the holdout split")
    initial = ga_parser.add_argument_group("initial population (--parents, or a random one of --arch)")
    initial.add_argument("--parents", help="folder of genome files: the population is copies of them plus noise")
    initial.add_argument("--init-sigma", type=float, default=0.01,
                         help="std of the noise added to the parents' copies (the parents themselves are kept)")
    initial.add_argument("--input-encoding", help="random embedding genomes: build on this shared input encoding")
    add_architecture_arguments(initial, required=False)
    ga = ga_parser.add_argument_group("genetic algorithm")
    ga.add_argument("--population", type=_positive_int, default=20, help="population size")
    ga.add_argument("--generations", type=_non_negative_int, default=None,
                    help=f"generations after the initial one (default {DEFAULT_GENERATIONS}; "
                         "with --resume, the stored number)")
    ga.add_argument("--cxpb", type=float, default=0.5, help="probability of crossing a pair")
    ga.add_argument("--mutpb", type=float, default=0.2, help="probability of mutating an individual")
    ga.add_argument("--crossover", choices=CROSSOVERS, default="transplant",
                    help="neuron transplant, aligned transplant, interpolation, or none (mutation only)")
    ga.add_argument("--layer", type=int, default=0, help="genome layer the crossover acts on")
    ga.add_argument("--coefficient", type=float, default=0.5, help="transplant: fraction of the layer's neurons moved")
    ga.add_argument("--alpha", type=float, default=0.5, help="interpolation weight")
    ga.add_argument("--align-method", choices=operators.METHODS, default=None,
                    help="aligned transplant: how neurons are matched (default: embedding / weights)")
    ga.add_argument("--probe-size", type=_positive_int, default=256,
                    help="training images used by --align-method activation")
    ga.add_argument("--mutation-sigma", type=float, default=0.01, help="std of the Gaussian mutation")
    ga.add_argument("--indpb", type=float, default=0.1, help="probability of mutating each gene")
    ga.add_argument("--tournament-size", type=_positive_int, default=3)
    ga.add_argument("--hall-of-fame", type=_positive_int, default=5, help="best individuals kept")
    ga.add_argument("--seed", type=int, default=0, help="seeds Python's, NumPy's and torch's generators")
    run = ga_parser.add_argument_group("running")
    run.add_argument("--device", default=None, help="where evaluation runs: cpu, cuda, ... (default: cpu)")
    add_memory_budget_argument(run, default=None)
    run.add_argument("--checkpoint-every", type=_positive_int, default=1, help="generations between checkpoints")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in OUTPUT from its checkpoint with its stored settings (only "
                          "--generations, --device, --memory-budget, --test and --no-progress apply; other "
                          "flags are ignored, with a warning), or start it if there is none")
    run.add_argument("--test", action="store_true", help="evaluate the best individual on the test split at the end")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("-o", "--output", required=True, help="output folder")
    ga_parser.set_defaults(func=run_ga)
