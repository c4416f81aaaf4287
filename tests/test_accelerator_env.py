"""CPU runs name DeepSpeed's accelerator and their thread count, so neither DeepSpeed nor accelerate warns."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest
import torch

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU path")


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DS_ACCELERATOR", "OMP_NUM_THREADS", "LOCAL_WORLD_SIZE")}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=300
    )


def test_deepspeed_is_told_the_cpu_and_does_not_warn():
    guessed = _python("import deepspeed")
    assert "Setting accelerator to CPU" in guessed.stderr + guessed.stdout  # what DeepSpeed says when left to guess
    told = _python(
        "import os; from ov_vlm.utils.accelerator import prefer_cpu_deepspeed\n"
        "assert prefer_cpu_deepspeed() is False and os.environ['DS_ACCELERATOR'] == 'cpu'\n"
        "import deepspeed; print(deepspeed.get_accelerator().device_name())"
    )
    assert told.returncode == 0, told.stderr
    assert told.stdout.split()[-1] == "cpu" and "Setting accelerator" not in told.stderr + told.stdout


def test_threads_are_accelerates_choice_and_a_set_count_is_kept():
    code = (
        "import os, torch; from ov_vlm.utils.accelerator import pin_cpu_threads\n"
        "print(pin_cpu_threads(), torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])"
    )
    expected = max(1, psutil.cpu_count(logical=False) // 2)  # two processes on this node
    chosen = _python(code, LOCAL_WORLD_SIZE="2")
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.split() == [str(expected)] * 3
    alone = _python(code, LOCAL_WORLD_SIZE="1")
    assert alone.stdout.split() == [str(psutil.cpu_count(logical=False))] * 3
    kept = _python(code, OMP_NUM_THREADS="3", LOCAL_WORLD_SIZE="2").stdout.split()
    assert kept[2] == "3" and kept[0] == kept[1]  # left to torch, which reads the variable itself
