"""Command-line building blocks: the memory-size parser and which flags a command line gave."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuroevo.cli import build_parser
from neuroevo.cli.config import given_options
from neuroevo.cli.units import MemorySizeError, parse_memory_size

FACTORS = {"B": 1, "K": 2**10, "KiB": 2**10, "KB": 2**10, "M": 2**20, "MiB": 2**20, "MB": 2**20,
           "G": 2**30, "GiB": 2**30, "g": 2**30, "T": 2**40, "": 2**20}


@given(st.integers(1, 10**6), st.sampled_from(sorted(FACTORS)))
def test_a_whole_number_with_a_unit_is_that_many_binary_units(number, unit):
    assert parse_memory_size(f"{number}{unit}") == number * FACTORS[unit]
    assert parse_memory_size(f" {number} {unit} ") == number * FACTORS[unit]


def test_a_plain_number_is_mib_and_fractions_round_down_to_bytes():
    assert parse_memory_size("512") == parse_memory_size(512) == parse_memory_size("512M") == 512 * 2**20
    assert parse_memory_size("1.5G") == 3 * 2**29 and parse_memory_size("1.0000001K") == 1024


@pytest.mark.parametrize("text, problem", [("", "not a memory size"), ("lots", "not a memory size"),
                                           ("-5", "not a memory size"), ("5X", "not a memory size"),
                                           ("4096iB", "not a memory size"), ("nan", "not a memory size"),
                                           ("0", "at least 1 byte"), ("0.5B", "at least 1 byte"),
                                           ("1e400", "too large")])
def test_what_is_not_a_memory_size_is_a_value_error_that_says_what_is(text, problem):
    with pytest.raises(MemorySizeError) as info:
        parse_memory_size(text)
    assert isinstance(info.value, ValueError) and problem in str(info.value) and repr(text) in str(info.value)


def test_argparse_reports_the_parsers_own_message(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "transplant", "--memory-budget", "5X"])
    assert "e.g. 512M, 2G" in capsys.readouterr().err


def test_given_options_are_the_flags_written_whatever_their_values():
    parser = build_parser()
    argv = ["ga", "--population", "20", "--no-progress", "--seed", "0", "-o", "out"]
    parser.parse_args(argv)
    assert given_options(parser, argv) == {"population": "--population", "no_progress": "--no-progress",
                                           "seed": "--seed", "output": "--output"}
    assert given_options(parser, ["init", "--arch", "4-2", "-o", "g"]) == {"arch": "--arch", "output": "--output"}
    assert parser.parse_args(argv).population == 20  # the parser itself keeps its defaults
