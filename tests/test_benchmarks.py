"""The benchmarks run (they are timed by hand, never here): each script at its smallest size,
on the real MNIST sample, checked for the lines it must print. A benchmark that no longer
runs would leave the speed figures of docs/benchmarks.md without a way to reproduce them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "data" / "mnist-10k"


def _run(script: str, *args: str) -> str:
    if not MNIST.is_dir():
        pytest.skip("../shared/data/mnist-10k is not here")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                        str(REPO / "benchmarks")])}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--root",
                           str(MNIST), *args], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_bench_study_prints_every_line_and_eval_at_end_trains_the_same():
    out = _run("bench_study.py", "--grid", "sgd", "--epochs", "1", "--device", "cpu")
    for line in ("plain loop", "nnstudy ungrouped", "nnstudy grouped", "grouped, eval at end",
                 "whole processes", "evaluating every epoch", "eval_every 1",
                 "first unit training", "plain loop again, at the end"):
        assert line in out, line
    # the same training whatever the evaluation cadence: every trial's final test accuracy
    assert "eval at end vs grouped (final test accuracy and status): 20 of 20 equal" in out


@pytest.mark.slow
def test_bench_cnn_prints_every_line():
    out = _run("bench_cnn.py", "--epochs", "1", "--repeats", "1", "--threads", "1", "--grid")
    for line in ("plain loop", "channels_last", "nnstudy, 1 model", "training epochs",
                 "4-configuration grid", "evaluated every epoch", "eval_every 1"):
        assert line in out, line
