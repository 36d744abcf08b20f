"""The examples in docs/operators.md run as written (one after the other, like a session)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from deap import creator

DOC = Path(__file__).resolve().parents[1] / "docs" / "operators.md"


def test_every_example_in_the_operators_guide_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 9
    namespace: dict = {}
    created = ("FitnessMax", "Individual")  # the doc's DEAP classes; other tests may use the names
    saved = {name: getattr(creator, name) for name in created if hasattr(creator, name)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # re-creating a DEAP class warns
            for block in blocks:
                exec(compile(block, str(DOC), "exec"), namespace)
    finally:
        for name in created:
            if name in saved:
                setattr(creator, name, saved[name])
            elif hasattr(creator, name):
                delattr(creator, name)
    assert len(namespace["population"]) == 8
    assert all(ind.fitness.valid for ind in namespace["population"])
