"""The CLI starts fast: building the parser (``--help`` of any command) imports neither torch, transformers,
deepspeed nor numba, and ``ov-vlm codec`` runs without transformers or deepspeed (CPU-only preprocessing nodes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from media import moving_object_clip

from ov_vlm.cli.main import COMMANDS, main

HEAVY = ("torch", "transformers", "deepspeed", "accelerate", "lmms_eval", "numba")  # numba: the codec kernels

PROBE = """
import contextlib, io, json, sys
from ov_vlm.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as stop:
        code = stop.code
heavy = json.loads(sys.argv[2])
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": [m for m in heavy if m in sys.modules]}))
"""


def probe(argv: list[str]) -> dict:
    """Run ``ov-vlm ARGV`` in a fresh interpreter; its exit code, stdout and which heavy modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], *[[name, "--help"] for name in COMMANDS]], ids=lambda a: " ".join(a))
def test_help_imports_no_heavy_module(argv):
    result = probe(argv)
    assert result["code"] == 0 and "usage: ov-vlm" in result["out"]
    assert result["loaded"] == [], f"`ov-vlm {' '.join(argv)}` imported {result['loaded']}"


def test_codec_runs_without_transformers_or_deepspeed(tmp_path):
    clip = moving_object_clip(tmp_path / "clip.mp4", count=16, size=(96, 96))
    result = probe(["codec", str(clip.path), "--out", str(tmp_path / "out"), "--frames", "8", "--quiet"])
    assert result["code"] == 0
    assert len(list((tmp_path / "out").glob("clip*/positions_thw.npy"))) == 1
    assert not {"transformers", "deepspeed", "accelerate"} & set(result["loaded"]), result["loaded"]


def test_build_model_list_needs_no_preset_or_out(capsys):
    assert main(["build-model", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"tiny", "ov-encoder-large_qwen3-4b", "siglip2-so400m_qwen3-4b", "qwen3-vit_qwen3-4b"} <= set(listed)


def test_build_model_without_preset_is_one_line(capsys, tmp_path: Path):
    assert main(["build-model", "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.strip() == "ov-vlm build-model: --preset required (or --list)"
