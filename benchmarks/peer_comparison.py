"""Population evaluation against its peers: EvoTorch, a plain per-model loop, and the matmul peak.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/peer_comparison.py --data mnist-small \
        --threads 2 --repeats 5 --output benchmarks/results/peer_comparison.json

Two workloads, each on the same networks in every arm (issue 13):

* **FC**: ``--fc-population`` random 784-400-10 embedding genomes (d=64, one input encoding) on
  the first ``--fc-samples`` MNIST test images (random images of MNIST's shape without ``--data``);
* **conv**: ``--conv-population`` random 1x28x28-20c-40c-100-10 embedding genomes (separable conv
  layers) on ``--conv-samples`` images.

Arms, timed in one process, interleaved, ``--repeats`` times (medians reported):

* ``batched_embedding`` / ``batched_direct``: :func:`evaluate_population` on the embedding genomes
  and on their direct equivalents (:func:`direct_equivalent`: the same functions as weight
  matrices);
* ``loop``: a plain per-model loop, one ``nn.Sequential`` per network (conv layers as ``Conv2d``
  layers in the project's separable order: a 1x1 pointwise ``Conv2d``, then a depthwise ``Conv2d``
  with the bias), ``--peer-batch`` images per forward;
* ``evotorch``: EvoTorch 0.6.1's vectorised path: a ``Problem(vectorized=True)`` whose
  ``_evaluate_batch`` runs ``torch.func.vmap`` over ``make_functional_module(net)`` on the
  population's flat parameter vectors, ``--peer-batch`` images per call (skipped, with a message,
  when EvoTorch is not installed: ``pip install --no-deps evotorch==0.6.1``, the ``bench`` extra);
* ``probe``: a square GEMM in the evaluator's precision (:data:`EVALUATOR_DTYPE`), the device's
  matmul peak right now. Its size is found first (:func:`size_probe`): the GEMM grows from
  ``--probe-start`` by doubling until its throughput stops improving (by less than
  :data:`PLATEAU` from one size to the next) or ``--probe-cap`` is reached (default 8192 on CUDA,
  4096 on the CPU), each size timed over enough back-to-back products that one timing lasts
  ``--probe-seconds`` (launch and synchronisation overhead negligible); ``--probe-size`` fixes
  the size instead. A small probe on a large GPU is launch-bound and would understate the peak.

Every arm computes accuracy and mean cross-entropy; accuracies must agree across arms (at most
:data:`AGREEMENT_SAMPLES` samples apart, a near-tie may flip between summation orders). Per arm and
repeat the script records wall-clock seconds, user and system (kernel) CPU seconds and minor page
faults (``getrusage``). The allocator is set for every arm alike (``--allocator retain``: glibc
``mallopt`` keeps freed memory in the heap instead of returning it to the kernel, so large
activations are not re-faulted on every call; ``default``: glibc's defaults).

FLOPs are 2 per multiply-add of matrix products and convolutions: for the batched arms, what
:func:`evaluate_population` counted; for the peers, their dense arithmetic (the same count for
direct genomes). ``fraction_of_probe`` is (FLOPs / median seconds) / the probe's median rate in
the same repeats; ``share_of_peak`` is (FLOPs / median seconds) / the device's measured peak, the
highest rate any probe timing reached (sizing included): at most 1 for work the device can do.

``--scale`` also scores populations of ``--scale-populations`` FC embedding genomes on the FC
images within ``--scale-budget`` bytes, each in a fresh subprocess whose peak resident memory is
measured (``ru_maxrss``), and reports genomes per second.

``--render-into docs/RESULTS.md`` replaces that file's section :data:`SECTION` (from its heading
to the next ``## `` heading) with the rendering of the ``--from`` files (or of this run's) JSON.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP (see batched_evaluation.py)

import argparse
import ctypes
import ctypes.util
import importlib.util
import json
import math
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from neuroevo.architecture import Architecture
from neuroevo.decoding.equivalent import direct_equivalent
from neuroevo.evaluation import evaluate_population
from neuroevo.files import atomic_write, replace_markdown_section
from staleness import stale_lines
from neuroevo.genomes import DirectGenome, EmbeddingGenome
from neuroevo.provenance import portable_path, provenance

FC_ARCH = "784-400-10"
CONV_ARCH = "1x28x28-20c-40c-100-10"
SECTION = "## Population evaluation against peers (issue 13)"
AGREEMENT_SAMPLES = 2
GIB = 2**30
#: The precision of the evaluator's products (:func:`~neuroevo.evaluation.stacking.stack_genomes`
#: stacks every genome in float32), and so of the probe.
EVALUATOR_DTYPE = torch.float32
#: The probe stops growing when doubling its size improves its throughput by less than this.
PLATEAU = 0.05


# ------------------------------------------------------------------ set-up
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="MNIST folder (IDX) or data set name; random images when omitted")
    parser.add_argument("--fc-population", type=int, default=64)
    parser.add_argument("--fc-samples", type=int, default=10_000)
    parser.add_argument("--conv-population", type=int, default=16)
    parser.add_argument("--conv-samples", type=int, default=2_000)
    parser.add_argument("--d", type=int, default=64, help="embedding width")
    parser.add_argument("--workloads", default="fc,conv", help="comma-separated: fc, conv (or none)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--probe-size", type=int, help="fix the probe GEMM's size (default: sized to the device)")
    parser.add_argument("--probe-start", type=int, default=256, help="smallest probe size tried")
    parser.add_argument("--probe-cap", type=int, help="largest probe size tried (default 8192 on CUDA, 4096 on CPU)")
    parser.add_argument("--probe-seconds", type=float, default=0.2, help="least duration of one probe timing")
    parser.add_argument("--peer-batch", type=int, default=1000, help="images per forward of the loop and EvoTorch")
    parser.add_argument("--allocator", choices=("retain", "default"), default="retain")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scale", action="store_true", help="also measure populations of --scale-populations")
    parser.add_argument("--scale-populations", default="64,256,1024,4096")
    parser.add_argument("--scale-budget", type=int, default=2 * GIB, help="memory budget in bytes")
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)  # the subprocess of one scale point
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    parser.add_argument("--from", dest="sources", type=Path, action="append",
                        help="render this JSON instead of measuring (repeatable: workloads and scale merged)")
    parser.add_argument("--render-into", type=Path, help="replace the section of this markdown file")
    return parser.parse_args(argv)


def set_allocator(kind: str) -> bool:
    """``retain``: glibc keeps freed memory (no mmap for large blocks, no trimming); returns
    whether the settings took (``False`` off glibc)."""
    if kind == "default":
        return True
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    libc = ctypes.CDLL(path)
    if not hasattr(libc, "mallopt"):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def load_images(folder: str | None, n: int, seed: int) -> tuple[Tensor, Tensor, str, str]:
    """The first ``n`` test images ``[n, 1, 28, 28]`` and labels, the data set's name and split."""
    if folder is None:
        generator = torch.Generator().manual_seed(seed)
        images = torch.randn(n, 1, 28, 28, generator=generator)
        return images, torch.randint(0, 10, (n,), generator=generator), "random images [N, 1, 28, 28]", "none"
    from neuroevo.data import load_dataset

    dataset = load_dataset(folder, "test")
    if n > len(dataset):
        sys.exit(f"{folder} has {len(dataset)} test images, fewer than the {n} asked for")
    return dataset.images[:n], dataset.labels[:n], dataset.name, f"test (first {n} of {len(dataset)} images)"


def embedding_population(arch: Architecture, d: int, size: int, seed: int) -> list[EmbeddingGenome]:
    """``size`` random embedding genomes on one input encoding."""
    generator = torch.Generator().manual_seed(seed)
    first = EmbeddingGenome.random(arch, d, generator=generator)
    return [first] + [EmbeddingGenome.random(arch, input_encoding=first.input_encoding, generator=generator)
                      for _ in range(size - 1)]


# ------------------------------------------------------------------ peers
def plain_module(genome: DirectGenome) -> nn.Sequential:
    """``genome`` as the ``nn.Sequential`` a user writes (separable conv: pointwise, then depthwise)."""
    arch = genome.architecture
    layers: list[nn.Module] = []
    for index, records in enumerate(genome.layers):
        if arch.is_conv(index):
            c_out, c_in = records["weight"].shape
            k = arch.kernel_size
            pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
            depthwise = nn.Conv2d(c_out, c_out, k, padding=k // 2, groups=c_out)
            pointwise.weight.data = records["weight"].reshape(c_out, c_in, 1, 1).clone()
            depthwise.weight.data = records["kernels"].reshape(c_out, 1, k, k).clone()
            depthwise.bias.data = records["bias"].clone()
            layers += [pointwise, depthwise, nn.ReLU(), nn.MaxPool2d(arch.pool)]
            if index == arch.n_conv - 1:
                layers.append(nn.Flatten())
        else:
            if index == 0:
                layers.append(nn.Flatten())
            linear = nn.Linear(records["weight"].shape[1], records["weight"].shape[0])
            linear.weight.data = records["weight"].clone()
            linear.bias.data = records["bias"].clone()
            layers.append(linear)
            if index < arch.n_layers - 1:
                layers.append(nn.ReLU())
    return nn.Sequential(*layers).eval()


def _chunk_scores(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Correct predictions and summed cross-entropy of ``logits [..., b, C]`` over the ``b`` axis."""
    correct = (logits.argmax(-1) == labels).sum(-1)
    losses = torch.logsumexp(logits, -1) - logits.gather(-1, labels.expand(*logits.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    return correct, losses.double().sum(-1)


@torch.no_grad()
def loop_scores(modules: list[nn.Module], images: Tensor, labels: Tensor, batch: int) -> tuple[Tensor, Tensor]:
    """Accuracy and cross-entropy of each module, ``batch`` images per forward."""
    accuracy, cross_entropy = [], []
    for module in modules:
        correct, loss = 0, 0.0
        for first in range(0, len(labels), batch):
            c, l = _chunk_scores(module(images[first:first + batch]), labels[first:first + batch])
            correct, loss = correct + int(c), loss + float(l)
        accuracy.append(correct / len(labels))
        cross_entropy.append(loss / len(labels))
    return torch.tensor(accuracy, dtype=torch.float64), torch.tensor(cross_entropy, dtype=torch.float64)


def evotorch_arm(modules: list[nn.Module], images: Tensor, labels: Tensor, batch: int) -> Callable[[], tuple]:
    """EvoTorch's vectorised path scoring the ``modules`` as flat parameter vectors; a function that
    evaluates the population once and returns ``(accuracy, cross_entropy)``."""
    import logging

    from evotorch import Problem

    logging.getLogger("evotorch").setLevel(logging.WARNING)
    from evotorch.neuroevolution.net import make_functional_module
    from torch.nn.utils import parameters_to_vector

    network = modules[0]
    functional = make_functional_module(network)
    batched_forward = torch.func.vmap(functional, in_dims=(0, None))
    parameters = torch.stack([parameters_to_vector(m.parameters()) for m in modules])

    class Scoring(Problem):
        """Accuracy (maximised) of each solution's network; the cross-entropy kept aside.
        (Defining ``_evaluate_batch`` makes the problem vectorised: one call per population.)"""

        def __init__(self) -> None:
            super().__init__("max", solution_length=parameters.shape[1],
                             initial_bounds=(-1.0, 1.0), dtype=torch.float32, device=images.device)
            self.cross_entropy = None

        def _evaluate_batch(self, solutions) -> None:
            values = solutions.values
            correct = torch.zeros(len(values), dtype=torch.int64)
            loss = torch.zeros(len(values), dtype=torch.float64)
            with torch.no_grad():
                for first in range(0, len(labels), batch):
                    c, l = _chunk_scores(batched_forward(values, images[first:first + batch]),
                                         labels[first:first + batch])
                    correct += c
                    loss += l
            solutions.set_evals(correct.double() / len(labels))
            self.cross_entropy = loss / len(labels)

    problem = Scoring()
    population = problem.generate_batch(len(modules))
    population.set_values(parameters)

    def run() -> tuple[Tensor, Tensor]:
        population.forget_evals()
        problem.evaluate(population)
        return population.evals[:, 0].double(), problem.cross_entropy

    return run


# ------------------------------------------------------------------ FLOPs
def dense_flops(arch: Architecture, n_samples: int) -> int:
    """FLOPs of one network of ``arch`` on ``n_samples`` as weight matrices (separable conv layers:
    pointwise plus depthwise)."""
    per_sample = 0
    c_in, height, width = arch.input_shape if arch.n_conv else (0, 0, 0)
    for index, n in enumerate(arch.widths):
        if arch.is_conv(index):
            per_sample += (n * c_in + n * arch.kernel_size**2) * height * width
            c_in, height, width = n, height // arch.pool, width // arch.pool
    fan_in = c_in * height * width if arch.n_conv else arch.n_inputs_flat
    for n in arch.widths[arch.n_conv:]:
        per_sample += fan_in * n
        fan_in = n
    return 2 * n_samples * per_sample


# ------------------------------------------------------------------ timing
def timed(fn: Callable[[], object]) -> tuple[object, dict[str, float]]:
    """``fn()`` and its wall-clock, user and system CPU seconds and minor page faults."""
    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    value = fn()
    wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
    return value, {"wall": wall, "user": after.ru_utime - before.ru_utime, "system": after.ru_stime - before.ru_stime,
                   "minor_faults": after.ru_minflt - before.ru_minflt}


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gemm_rate(n: int, device: torch.device, dtype: torch.dtype = EVALUATOR_DTYPE,
              min_seconds: float = 0.2) -> tuple[float, int]:
    """Throughput of an ``[n, n] @ [n, n]`` product on ``device`` in ``dtype``, in FLOP/s (2 per
    multiply-add), and the number of back-to-back products timed: doubled from 1 until one timing
    (synchronised on CUDA) lasts at least ``min_seconds``, after one untimed warm-up product."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator).to(device, dtype)
    b = torch.randn(n, n, generator=generator).to(device, dtype)
    torch.mm(a, b)
    count = 1
    while True:
        _synchronise(device)
        started = time.perf_counter()
        for _ in range(count):
            torch.mm(a, b)
        _synchronise(device)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return 2 * n**3 * count / elapsed, count
        count *= 2


def size_probe(rate_of: Callable[[int], float], start: int, cap: int) -> tuple[int, list[dict]]:
    """The probe's size: ``start``, doubled while the throughput ``rate_of(n)`` (FLOP/s) improves by
    at least :data:`PLATEAU` and ``n`` stays within ``cap``.

    Returns:
        ``(size, steps)``: the size of the highest rate seen, and every size tried with its rate
        (``[{"size", "gflops_per_second"}]``).
    """
    steps: list[dict] = []
    n = start
    while n <= cap:
        rate = rate_of(n)
        improving = not steps or rate >= (1 + PLATEAU) * max(step["gflops_per_second"] for step in steps) * 1e9
        steps.append({"size": n, "gflops_per_second": rate / 1e9})
        if not improving:
            break
        n *= 2
    if not steps:
        raise ValueError(f"probe start {start} is above its cap {cap}")
    return max(steps, key=lambda step: step["gflops_per_second"])["size"], steps


def measure(arms: dict[str, Callable[[], object]], repeats: int, label: str) -> dict[str, dict[str, list[float]]]:
    """Every arm ``repeats`` times, interleaved (a new order each repeat; probe: median of 3)."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in arms}
    names = list(arms)
    for repeat in range(repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        for name in order:
            runs = [timed(arms[name])[1] for _ in range(3 if name == "probe" else 1)]
            for key in runs[0]:
                samples[name].setdefault(key, []).append(statistics.median(r[key] for r in runs))
        print(f"{label} repeat {repeat + 1}/{repeats}: "
              + ", ".join(f"{n} {samples[n]['wall'][-1]:.3f} s" for n in names), flush=True)
    return samples


def profile_breakdown(fn: Callable[[], object], top: int = 6) -> list[dict]:
    """Where one call of ``fn`` spends its time: the ``top`` operators by self time (``torch.profiler``),
    with their share and, for matrix products and convolutions, their FLOP rate."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as profiler:
        fn()
    events = profiler.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [{"op": e.key, "share": e.self_cpu_time_total / total, "seconds": e.self_cpu_time_total / 1e6,
             "calls": e.count, "gflops_per_second": e.flops / e.self_cpu_time_total / 1e3 if e.flops else None}
            for e in rows]


def scores_of(value) -> tuple[Tensor, Tensor]:
    """``(accuracy, cross_entropy)`` float64 tensors of an arm's result."""
    if isinstance(value, tuple):
        return value
    return value.accuracy, value.cross_entropy


def workload(name: str, arch: Architecture, args: argparse.Namespace, images: Tensor, labels: Tensor,
             probe: Callable[[], object], probe_flops: int, sized_peak: float = 0.0) -> dict:
    """Measure every arm on one workload and summarise it; ``probe()`` performs ``probe_flops``
    FLOPs, ``sized_peak`` is the best probe rate of the sizing (FLOP/s)."""
    size = args.fc_population if name == "fc" else args.conv_population
    embedding = embedding_population(arch, args.d, size, args.seed)
    direct = [direct_equivalent(g) for g in embedding]
    modules = [plain_module(g) for g in direct]
    device = torch.device(args.device)
    data = (images.to(device), labels.to(device))
    arms: dict[str, Callable[[], object]] = {
        "probe": probe,
        "batched_embedding": lambda: evaluate_population(embedding, data, device=device),
        "batched_direct": lambda: evaluate_population(direct, data, device=device),
        "loop": lambda: loop_scores(modules, images, labels, args.peer_batch),
    }
    skipped = None
    if importlib.util.find_spec("evotorch") is None:
        skipped = "EvoTorch is not installed (pip install --no-deps evotorch==0.6.1): its arm was skipped"
        print(skipped, flush=True)
    else:
        arms["evotorch"] = evotorch_arm(modules, images, labels, args.peer_batch)
    results = {arm: fn() for arm, fn in arms.items()}  # warm-up, and the scores compared below
    flops = {arm: dense_flops(arch, len(labels)) * size for arm in arms}
    flops["probe"] = probe_flops
    flops["batched_embedding"] = results["batched_embedding"].flops
    flops["batched_direct"] = results["batched_direct"].flops
    samples = measure(arms, args.repeats, name)
    profiles = {arm: profile_breakdown(arms[arm]) for arm in ("batched_embedding", "batched_direct")}
    median = {arm: {key: statistics.median(values) for key, values in s.items()} for arm, s in samples.items()}
    probe_rate = probe_flops / median["probe"]["wall"]
    peak = max(sized_peak, probe_flops / min(samples["probe"]["wall"]))
    reference = scores_of(results["batched_embedding"])
    agreement = {}
    for arm, value in results.items():
        if arm != "probe":
            accuracy, cross_entropy = scores_of(value)
            agreement[arm] = {"accuracy": float((accuracy - reference[0]).abs().max()),
                              "cross_entropy": float((cross_entropy - reference[1]).abs().max())}
    peers = [arm for arm in ("loop", "evotorch") if arm in arms]
    ratios = {}
    for ours in ("batched_embedding", "batched_direct"):
        for peer in peers:
            ratios[f"{ours}_vs_{peer}"] = median[peer]["wall"] / median[ours]["wall"]
            per_repeat = [p / o for p, o in zip(samples[peer]["wall"], samples[ours]["wall"])]
            ratios[f"{ours}_vs_{peer}_per_repeat_range"] = [min(per_repeat), max(per_repeat)]
    return {
        "architecture": arch.spec,
        "population": size,
        "samples": len(labels),
        "d": args.d,
        "arms": list(arms),
        "skipped": skipped,
        "per_repeat": samples,
        "median": median,
        "flops": flops,
        "gflops_per_second": {arm: flops[arm] / median[arm]["wall"] / 1e9 for arm in arms},
        "fraction_of_probe": {arm: flops[arm] / median[arm]["wall"] / probe_rate for arm in arms},
        "peak_gflops_per_second": peak / 1e9,
        "share_of_peak": {arm: flops[arm] / median[arm]["wall"] / peak for arm in arms},
        "speedup": ratios,
        "profile": profiles,
        "max_abs_difference_from_batched_embedding": agreement,
        "agree": all(a["accuracy"] <= AGREEMENT_SAMPLES / len(labels) + 1e-12 for a in agreement.values()),
    }


# ------------------------------------------------------------------ scale
def scale_point(args: argparse.Namespace, images: Tensor, labels: Tensor) -> dict:
    """One population size (run in a subprocess): time, and peak resident memory above the start."""
    population = embedding_population(Architecture.parse(FC_ARCH), args.d, args.scale_one, args.seed)
    evaluate_population(population[:1], (images[:10], labels[:10]))  # load the kernels' libraries first
    baseline = _resident_bytes()
    scores, cost = timed(lambda: evaluate_population(population, (images, labels), memory_budget=args.scale_budget))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"population": args.scale_one, "seconds": cost["wall"], "user": cost["user"], "system": cost["system"],
            "minor_faults": cost["minor_faults"], "genomes_per_second": args.scale_one / cost["wall"],
            "gflops_per_second": scores.flops / cost["wall"] / 1e9, "flops": scores.flops,
            "resident_before_bytes": baseline, "peak_resident_bytes": peak,
            "peak_above_start_bytes": peak - baseline, "budget_bytes": args.scale_budget}


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def scale(args: argparse.Namespace, argv: list[str]) -> list[dict]:
    """Every ``--scale-populations`` size in a fresh subprocess (its own peak memory)."""
    points = []
    base = [a for a in argv if a not in ("--scale",)]
    for size in (int(s) for s in args.scale_populations.split(",")):
        command = [sys.executable, __file__, *_without_output(base), "--scale-one", str(size)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        point = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"scale: {size} genomes in {point['seconds']:.2f} s ({point['genomes_per_second']:.1f} genomes/s), "
              f"peak {point['peak_resident_bytes'] / GIB:.2f} GiB ({point['peak_above_start_bytes'] / GIB:.2f} GiB "
              "above the start)", flush=True)
        points.append(point)
    return points


def _without_output(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--output", "--render-into", "--from"):
            skip = True
        elif not a.startswith(("--output=", "--render-into=", "--from=")):
            out.append(a)
    return out


# ------------------------------------------------------------------ report
def render(results: list[dict]) -> str:
    """The RESULTS section (markdown) of one or more runs' JSON (workloads and scale merged)."""
    lines = [SECTION, "", "Generated by `benchmarks/peer_comparison.py --from ... --render-into docs/RESULTS.md` "
             "from the runs below (CPU; medians of the repeats; arms interleaved; ratio ranges per repeat, each "
             "repeat timing every arm once; probe: a square GEMM in the evaluator's precision timed in the same run, "
             "sized to the device where the run says so). Allocator "
             "`retain`: glibc `mallopt(M_MMAP_MAX, 0)` and `mallopt(M_TRIM_THRESHOLD, 2^31 - 1)` in the "
             "benchmark process, so freed activations stay in the heap instead of being unmapped and faulted "
             "in again on the next call (the peers' large activations otherwise spend much of their time in "
             "the kernel); it applies to every arm alike. Kernel time is the system CPU time and faults the "
             "minor page faults of `getrusage`, per call."]
    for r in results:
        load = r["load_average_1min"]
        lines += ["", *stale_lines(r, r["command"]), "```bash", r["command"], "```",
                  f"`{r.get('output') or 'JSON'}`"
                  + (" (written under the name in its command, renamed after the run)"
                     if r.get("output") and r["output"] not in r["command"] else "")
                  + f": commit {str(r['commit'])[:10]}{' (uncommitted changes in measured code)' if r['dirty'] else ''}, "
                  f"measured {r['measured_at']}; torch {r['torch']}, EvoTorch {r['evotorch'] or 'absent'}; "
                  f"{r['threads']} torch threads, {r['environment']}; allocator `{r['allocator']}` for every arm; "
                  f"{r['repeats']} repeats; probe {r['probe_size']}^3 {r.get('probe_dtype', 'float32')}"
                  + (" (sized: " + ", ".join(f"{step['size']}: {step['gflops_per_second']:.0f}"
                                             for step in r["probe_sizing"]) + " GFLOP/s)" if r.get("probe_sizing") else "")
                  + f"; peers run {r['peer_batch']} images per forward; "
                  f"load average {load['before']:.1f} -> {load['after']:.1f} on {load['cpus']} CPUs; "
                  f"data: {r['dataset']}, {r['split']}."]
    lines.append("")
    for r in results:
        for name, w in r["workloads"].items():
            lines += _render_workload(name, w, r.get("output") or "run")
    for r in results:
        if r.get("scale"):
            lines += _render_scale(r["scale"])
    lines += _render_goals(results)
    lines += _render_analysis(results)
    lines.append(f"GPU: {results[0]['gpu']}.")
    return "\n".join(lines) + "\n"


#: Issue 13's goals: (workload, quantity, arm, peer or None, target); quantity "speedup" is peer time
#: over ours (median of the repeats), "fraction" our FLOP rate over the probe's.
GOALS = (
    ("fc", "speedup", "batched_direct", "loop", 1.0),
    ("fc", "speedup", "batched_direct", "evotorch", 1.0),
    ("fc", "fraction", "batched_direct", None, 0.85),
    ("fc", "fraction", "batched_embedding", None, 0.70),
    ("fc", "speedup", "batched_embedding", "loop", 6.0),
    ("conv", "speedup", "batched_embedding", "loop", 1.5),
    ("conv", "speedup", "batched_embedding", "evotorch", 1.5),
    ("conv", "speedup", "batched_direct", "loop", 1.5),
    ("conv", "speedup", "batched_direct", "evotorch", 1.5),
    ("conv", "fraction", "batched_embedding", None, 0.25),
    ("conv", "fraction", "batched_direct", None, 0.25),
)


def goal_rows(result: dict) -> list[dict]:
    """Each goal of :data:`GOALS` that one run measured: value, target, and whether it is met."""
    workloads = result["workloads"]
    rows = []
    for name, quantity, arm, peer, target in GOALS:
        w = workloads.get(name)
        if w is None or (peer is not None and peer not in w["arms"]):
            continue
        if quantity == "speedup":
            value = w["speedup"][f"{arm}_vs_{peer}"]
            low, high = w["speedup"][f"{arm}_vs_{peer}_per_repeat_range"]
            label, shown = f"{name}: {arm} vs {peer}", f"{value:.2f}x ({low:.2f}..{high:.2f})"
        elif "share_of_peak" in w:
            value = w["share_of_peak"][arm]
            label, shown = f"{name}: {arm}, share of the device's measured peak", f"{value:.0%}"
        else:  # runs before the probe was sized to the device
            value = w["fraction_of_probe"][arm]
            label, shown = f"{name}: {arm}, fraction of the probe", f"{value:.0%}"
        rows.append({"goal": label, "value": value, "shown": shown, "target": target, "met": value >= target})
    return rows


def _share(w: dict, arm: str, ops: tuple[str, ...]) -> float:
    """Share of ``arm``'s profiled time in the operators ``ops`` (among the top ones recorded)."""
    return sum(row["share"] for row in w.get("profile", {}).get(arm, []) if row["op"] in ops)


def _render_analysis(results: list[dict]) -> list[str]:
    """Where the time goes and why a goal is out of reach, in sentences computed from the runs (the
    last run of each workload)."""
    workloads = {name: w for r in results for name, w in r["workloads"].items()}
    lines = []
    fc = workloads.get("fc")
    if fc:
        probe = fc["gflops_per_second"]["probe"] * 1e9
        ceiling = fc["median"]["loop"]["wall"] * probe / fc["flops"]["batched_embedding"]
        gemm = _share(fc, "batched_embedding", ("aten::addmm", "aten::mm", "aten::baddbmm", "aten::bmm"))
        lines.append(
            f"FC, where the time goes: embedding genomes perform {fc['flops']['batched_embedding'] / 1e9:.1f} GFLOP "
            f"against the peers' {fc['flops']['loop'] / 1e9:.1f} (the factored first layer on the shared projection); "
            f"with every FLOP at the probe's rate they would be {ceiling:.1f}x the loop (its median time x the probe "
            f"rate / counted FLOPs), so the speed-up is bounded by the loop's own efficiency "
            f"({fc['fraction_of_probe']['loop']:.0%} of the probe) and ours. In the profiled call matrix products "
            f"take {gemm:.0%} of the time; their inputs are narrow (d = {fc['d']}: a [g*400, {fc['d']}] by "
            f"[{fc['d']}, s] product per tile, then [10, 400] by [400, s] per genome), and the rest is the bias "
            "written into each product's output before it (`copy_`), the activation and the scores. Direct genomes "
            "do the peers' arithmetic; their first layer is one product for the whole tile"
            + "".join(f", which ran at {row['gflops_per_second'] * 1e9 / probe:.0%} of the probe's median rate in "
                      f"the profiled call ({row['share']:.0%} of its time)"
                      for row in fc.get("profile", {}).get("batched_direct", [])[:1] if row["gflops_per_second"])
            + ", so the difference to the peers is what surrounds it (stacking and checking the genomes, the bias "
            "pass, the output layer, the scores).")
    conv = workloads.get("conv")
    if conv:
        elementwise = _share(conv, "batched_direct", ("aten::addcmul_", "aten::addcmul", "aten::maximum",
                                                      "aten::clamp_min_", "aten::copy_"))
        lines.append(
            f"Conv, where the time goes: {elementwise:.0%} of the direct genomes' profiled time is element-wise "
            "passes over the activations (the depthwise taps as shifted multiply-adds, pooling as maxima, the "
            "activation, layout copies), which run at memory speed: a depthwise tap is one multiply-add per value "
            "read and written, so the counted FLOPs of these layers cannot approach a GEMM's rate. The fused first "
            "layer is a product with only c_in k^2 = 9 terms per output, bound by writing its output"
            + "".join(f" ({row['gflops_per_second']:.0f} GFLOP/s, {row['share']:.0%} of the direct genomes' time)"
                      for row in conv.get("profile", {}).get("batched_direct", [])
                      if row["op"] == "aten::mm" and row["gflops_per_second"])
            + "; the pointwise and dense products run at the rates listed above. The peers run torch's "
            "convolutions and max pooling, slower still on these shapes.")
        faults = conv["median"].get("evotorch", {}).get("minor_faults", 0)
        if faults > 1000:
            arch = Architecture.parse(conv["architecture"])
            first = results[0]["peer_batch"] * conv["population"] * arch.conv_widths[0] * math.prod(arch.input_shape[1:])
            lines[-1] += (f" EvoTorch's vmapped convolutions still fault {faults:.0f} pages per call with the "
                          f"retaining allocator (its first layer's output alone, for {results[0]['peer_batch']} "
                          f"images and {conv['population']} networks, is {first * 4 / GIB:.2f} GiB).")
    return lines + [""] if lines else []


def _render_goals(results: list[dict]) -> list[str]:
    runs = [r for r in results if r["workloads"]]
    per_run = [goal_rows(r) for r in runs]
    lines = ["**Goals** (issue 13; speed-ups are medians with the per-repeat range; one column per run):", "",
             "| goal | " + " | ".join(f"`{r.get('output') or 'run'}`" for r in runs) + " | target | met in every run |",
             "|---|" + "---|" * len(runs) + "---|---|"]
    for index, row in enumerate(per_run[0] if per_run else []):
        cells = [rows[index] for rows in per_run]
        target = f">= {row['target']:.2f}x" if "vs" in row["goal"] else f">= {row['target']:.0%}"
        met = "yes" if all(c["met"] for c in cells) else ("no" if not any(c["met"] for c in cells) else "in some runs")
        lines.append(f"| {row['goal']} | " + " | ".join(c["shown"] for c in cells) + f" | {target} | {met} |")
    scale = next((r["scale"] for r in results if r.get("scale")), None)
    if scale:
        largest = max(scale, key=lambda p: p["population"])
        within = largest["peak_above_start_bytes"] <= largest["budget_bytes"]
        lines += ["", f"Scale: {largest['population']} genomes scored, {largest['peak_above_start_bytes'] / GIB:.2f} GiB "
                  f"above the start against a budget of {largest['budget_bytes'] / GIB:.0f} GiB "
                  f"({'within' if within else 'OVER'} budget), {largest['genomes_per_second']:.1f} genomes/s."]
    return lines + [""]


def _render_workload(name: str, w: dict, source: str) -> list[str]:
    agreement = max(a["accuracy"] for a in w["max_abs_difference_from_batched_embedding"].values())
    peak = "share_of_peak" in w
    lines = [f"**{name.upper()}** (`{source}`): {w['population']} random {w['architecture']} networks (embedding d={w['d']}, "
             f"and their direct equivalents) on {w['samples']} images. Accuracies agree across arms: "
             f"{'yes' if w['agree'] else 'NO'} (largest difference from batched embedding: {agreement:.2g})."
             + (f" Device peak measured: {w['peak_gflops_per_second']:.1f} GFLOP/s." if peak else ""),
             "", "| arm | wall s | user s | system s | minor faults | GFLOP | GFLOP/s | fraction of probe |"
             + (" share of peak |" if peak else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" if peak else "")]
    for arm in w["arms"]:
        m = w["median"][arm]
        lines.append(f"| {arm} | {m['wall']:.3f} | {m['user']:.2f} | {m['system']:.2f} | {m['minor_faults']:.0f} | "
                     f"{w['flops'][arm] / 1e9:.1f} | {w['gflops_per_second'][arm]:.1f} | "
                     f"{w['fraction_of_probe'][arm]:.0%} |" + (f" {w['share_of_peak'][arm]:.0%} |" if peak else ""))
    lines += ["", "| speed-up (peer time / ours) | median | per-repeat range |", "|---|---|---|"]
    for key, value in w["speedup"].items():
        if not key.endswith("_range"):
            low, high = w["speedup"][f"{key}_per_repeat_range"]
            lines.append(f"| {key.replace('_vs_', ' vs ')} | {value:.2f}x | {low:.2f}..{high:.2f} |")
    probe_rate = w["gflops_per_second"]["probe"]
    for arm, rows in w.get("profile", {}).items():
        parts = [f"{row['op']} {row['share']:.0%}" + (f" ({row['gflops_per_second']:.0f} GFLOP/s, "
                 f"{row['gflops_per_second'] / probe_rate:.0%} of the probe)" if row["gflops_per_second"] else "")
                 for row in rows]
        lines.append(f"\nWhere {arm} spends its time (one profiled call, self time): " + ", ".join(parts) + ".")
    if w["skipped"]:
        lines.append(f"\n{w['skipped']}.")
    return lines + [""]


def _render_scale(points: list[dict]) -> list[str]:
    lines = [f"**Scale**: 784-400-10 embedding genomes (d=64, one input encoding) on the FC images, "
             f"`memory_budget` {points[0]['budget_bytes'] / GIB:.0f} GiB, one run each in a fresh process; peak "
             "resident memory is the process's `ru_maxrss` (data, population and Python included); \"above the "
             "start\": that peak less the resident memory just before the evaluation.", "",
             "| population | s | genomes/s | GFLOP/s | peak resident GiB | above the start GiB | minor faults |",
             "|---|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p['population']} | {p['seconds']:.2f} | {p['genomes_per_second']:.1f} | "
                     f"{p['gflops_per_second']:.1f} | {p['peak_resident_bytes'] / GIB:.2f} | "
                     f"{p['peak_above_start_bytes'] / GIB:.2f} | {p['minor_faults']} |")
    return lines + [""]


def render_into(path: Path, text: str) -> None:
    """Replace ``path``'s section :data:`SECTION` with ``text`` (:func:`neuroevo.files.replace_markdown_section`)."""
    replace_markdown_section(path, SECTION, text)


def main(argv: list[str] | None = None) -> dict | list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.sources:
        results = [json.loads(source.read_text()) for source in args.sources]
    else:
        torch.set_num_threads(args.threads)
        allocator_ok = set_allocator(args.allocator)
        n_images = max(args.fc_samples, args.conv_samples)
        images, labels, dataset, split = load_images(args.data, n_images, args.seed)
        if args.scale_one is not None:
            point = scale_point(args, images[:args.fc_samples], labels[:args.fc_samples])
            print(json.dumps(point))
            return point
        device = torch.device(args.device)
        load_before = os.getloadavg()[0]
        probe_steps: list[dict] = []
        if args.probe_size is None:
            cap = args.probe_cap or (8192 if device.type == "cuda" else 4096)
            args.probe_size, probe_steps = size_probe(
                lambda n: gemm_rate(n, device, EVALUATOR_DTYPE, args.probe_seconds)[0], args.probe_start, cap)
        _, probe_count = gemm_rate(args.probe_size, device, EVALUATOR_DTYPE, args.probe_seconds)
        a, b = (torch.randn(args.probe_size, args.probe_size, generator=torch.Generator().manual_seed(seed))
                .to(device, EVALUATOR_DTYPE) for seed in (1, 2))

        def probe() -> None:
            for _ in range(probe_count):
                torch.mm(a, b)
            _synchronise(device)

        sized_peak = max((step["gflops_per_second"] * 1e9 for step in probe_steps), default=0.0)
        workloads = {}
        for name in [] if args.workloads == "none" else args.workloads.split(","):
            arch = Architecture.parse(FC_ARCH if name == "fc" else CONV_ARCH)
            n = args.fc_samples if name == "fc" else args.conv_samples
            workloads[name] = workload(name, arch, args, images[:n], labels[:n], probe,
                                       2 * args.probe_size**3 * probe_count, sized_peak)
        result = {
            "device": args.device,
            "device_name": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "environment": ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")
                                     if k in os.environ) or "default OpenMP settings",
            "allocator": args.allocator + ("" if allocator_ok else " (mallopt unavailable: glibc defaults)"),
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0], "cpus": os.cpu_count()},
            "torch": torch.__version__,
            "evotorch": _evotorch_version(),
            "repeats": args.repeats,
            "probe_size": args.probe_size,
            "probe_dtype": str(EVALUATOR_DTYPE).removeprefix("torch."),
            "probe_products_per_call": probe_count,
            "probe_sizing": probe_steps,
            "peer_batch": args.peer_batch,
            "workloads": workloads,
            "scale": scale(args, argv) if args.scale else None,
            "gpu": "none lent to this task's session (the device tool reports it not drawn); unmeasured"
            if args.device == "cpu" else f"measured on {args.device}",
            "output": portable_path(args.output) if args.output else None,
        }
        result |= provenance(dataset=dataset, split=split)
        if args.output is not None:
            atomic_write(args.output, lambda tmp: tmp.write_text(json.dumps(result, indent=2) + "\n"))
            print(f"wrote {args.output}")
        results = [result]
    text = render(results)
    print(text)
    if args.render_into is not None:
        render_into(args.render_into, text)
        print(f"rendered into {args.render_into}")
    return results if args.sources else results[0]


def _evotorch_version() -> str | None:
    if importlib.util.find_spec("evotorch") is None:
        return None
    from importlib.metadata import version

    return version("evotorch")


if __name__ == "__main__":
    main()
