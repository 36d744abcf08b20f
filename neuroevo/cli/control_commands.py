"""``neuroevo control``: evolve a controller without gradients, until the task is solved.

``neuroevo control --task double-pole-nv -o runs/dp`` runs the recommended recipe (the defaults of
:class:`populations.control.ControlSettings`: CoSyNE with aligned interpolation crossover on
embedding genomes) with :func:`populations.control.run_control`, counting evaluations (episodes)
until the task is solved or ``--cap`` is spent. Every setting is a flag named after its field
(``--population``, ``--cap``, ...; ``--arch`` for ``architecture``). ``--task gymnasium:<id>``
takes any registered Gymnasium environment; it needs ``--arch`` (the network, its inputs and
outputs those of the environment) and ``--threshold`` (the mean episode return that solves it,
e.g. 475 for CartPole-v1), as does ``--task cartpole`` the threshold.

Everything goes into the output folder:

* ``checkpoint.safetensors``: the run's state after every generation (``--resume`` continues from
  it with the settings stored in ``settings.json``; only :data:`RESUME_FLAGS` and the invocation's
  own flags may be given then, any other flag is ignored with a warning);
* ``settings.json``: the settings of the run, every one resolved (usable as ``--config`` to repeat it);
* ``logbook.csv`` and ``fitness.png``: best and mean fitness per generation;
* ``best.safetensors``: the best controller found;
* ``record.json``: the run's record (evaluations to solve, solved, generalisation, wall time, ...);
* ``animation.gif``: the best controller balancing (:mod:`neuroevo.control.animation`; not with
  ``--no-animation``, nor where matplotlib or the environment's frames are missing).

The last line printed says whether the task was solved and in how many evaluations.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any, Mapping

from neuroevo.cli.runs import (
    BEST_FILE,
    CHECKPOINT_FILE,
    LOGBOOK_FILE,
    PLOT_FILE,
    SETTINGS_FILE,
    RunFolder,
    add_running_arguments,
    add_settings_arguments,
    open_run_folder,
    run_settings,
    settings_dataclass,
    warn_ignored,
)
from neuroevo.architecture import Architecture
from neuroevo.control.envs import BUILTIN, GYMNASIUM_PREFIX, make_env
from neuroevo.files import atomic_write, save_genome
from operators.registry import CROSSOVERS
from populations import write_logbook_csv
from populations.checkpoint import GAState
from populations.control import ALGORITHMS, DEFAULT_ARCHITECTURES, ControlSettings, run_control

RECORD_FILE = "record.json"
ANIMATION_FILE = "animation.gif"
#: Flags a resumed run takes from the command line; every other one given is ignored, with a warning.
RESUME_FLAGS = {"device", "no_animation"}
DOUBLE_POLES = ("double-pole", "double-pole-nv")
_HELP = {
    "task": "double-pole, double-pole-nv, cartpole or gymnasium:<id> (any registered Gymnasium environment)",
    "architecture": "network spec, e.g. 3-5r-1 (r: recurrent); built-in tasks default to "
                    + ", ".join(f"{task} {spec}" for task, spec in DEFAULT_ARCHITECTURES.items()),
    "algorithm": "ga (whole networks), esp (a subpopulation per hidden neuron), sane (a neuron pool and network "
                 "blueprints) or cosyne (neuron genes permuted)",
    "variation": "crossover (with mutation), mutation-only or none (selection only)",
    "crossover": "the crossover (operators.registry)",
    "encoding": "genome encoding (esp, sane and cosyne need embedding)",
    "d": "embedding width",
    "population": "networks (ga, cosyne), blueprints (sane) or records per hidden slot (esp)",
    "trials": "esp: networks each record joins per generation",
    "cap": "the evaluation (episode) budget",
    "mutation_sigma": "Gaussian mutation std",
    "mutation_indpb": "probability of mutating each gene",
    "cxpb": "ga: crossover probability",
    "mutpb": "ga: mutation probability",
    "tournament": "ga: tournament size",
    "alpha": "interpolation crossover: weight of the other parent",
    "coefficient": "transplant crossover: fraction of neurons swapped",
    "episodes": "episodes per evaluation (fitness: their mean)",
    "threshold": "the fitness (mean episode return) that solves the task; required for cartpole and gymnasium:<id> "
                 "(e.g. 475 for CartPole-v1)",
    "max_steps": "episode cap of the evolution episodes (default: the task's)",
}
_CHOICES = {
    "algorithm": ALGORITHMS,
    "variation": ("crossover", "mutation-only", "none"),
    "crossover": tuple(CROSSOVERS),
    "encoding": ("embedding", "direct"),
}


def control_settings(settings: Mapping[str, Any]) -> ControlSettings:
    """The :class:`ControlSettings` of a run's settings, checked against the task before any work.

    Unset fields keep the recipe's defaults. The task is made once (cheaply) to check that it
    exists and that the network's inputs and outputs fit it.

    Args:
        settings: the run's settings (the flags' destinations, as stored in ``settings.json``).

    Returns:
        The settings of :func:`populations.control.run_control`.

    Raises:
        ValueError: an unknown task; ``gymnasium:`` without an id, ``--arch`` or ``--threshold``;
            ``cartpole`` without ``--threshold``; gymnasium not installed; a network that does not fit
            the task; anything :class:`ControlSettings` refuses.
    """
    control = settings_dataclass(ControlSettings, settings)
    task = control.task
    if task.startswith(GYMNASIUM_PREFIX):
        if not task[len(GYMNASIUM_PREFIX):]:
            raise ValueError("--task gymnasium:<id> needs a Gymnasium id, e.g. gymnasium:CartPole-v1")
        if not control.architecture:
            raise ValueError(f"--task {task} needs --arch: the network spec, its inputs the environment's "
                             f"observations and its outputs its actions (e.g. --arch 4-8-2 for CartPole-v1)")
    elif task not in BUILTIN:
        raise ValueError(f"unknown --task {task!r}; choose {', '.join(BUILTIN)} or {GYMNASIUM_PREFIX}<id>")
    if task not in DOUBLE_POLES and control.threshold is None:
        raise ValueError(f"--task {task} needs --threshold: the fitness (mean episode return) that solves it, "
                         f"e.g. 475 for CartPole-v1")
    try:
        env = make_env(task, **({} if control.max_steps is None else {"max_steps": control.max_steps}))
    except ImportError as error:
        raise ValueError(str(error)) from None
    close = getattr(env, "close", None)
    if close is not None:
        close()
    arch = Architecture.parse(control.spec(), activation="tanh")
    if (arch.n_inputs_flat, arch.n_classes) != (env.observation_size, env.action_size):
        raise ValueError(f"--arch {control.spec()} has {arch.n_inputs_flat} inputs and {arch.n_classes} outputs; "
                         f"{task} has {env.observation_size} observations and {env.action_size} action outputs")
    return control


def final_line(record: Mapping[str, Any], cap: int) -> str:
    """The command's last line: whether the task was solved, and in how many evaluations.

    Args:
        record: the run's record (:func:`populations.control.run_control`).
        cap: the evaluation budget.

    Returns:
        e.g. ``"solved double-pole-nv in 3,412 evaluations (generalisation 251/625)"`` or
        ``"not solved: double-pole after 200 evaluations (cap 200)"``.
    """
    if record["solved"]:
        generalisation = record.get("generalisation")
        return (f"solved {record['task']} in {record['evaluations_to_solve']:,} evaluations"
                + (f" (generalisation {generalisation}/625)" if generalisation is not None else ""))
    return f"not solved: {record['task']} after {record['evaluations']:,} evaluations (cap {cap:,})"


def _describe(control: ControlSettings, device: str | None) -> str:
    variation = control.variation + (f" ({control.crossover})" if control.variation == "crossover" else "")
    unit = {"esp": "records per hidden slot", "sane": "blueprints"}.get(control.algorithm, "networks")
    return (f"neuroevo control: {control.algorithm}, {variation}, on {control.task}: {control.population} {unit} "
            f"({control.encoding} genomes, {control.spec()}), until solved or {control.cap:,} evaluations, "
            f"on {device or 'cpu'}")


def _write_outputs(run_folder: RunFolder, result: Any, record: Mapping[str, Any], title: str) -> list[str]:
    """logbook.csv, fitness.png (where matplotlib is), best.safetensors and record.json; returns
    the names written."""
    from populations.plots import plot_logbook

    write_logbook_csv(result.logbook, run_folder.path(LOGBOOK_FILE))
    written = [CHECKPOINT_FILE, SETTINGS_FILE, LOGBOOK_FILE]
    try:
        plot_logbook(result.logbook, run_folder.path(PLOT_FILE), fields=("max", "avg"), title=title)
        written.append(PLOT_FILE)
    except ImportError as error:
        print(f"no {PLOT_FILE}: {error}")
    save_genome(result.best, run_folder.path(BEST_FILE))
    atomic_write(run_folder.path(RECORD_FILE), lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    return [*written, BEST_FILE, RECORD_FILE]


def run_control_command(args: argparse.Namespace) -> int:
    """Run (or with ``--resume`` continue) a control run in ``args.output``; returns the exit status.

    Args:
        args: the parsed flags (with ``given_flags``, see :mod:`neuroevo.cli`).

    Returns:
        0.

    Raises:
        ValueError: an output folder that is a file or already holds a run (without ``--resume``),
            or settings :func:`control_settings` refuses, before any work.
    """
    run_folder = open_run_folder(args.output, resume=args.resume, command="control")
    if run_folder.resuming:
        settings = run_folder.stored_settings()
        warn_ignored("control", args.given_flags, RESUME_FLAGS)
        if run_folder.path(RECORD_FILE).exists():
            record = json.loads(run_folder.path(RECORD_FILE).read_text())
            print(f"{run_folder.folder} holds a finished run; nothing to continue")
            print(final_line(record, settings_dataclass(ControlSettings, settings).cap))
            return 0
        print(f"resuming {run_folder.folder}")
        control = control_settings(settings)
    else:
        control = control_settings(run_settings(args, exclude=RESUME_FLAGS))  # checks before any work
        # Resolved before it is stored, so that a resumed run does not depend on the defaults of a later version.
        control = dataclasses.replace(control, architecture=control.spec())
        settings = {**dataclasses.asdict(control), "seed": args.seed}
    print(_describe(control, args.device), flush=True)

    def after_generation(state: GAState) -> None:
        """Write settings.json once the run has started, and the logbook so far."""
        if not run_folder.path(SETTINGS_FILE).exists():  # written once the run has passed its checks and started
            run_folder.write_settings(settings)
        write_logbook_csv(state.logbook, run_folder.path(LOGBOOK_FILE))

    record, result = run_control(control, seed=settings["seed"], device=args.device,
                                 checkpoint=run_folder.checkpoint, progress=not args.no_progress,
                                 on_generation=after_generation)
    fitness = "damping fitness" if control.task == "double-pole-nv" else "mean episode return"
    written = _write_outputs(run_folder, result, record, f"{control.algorithm} on {control.task}: {fitness}")
    if not args.no_animation:
        from neuroevo.control.animation import AnimationUnavailable, animate_controller

        try:
            animate_controller(result.best, control.task, run_folder.path(ANIMATION_FILE),
                               max_steps=control.max_steps)
            written.append(ANIMATION_FILE)
        except AnimationUnavailable as error:
            print(f"no {ANIMATION_FILE}: {error}")
    print(f"written to {run_folder.folder}: {', '.join(written)}; wall time {record['wall_s']} s")
    print(final_line(record, control.cap))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``control`` command to ``subparsers``.

    Args:
        subparsers: the ``neuroevo`` parser's sub-commands.
    """
    parser = subparsers.add_parser(
        "control", help="evolve a controller (double pole, cart pole, any Gymnasium task) without gradients",
        description="Gradient-free evolution of a controller until the task is solved or --cap evaluations "
                    "(episodes) are spent; the defaults are the recommended recipe (populations.control."
                    "ControlSettings). Writes OUTPUT/checkpoint.safetensors, settings.json, logbook.csv, "
                    "fitness.png, best.safetensors, record.json and animation.gif, and prints last whether the "
                    "task was solved and in how many evaluations.",
    )
    parser.add_argument("--config", metavar="FILE",
                        help="JSON file of settings named as these flags' destinations (the settings.json of a run "
                             "repeats it); flags given on the command line win")
    recipe = parser.add_argument_group("the run (defaults: populations.control.ControlSettings)")
    add_settings_arguments(recipe, ControlSettings, helps=_HELP, flags={"architecture": "--arch"}, choices=_CHOICES)
    recipe.add_argument("--seed", type=int, default=0, help="seeds the initial population and the operators")
    run = parser.add_argument_group("running")
    add_running_arguments(run, resume_help="continue the run in OUTPUT from its checkpoint with its stored settings "
                                           "(only --device, --no-progress and --no-animation apply)")
    run.add_argument("--no-animation", action="store_true", help=f"skip {ANIMATION_FILE}")
    parser.set_defaults(func=run_control_command)
