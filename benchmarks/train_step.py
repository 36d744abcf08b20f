"""Training-step time of the embedding model vs the direct model, measured in the same run.

One step = forward, mean cross-entropy, backward, Adam update (``neuroevo.training.train_step``),
the embedding model learning its input encoding as when trained from scratch. The two models
alternate in rounds so that both see the same machine load; the median round is reported.

    python benchmarks/train_step.py                      # 784-400-10, d=64, batch 1000, CPU
    python benchmarks/train_step.py --arch 784-400x4-10 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neuroevo.architecture import Architecture
from neuroevo.decoding import decode
from neuroevo.genomes import DirectGenome, EmbeddingGenome
from neuroevo.training import TrainConfig, make_optimizer, train_step


def measure_step_times(
    arch: str = "784-400-10",
    d: int = 64,
    batch_size: int = 1000,
    rounds: int = 7,
    steps_per_round: int = 10,
    device: str = "cpu",
) -> dict[str, float]:
    """Median seconds per training step of both encodings.

    Returns:
        ``{"embedding_s", "direct_s", "ratio"}`` with ``ratio = embedding_s / direct_s``.
    """
    architecture = Architecture.parse(arch, (1, 28, 28))
    generator = torch.Generator().manual_seed(0)
    modules = {
        "embedding": decode(EmbeddingGenome.random(architecture, d, generator=generator), device,
                            train_input_encoding=True),
        "direct": decode(DirectGenome.random(architecture, generator=generator), device),
    }
    optimizers = {name: make_optimizer(m.parameters(), TrainConfig()) for name, m in modules.items()}
    images = torch.randn(batch_size, 1, 28, 28, generator=generator).to(device)
    labels = torch.randint(0, architecture.n_classes, (batch_size,), generator=generator).to(device)
    times: dict[str, list[float]] = {name: [] for name in modules}
    for round_index in range(rounds + 1):  # round 0 warms up
        for name, module in modules.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                train_step(module, optimizers[name], images, labels)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if round_index:
                times[name].append((time.perf_counter() - start) / steps_per_round)
    embedding, direct = statistics.median(times["embedding"]), statistics.median(times["direct"])
    return {"embedding_s": embedding, "direct_s": direct, "ratio": embedding / direct}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="784-400-10")
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps-per-round", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = measure_step_times(args.arch, args.d, args.batch_size, args.rounds, args.steps_per_round, args.device)
    print(f"{args.arch}, d={args.d}, batch {args.batch_size}, {args.device}, {torch.get_num_threads()} threads")
    print(f"embedding step: {result['embedding_s'] * 1e3:.2f} ms")
    print(f"direct step:    {result['direct_s'] * 1e3:.2f} ms")
    print(f"ratio embedding / direct: {result['ratio']:.3f}")


if __name__ == "__main__":
    main()
