"""The package layering and the one-implementation rule, checked on the real source tree."""

from pathlib import Path

from importlinter.cli import lint_imports

import neuroevo.statistics
import populations.plots
from neuroevo.sweeps import statistics as sweep_statistics

REPO = Path(__file__).resolve().parents[1]


def test_the_data_flows_one_way(monkeypatch):
    """data -> genome -> decoding -> evaluation -> operators -> populations -> sweeps / CLI, function-local
    imports included (import-linter's contract in .importlinter); genomes once imported decoding inside
    a function, which this contract rejects."""
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / ".importlinter"), no_cache=True) == 0


def test_one_confidence_interval_serves_sweeps_and_ga_plots():
    assert sweep_statistics.mean_confidence_interval is neuroevo.statistics.mean_confidence_interval
    assert populations.plots.mean_confidence_interval is neuroevo.statistics.mean_confidence_interval
