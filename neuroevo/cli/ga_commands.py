"""``neuroevo ga``: a generational GA (DEAP ``eaSimple`` with checkpoints) from flags or a config.

(``neuroevo evolve`` runs the recommended recipe, memetic evolution: :mod:`neuroevo.cli.evolve_commands`.)

The fitness of an individual is its accuracy on a held-out part of the training split (never the
test split). Everything goes into the output folder:

* ``checkpoint.safetensors``: the run's state, every ``--checkpoint-every`` generations and at the
  end (``--resume`` continues from it with the stored settings: only ``--generations`` and how to
  run here, :data:`RESUME_FLAGS`, may change; any other flag given is ignored, with a warning);
* ``logbook.csv``: one row per generation (rewritten every generation);
* ``fitness.png``: max / mean / min fitness over generations;
* ``best.safetensors``: the best individual found (the hall of fame's first);
* ``settings.json``: the settings of the run (what the run is: every flag but how to run it here).

The data default to the built-in ``mnist-small``; ``--config FILE`` can supply any setting
(:mod:`neuroevo.cli.config`).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from deap import base, tools

import operators
from neuroevo.cli.genome_commands import add_architecture_arguments, architecture_from_args
from neuroevo.cli.options import add_data_arguments, add_memory_budget_argument, load_data
from neuroevo.cli.runs import (
    BEST_FILE,
    CHECKPOINT_FILE,
    LOGBOOK_FILE,
    PLOT_FILE,
    SETTINGS_FILE,
    add_holdout_arguments,
    add_running_arguments,
    fitness_split,
    open_run_folder,
    run_settings,
    warn_ignored,
)
from neuroevo.data import Dataset
from neuroevo.evaluation import evaluate_genome
from neuroevo.files import load_input_encoding, save_genome
from operators.registry import CROSSOVERS, operator_spec
from populations import (
    EaSimple,
    evolve,
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

DEFAULT_GENERATIONS = 10
#: The crossovers ``ga`` offers (named in :mod:`operators.registry`), or ``none``.
GA_CROSSOVERS = ("transplant", "transplant-aligned", "interpolate", "interpolate-aligned", "none")

#: Flags a resumed run takes from the command line; every other one given is ignored, with a warning.
RESUME_FLAGS = {"generations", "device", "memory_budget", "test"}


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


def build_toolbox(settings: dict[str, Any], fitness_data: Dataset, probe: torch.Tensor, *,
                  device: str | None = None, memory_budget: int | None = None) -> base.Toolbox:
    """The toolbox of a run: batched evaluation on ``fitness_data`` (on ``device``, within
    ``memory_budget`` bytes), the chosen crossover (:mod:`operators.registry`), Gaussian mutation
    and tournament selection.

    Args:
        settings: the run's settings (``crossover``, its parameters, ``mutation_sigma``, ``indpb``,
            ``tournament_size``).
        fitness_data: the samples fitness is measured on.
        probe: ``[B, *input_shape]`` inputs for activation matching.
    """
    toolbox = base.Toolbox()
    register_batched_evaluation(toolbox, fitness_data, device=device, memory_budget=memory_budget)
    if settings["crossover"] != "none":
        options = {"layer": settings["layer"], "coefficient": settings["coefficient"], "alpha": settings["alpha"],
                   "method": settings["align_method"], "probe": probe}
        toolbox.register("mate", operator_spec("crossover", settings["crossover"]).bind_from(options))
    toolbox.register("mutate", operators.mut_gaussian, sigma=settings["mutation_sigma"], indpb=settings["indpb"])
    toolbox.register("select", tools.selTournament, tournsize=settings["tournament_size"])
    return toolbox


def fitness_statistics() -> tools.Statistics:
    """max / avg / min / std of the first fitness value."""
    stats = tools.Statistics(lambda individual: individual.fitness.values[0])
    for name, function in (("max", np.max), ("avg", np.mean), ("min", np.min), ("std", np.std)):
        stats.register(name, function)
    return stats


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
    """Run (or with ``--resume`` continue) a GA in ``args.output``; returns the exit status.

    Raises:
        ValueError: an output folder that is a file or already holds a run (without ``--resume``),
            or neither ``--arch`` nor ``--parents``, before any work.
    """
    run_folder = open_run_folder(args.output, resume=args.resume, command="ga")
    settings = run_settings(args, exclude=RESUME_FLAGS - {"generations"})
    if run_folder.resuming:
        generations = settings["generations"]
        settings = run_folder.stored_settings()
        if generations is not None:
            settings["generations"] = generations
        warn_ignored("ga", args.given_flags, RESUME_FLAGS)
        print(f"resuming {run_folder.folder} (of {settings['generations']} generations)")
    else:
        if not (settings["arch"] or settings["parents"]):
            raise ValueError("give --arch (a random initial population) or --parents (a folder of genome files)")
        if settings["generations"] is None:
            settings["generations"] = DEFAULT_GENERATIONS

    train, holdout = fitness_split(settings)
    probe = train.images[torch.randperm(len(train), generator=torch.Generator().manual_seed(settings["split_seed"]))
                         [: settings["probe_size"]]]
    toolbox = build_toolbox(settings, holdout, probe, device=args.device, memory_budget=args.memory_budget)
    strategy = EaSimple(cxpb=settings["cxpb"] if settings["crossover"] != "none" else 0.0, mutpb=settings["mutpb"],
                        stats=fitness_statistics())
    common = {
        "ngen": settings["generations"],
        "checkpoint_every": settings["checkpoint_every"],
        "progress": not args.no_progress,
        "on_generation": lambda state: write_logbook_csv(state.logbook, run_folder.path(LOGBOOK_FILE)),
    }
    if run_folder.resuming:
        result = resume(run_folder.checkpoint, strategy, toolbox, **common)
    else:
        run_folder.write_settings(settings)
        seed_everything(settings["seed"])
        population = _initial_population(settings, args)
        result = evolve(strategy, population, toolbox,
                        halloffame=tools.HallOfFame(settings["hall_of_fame"], similar=similar),
                        checkpoint=run_folder.checkpoint, **common)

    write_logbook_csv(result.logbook, run_folder.path(LOGBOOK_FILE))
    plot_logbook(result.logbook, run_folder.path(PLOT_FILE))
    save_genome(result.best, run_folder.path(BEST_FILE))
    print(f"generation {result.generation}: best holdout accuracy {result.best.fitness.values[0]:.4f} "
          f"({len(holdout)} held-out training images of {train.name})")
    if args.test:
        test = load_data(settings, "test")
        print(f"best individual on the test split: accuracy {evaluate_genome(result.best, test).accuracy:.4f}")
    print(f"written to {run_folder.folder}: {CHECKPOINT_FILE}, {SETTINGS_FILE}, {LOGBOOK_FILE}, {PLOT_FILE}, "
          f"{BEST_FILE}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ga`` command to ``subparsers``."""
    ga_parser = subparsers.add_parser(
        "ga", help="run a plain genetic algorithm (eaSimple with checkpoints)",
        description="Evolve a population with DEAP's eaSimple: batched evaluation of holdout accuracy, "
                    "neuron-transplant or interpolation crossover, Gaussian mutation, tournament selection. "
                    "Writes OUTPUT/checkpoint.safetensors, settings.json, logbook.csv, fitness.png, "
                    "best.safetensors.",
    )
    ga_parser.add_argument("--config", metavar="FILE",
                           help="JSON file of settings named as these flags' destinations, values as on the "
                                "command line (e.g. {\"population\": 20, \"data\": \"mnist-small\"}); "
                                "flags given on the command line win")
    add_data_arguments(ga_parser)
    add_holdout_arguments(ga_parser)
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
    ga.add_argument("--crossover", choices=GA_CROSSOVERS, default="transplant",
                    help="; ".join(f"{name}: {CROSSOVERS[name].summary}" for name in GA_CROSSOVERS[:-1])
                         + "; none: mutation only")
    ga.add_argument("--layer", type=int, default=0, help="genome layer the crossover acts on")
    ga.add_argument("--coefficient", type=float, default=0.5, help="transplant: fraction of the layer's neurons moved")
    ga.add_argument("--alpha", type=float, default=0.5, help="interpolation weight")
    ga.add_argument("--align-method", choices=operators.METHODS, default=None,
                    help="aligned crossovers: how neurons are matched (default: embedding / weights)")
    ga.add_argument("--probe-size", type=_positive_int, default=256,
                    help="training images used by --align-method activation")
    ga.add_argument("--mutation-sigma", type=float, default=0.01, help="std of the Gaussian mutation")
    ga.add_argument("--indpb", type=float, default=0.1, help="probability of mutating each gene")
    ga.add_argument("--tournament-size", type=_positive_int, default=3)
    ga.add_argument("--hall-of-fame", type=_positive_int, default=5, help="best individuals kept")
    ga.add_argument("--seed", type=int, default=0, help="seeds Python's, NumPy's and torch's generators")
    run = ga_parser.add_argument_group("running")
    add_running_arguments(run, resume_help="continue the run in OUTPUT from its checkpoint with its stored settings "
                                           "(only --generations, --device, --memory-budget, --test and "
                                           "--no-progress apply; other flags are ignored, with a warning), or "
                                           "start it if there is none")
    add_memory_budget_argument(run, default=None)
    run.add_argument("--checkpoint-every", type=_positive_int, default=1, help="generations between checkpoints")
    run.add_argument("--test", action="store_true", help="evaluate the best individual on the test split at the end")
    ga_parser.set_defaults(func=run_ga)
