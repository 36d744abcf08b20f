"""Smoke runs of the benchmark scripts on tiny inputs: they must run to the end and write their figures."""

import json

import pytest

from tests.conftest import load_benchmark

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("population", [[], ["--offspring-of", "2"]], ids=["random", "offspring"])
def test_batched_evaluation_benchmark_writes_agreeing_figures(idx_folder, tmp_path, population):
    output = tmp_path / "batched.json"
    load_benchmark("batched_evaluation").main(
        ["--data", str(idx_folder), "--arch", "36-10-3", "--d", "4", "--population", "3", "--repeats", "1",
         "--probe-size", "32", "--output", str(output), *population]
    )
    figures = json.loads(output.read_text())
    assert figures["max_abs_difference"]["accuracy"] <= 1 / 60  # 60 test images
    assert figures["speedup"] > 0 and 0 < figures["flops_performed"] <= figures["flops_loop"]
