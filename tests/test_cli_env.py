"""The ``ov-vlm`` console script: ``env`` report, ``demo`` placeholder, help; the CPU-torch packaging guard."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ov_vlm.cli import env as env_command
from ov_vlm.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).parent / "ov-vlm"  # the console script of this environment
    assert executable.is_file(), "the ov-vlm console script is not installed"
    return subprocess.run([str(executable), *args], capture_output=True, text=True, timeout=120)


def test_env_json_reports_versions_devices_and_backends():
    result = run_cli("env", "--json", "--check")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["problems"] == []
    for name in ("torch", "transformers", "deepspeed", "av", "lmms-eval"):
        assert report["packages"][name], f"{name} missing from the report"
    assert report["torch"]["cuda_available"] == torch.cuda.is_available()
    assert report["attention"]["eager"] == "yes" and report["attention"]["sdpa"].startswith("yes")
    assert "flash_attention_2" in report["attention"]
    assert report["video"]["ffmpeg"] and report["video"]["libavcodec"]


def test_env_text_report(capsys):
    assert main(["env"]) == 0
    text = capsys.readouterr().out
    for label in ("torch build", "CUDA available", "attn sdpa", "attn flash_attention_2", "FFmpeg", "lmms-eval"):
        assert label in text


def test_env_check_fails_on_a_broken_environment(monkeypatch, capsys):
    monkeypatch.setattr(env_command, "package_version", lambda name: None if name == "av" else "1.0")
    monkeypatch.setattr(env_command, "ffmpeg_info", lambda: {"ffmpeg": "?", "libavcodec": "?", "h264_encoder": False})
    assert main(["env", "--check"]) == 1
    assert "required package av is not installed" in capsys.readouterr().err


def test_flash_attention_reason_is_explained():
    states = env_command.attention_backends(cuda_available=False)
    assert states["flash_attention_2"].startswith("no: ")


def test_demo_rejects_unknown_modes(capsys):
    assert main(["demo", "--modes", "codec,bogus"]) == 2
    assert "unknown video mode(s) ['bogus']" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "env" in capsys.readouterr().out


@pytest.mark.skipif(torch.version.cuda is not None, reason="GPU torch builds may carry a matching torchvision")
def test_torchvision_is_absent_next_to_a_cpu_torch():
    """PyPI's torchvision is CUDA-only and breaks transformers/lmms-eval imports with a CPU torch."""
    assert importlib.util.find_spec("torchvision") is None
    assert importlib.util.find_spec("timm") is None
