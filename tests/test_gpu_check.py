"""benchmarks/gpu_check.py on the tiny CPU sizes: every section runs end to end and the table is complete and sane."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
FLASH = ("attention", "max abs diff sdpa vs flash_attention_2")
ROWS = [
    ("attention", "max abs diff eager vs sdpa"),
    FLASH,
    ("train", "step time (fwd + bwd + optimizer)"),
    ("train", "tokens/s"),
    ("train", "MFU"),
    ("ttft", "codec: visual tokens"),
    ("ttft", "codec: TTFT"),
    ("ttft", "frames: visual tokens"),
    ("ttft", "frames: TTFT"),
]


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


def assert_sane(row: dict) -> None:
    value = row["value"]
    assert value is not None and math.isfinite(value), row
    if row["check"].startswith("max abs diff"):
        assert 0 <= value < 1e-3 and row["status"] == "ok", row  # fp32 on CPU
    else:
        assert value > 0 and row["status"] == "ok", row


def run_script(tmp_path: Path, *args: str, hide_gpu: bool = True) -> tuple[dict, str]:
    """Run the script in its own process (DeepSpeed sets up a process group); (rows by key, stdout)."""
    out = tmp_path / "table.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    if hide_gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    command = [sys.executable, str(SCRIPT), *args, "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = {(r["section"], r["check"]): r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == ROWS
    return rows, result.stdout


@pytest.mark.slow  # every gpu_check section in a subprocess
def test_tiny_run_prints_one_complete_table(tmp_path):
    """The script as `make gpu-check` runs it without CUDA: the tiny sizes on CPU, every section, one table."""
    rows, stdout = run_script(tmp_path, "--peak-tflops", "0.05")
    for key, row in rows.items():
        if key == FLASH:
            assert row["value"] is None and row["status"].startswith("skipped: flash-attn"), row
        else:
            assert_sane(row)
    assert "HF Trainer + DeepSpeed ZeRO-2" in rows[ROWS[2]]["details"]
    assert rows[("ttft", "codec: visual tokens")]["value"] == 128  # tiny preset: K = 8 mosaics x 16 cells
    assert rows[("ttft", "frames: visual tokens")]["value"] == 128  # 8 frames x 4 x 4 patches
    table = stdout[stdout.index("| section | check |") :]
    assert [tuple(line.split(" | ")[:2]) for line in table.splitlines()[2:]] == [(f"| {s}", c) for s, c in ROWS]
    assert "[gpu-check" in stdout  # progress lines


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tiny_sizes_on_cuda(tmp_path):
    """The GPU code paths (bf16, NCCL DeepSpeed, flash-attn when installed, peak by device name) in seconds."""
    rows, _ = run_script(tmp_path, "--tiny", "--device", "cuda", hide_gpu=False)
    for key, row in rows.items():
        if row["value"] is None:
            assert key in (FLASH, ("train", "MFU")) and row["status"].startswith("skipped"), row
        else:
            assert math.isfinite(row["value"]) and row["value"] >= 0 and row["status"] == "ok", row
    assert "bf16" in rows[ROWS[2]]["details"]


def test_plain_training_route_and_markdown(gpu_check, tmp_path):
    """The plain AdamW fallback times the same steps; --out FILE.md writes the markdown table."""
    workspace = gpu_check.Workspace(gpu_check.tiny_sizes(), "cpu", tmp_path, gpu_check.Progress())
    rows = gpu_check.train_section(workspace, "plain", peak_override=0.05)
    assert [r.check for r in rows] == [check for section, check in ROWS if section == "train"]
    assert rows[0].details.startswith("plain torch AdamW")
    for row in rows:
        assert_sane(dataclasses.asdict(row))
    gpu_check.write_out(tmp_path / "table.md", "title", rows)
    lines = (tmp_path / "table.md").read_text().splitlines()
    assert lines[0] == "title" and len(lines) == 4 + len(rows)
    assert all(line.count(" | ") == 3 for line in [lines[2], *lines[4:]])  # header and rows: 4 cells


def test_real_sizes_are_ov_encoder_large_and_qwen3_1_7b(gpu_check):
    """The GPU sizes: 315.5M tower, 6.3M projector, 1.72B LLM; ~126 TFLOP (6·N·T) per 10.4k-token codec sample."""
    sizes = gpu_check.real_sizes()
    config = gpu_check.build_config(sizes.preset, gpu_check.make_tokenizer({"kind": "tiny_bpe"}))
    with torch.device("meta"):
        model = gpu_check.OVVLMForConditionalGeneration(config)
    millions = {
        name: round(sum(p.numel() for p in getattr(model, name).parameters()) / 1e6, 1)
        for name in ("vision_tower", "multi_modal_projector", "language_model")
    }
    assert millions == {"vision_tower": 315.5, "multi_modal_projector": 6.3, "language_model": 1720.6}
    dense, attention = gpu_check.model_flops(model, llm_tokens=10_418, vit_tokens=10_368)
    assert 120e12 < dense < 130e12 and 100e12 < attention < 110e12
    spec = gpu_check.visual_spec_for(config, sizes.preset.visual_spec)
    codec = spec.codec_settings()
    assert (codec.frames, codec.canvas, codec.patch, codec.mosaics) == (64, 576, 16, 8)
    assert spec.num_frames == 8 and (spec.frame_side() // spec.patch_size) ** 2 * spec.num_frames == 8 * 1296
