"""``neuroevo evolve``: the recommended evolution recipe, memetic evolution from one ancestor.

Every member descends from one briefly trained ancestor (which learns the input encoding the
population shares); each generation every child takes ``--steps`` Adam steps on its own minibatches
(written back into its genome: Lamarckian), is scored on a held-out part of the training split,
and the next generation is selected and varied (aligned interpolation crossover by default; see
:func:`populations.memetic.run_memetic` and docs/RESULTS.md for how the recipe was chosen). The
best individual is scored once on the test split at the end. ``neuroevo ga`` runs a plain
``eaSimple`` GA instead.

Everything goes into the output folder:

* ``checkpoint.safetensors``: the run's state after every generation (``--resume`` continues from
  it with the settings stored in ``settings.json``; only :data:`RESUME_FLAGS` may be given then,
  any other flag is ignored with a warning);
* ``settings.json``: the settings of the run (usable as ``--config`` to repeat it);
* ``logbook.csv`` and ``fitness.png``: best and mean holdout accuracy per generation;
* ``best.safetensors``: the best individual found.
"""

from __future__ import annotations

import argparse
from typing import Any

from tqdm.auto import tqdm

from neuroevo.cli.options import add_data_arguments, add_memory_budget_argument, load_data
from neuroevo.cli.runs import (
    BEST_FILE,
    CHECKPOINT_FILE,
    LOGBOOK_FILE,
    PLOT_FILE,
    SETTINGS_FILE,
    add_holdout_arguments,
    add_running_arguments,
    add_settings_arguments,
    fitness_split,
    open_run_folder,
    run_settings,
    settings_dataclass,
    warn_ignored,
)
from neuroevo.evaluation import evaluate_genome
from neuroevo.files import save_genome
from operators.registry import CROSSOVERS
from populations import write_logbook_csv
from populations.checkpoint import GAState
from populations.memetic import MemeticSettings, run_memetic
from populations.plots import plot_logbook
from populations.variation import VARIATIONS

#: Flags a resumed run takes from the command line; every other one given is ignored, with a warning.
RESUME_FLAGS = {"no_test", "device", "memory_budget"}
_HELP = {
    "architecture": "layer spec",
    "d": "embedding width",
    "population": "members (even, for crossover's pairs)",
    "generations": "generations after generation 0",
    "steps": "K: Adam steps every child takes per generation (written back into its genome)",
    "batch_size": "samples per Adam step",
    "lr": "learning rate of the first generation's steps (cosine decay to --lr-final)",
    "lr_final": "learning rate of the last generation's steps",
    "ancestor_steps": "training steps of the common ancestor",
    "ancestor_lr": "the ancestor's peak learning rate (one-cycle)",
    "order": "learn-then-vary or vary-then-learn",
    "tournament": "tournament size of selection",
    "alpha": "interpolation crossover: weight of the other parent",
    "coefficient": "transplant crossover: fraction of neurons swapped",
    "mutation_sigma": "Gaussian mutation std, as a fraction of the ancestor's RMS gene",
    "mutation_indpb": "probability of mutating each gene",
    "probe_size": "training images used by REPAIR and the diversity measure",
}


def recipe_settings(settings: dict[str, Any]) -> MemeticSettings:
    """The :class:`MemeticSettings` of a run's settings (unset fields keep the recipe's defaults)."""
    return settings_dataclass(MemeticSettings, settings)


def run_evolve(args: argparse.Namespace) -> int:
    """Run (or with ``--resume`` continue) the recipe in ``args.output``; returns the exit status.

    Raises:
        ValueError: an output folder that is a file or already holds a run (without ``--resume``),
            or settings the recipe refuses, before any work.
    """
    run_folder = open_run_folder(args.output, resume=args.resume, command="evolve")
    if run_folder.resuming:
        settings = run_folder.stored_settings()
        warn_ignored("evolve", args.given_flags, RESUME_FLAGS)
    else:
        settings = run_settings(args, exclude=RESUME_FLAGS)
    recipe = recipe_settings(settings)  # checks the recipe's settings before any work
    train, holdout = fitness_split(settings)
    test = None if args.no_test else load_data(settings, "test")
    print(f"neuroevo evolve: memetic evolution of {recipe.population} {settings['encoding']} genomes "
          f"({recipe.architecture}), {recipe.generations} generations of {recipe.steps} steps each, "
          f"variation {settings['variation']}"
          + (f" ({settings['crossover']})" if settings["variation"] == "crossover" else "")
          + f"; fitness on {len(holdout)} held-out training images of {train.name}"
          + f" on {args.device or 'cpu'}", flush=True)
    bar = tqdm(total=recipe.generations + 1, desc="generations", unit="gen", disable=args.no_progress)

    def after_generation(state: GAState) -> None:
        if not run_folder.path(SETTINGS_FILE).exists():  # written once the run has passed its checks and started
            run_folder.write_settings(settings)
        write_logbook_csv(state.logbook, run_folder.path(LOGBOOK_FILE))
        bar.n = state.generation + 1
        bar.set_postfix(best=f"{state.logbook[-1]['max']:.4f}", mean=f"{state.logbook[-1]['avg']:.4f}")
        bar.refresh()

    run = run_memetic(train, holdout, recipe, variation=settings["variation"], crossover=settings["crossover"],
                      encoding=settings["encoding"], seed=settings["seed"], checkpoint=run_folder.checkpoint,
                      on_generation=after_generation, device=args.device, memory_budget=args.memory_budget)
    bar.close()
    write_logbook_csv(run.logbook, run_folder.path(LOGBOOK_FILE))
    plot_logbook(run.logbook, run_folder.path(PLOT_FILE), fields=("max", "avg"),
                 title=f"memetic evolution: holdout accuracy ({len(holdout)} images)")
    save_genome(run.best, run_folder.path(BEST_FILE))
    print(f"written to {run_folder.folder}: {CHECKPOINT_FILE}, {SETTINGS_FILE}, {LOGBOOK_FILE}, {PLOT_FILE}, "
          f"{BEST_FILE}; {run.evaluations} fitness evaluations, {run.gradient_steps} gradient steps")
    holdout_accuracy = run.best.fitness.values[0] if run.best.fitness.valid else evaluate_genome(run.best, holdout).accuracy
    if test is None:
        print(f"best individual: holdout accuracy {holdout_accuracy:.4f}")
    else:
        print(f"best individual: holdout accuracy {holdout_accuracy:.4f}, test accuracy "
              f"{evaluate_genome(run.best, test).accuracy:.4f} ({test.name} {test.split}, {len(test)} images)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evolve`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "evolve", help="run the recommended evolution recipe (memetic evolution with crossover)",
        description="Memetic evolution from one ancestor: every child takes Adam steps on its own minibatches, "
                    "is scored on held-out training images and crossed (aligned interpolation by default). "
                    "Runs on the built-in mnist-small with no flags; writes OUTPUT/checkpoint.safetensors, "
                    "settings.json, logbook.csv, fitness.png, best.safetensors and prints the best individual's "
                    "test accuracy last.",
    )
    parser.add_argument("--config", metavar="FILE",
                        help="JSON file of settings named as these flags' destinations (the settings.json of a run "
                             "repeats it); flags given on the command line win")
    add_data_arguments(parser)
    add_holdout_arguments(parser)
    recipe = parser.add_argument_group("the recipe (defaults: populations.memetic.MemeticSettings)")
    add_settings_arguments(recipe, MemeticSettings, helps=_HELP, flags={"architecture": "--arch"})
    recipe.add_argument("--variation", choices=VARIATIONS, default="crossover",
                        help="crossover (with mutation), mutation-only, none (selection and learning only) or "
                             "independent (no selection)")
    recipe.add_argument("--crossover", choices=tuple(CROSSOVERS), default="interpolate-aligned",
                        help="the crossover (operators.registry; direct genomes take interpolate-aligned-repair)")
    recipe.add_argument("--encoding", choices=("embedding", "direct"), default="embedding", help="genome encoding")
    recipe.add_argument("--seed", type=int, default=0, help="seeds the ancestor, the batches and the operators")
    run = parser.add_argument_group("running")
    add_running_arguments(run, resume_help="continue the run in OUTPUT from its checkpoint with its stored settings "
                                           "(only --device, --memory-budget, --no-test and --no-progress apply)")
    add_memory_budget_argument(run, default=None)
    run.add_argument("--no-test", action="store_true", help="skip the final test-split evaluation")
    parser.set_defaults(func=run_evolve)
