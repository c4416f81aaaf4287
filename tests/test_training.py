"""Training under DeepSpeed on CPU (real launchers, gloo): stage 1 -> stage 2, freeze policy, exact resume after
SIGKILL (ZeRO-2 on 1 process, ZeRO-3 on 2), strict stage hand-off, LoRA train -> merge, and a mixture whose ranks
hold different modalities at every step (text-only vs codec video, image vs multi-image, a skipped bad sample)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ov_vlm.data import generate_shapes, load_records, read_skip_log
from ov_vlm.train.trainer import read_loss_log

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
STEPS, SAVE = 12, 4
pytestmark = pytest.mark.slow


def train_command(recipe: str, output: Path, *overrides: str, nproc: int = 1, launcher: str = "auto") -> list[str]:
    executable = Path(sys.executable).parent / "ov-vlm"
    return [
        str(executable),
        "train",
        str(RECIPES / recipe),
        f"output_dir={output}",
        *overrides,
        "--nproc",
        str(nproc),
        "--launcher",
        launcher,
    ]


def run_training(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(train_command(*args, **kwargs), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def run_and_kill_after_checkpoint(command: list[str], output: Path, checkpoint: int) -> int:
    """Start a run and SIGKILL its whole process group once checkpoint-N is completely written; returns the step of
    the latest complete checkpoint at the kill (a fast run may have written a later one meanwhile)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    marker = output / f"checkpoint-{checkpoint}" / "trainer_state.json"
    deadline = time.time() + 300
    try:
        while not marker.is_file():
            assert process.poll() is None, "the run ended before writing its checkpoint"
            assert time.time() < deadline, "no checkpoint after 300 s"
            time.sleep(0.05)
        time.sleep(0.3)  # the rest of the checkpoint (rng states) follows the trainer state
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (output / "model.safetensors").is_file(), "the run finished before it was killed"
    return max(int(state.parent.name.split("-")[1]) for state in output.glob("checkpoint-*/trainer_state.json"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-data")
    align = generate_shapes(root / "align", samples=96, task="caption", seed=0)
    sft = generate_shapes(root / "sft", samples=96, task="qa", seed=1)
    return {"align": f"data.train={align}", "sft": f"data.train={sft}", "image": next((root / "sft").rglob("*.png"))}


@pytest.fixture(scope="module")
def stage1(tmp_path_factory, data):
    """Tiny stage 1 (ZeRO-2) under the deepspeed launcher, 1 process: also the reference for the ZeRO-2 resume."""
    output = tmp_path_factory.mktemp("runs") / "stage1"
    run_training(
        "tiny/stage1_align.yaml",
        output,
        data["align"],
        f"train.max_steps={STEPS}",
        f"train.save_steps={SAVE}",
        "train.save_total_limit=null",
        launcher="deepspeed",
    )
    return output


@pytest.fixture(scope="module")
def stage2(tmp_path_factory, data, stage1):
    """Tiny stage 2 from stage 1 (ZeRO-3), 2 processes: also the reference for the ZeRO-3 resume."""
    output = tmp_path_factory.mktemp("runs") / "stage2"
    run_training(
        "tiny/stage2_sft.yaml",
        output,
        data["sft"],
        f"init_from={stage1}",
        f"train.max_steps={STEPS}",
        f"train.save_steps={SAVE}",
        "train.save_total_limit=null",
        nproc=2,
        launcher="deepspeed",
    )
    return output


def decreasing(losses: dict[int, float]) -> bool:
    values = [losses[k] for k in sorted(losses)]
    head, tail = sum(values[:3]) / 3, sum(values[-3:]) / 3
    return tail < head - 0.05


def trainable_modules(output: Path) -> set[str]:
    rows = json.loads((output / "run_info.json").read_text())["parameters"]
    return {row["module"].split(".")[0] for row in rows if row["trainable"]}


def test_stage1_trains_only_the_projector_and_learns(stage1):
    assert trainable_modules(stage1) == {"multi_modal_projector"}
    losses = read_loss_log(stage1 / "train_log.jsonl")
    assert sorted(losses) == list(range(1, STEPS + 1)) and decreasing(losses)
    summary = json.loads((stage1 / "summary.json").read_text())
    assert summary["steps"] == STEPS and summary["skipped_samples"] == 0 and summary["world_size"] == 1
    info = json.loads((stage1 / "run_info.json").read_text())
    assert info["packages"]["deepspeed"] and info["packages"]["transformers"] and "git_revision" in info
    recipe = (stage1 / "recipe.yaml").read_text()
    assert "stage: align" in recipe and "zero2.json" in recipe and f"max_steps: {STEPS}" in recipe


def test_every_checkpoint_is_a_model_folder(stage1):
    """The processor is saved with the model (the Trainer's ``processing_class``) in every checkpoint and at the end."""
    from ov_vlm.processing import OVVLMProcessor

    final = OVVLMProcessor.from_pretrained(stage1)
    for step in range(SAVE, STEPS + 1, SAVE):
        checkpoint = stage1 / f"checkpoint-{step}"
        assert (checkpoint / "model.safetensors").is_file() and (checkpoint / "chat_template.jinja").is_file()
        assert OVVLMProcessor.from_pretrained(checkpoint).spec == final.spec


def test_stage2_trains_every_part_and_the_result_chats(stage2, data):
    from ov_vlm.model import OVVLMForConditionalGeneration
    from ov_vlm.processing import OVVLMProcessor

    assert trainable_modules(stage2) == {"vision_tower", "multi_modal_projector", "language_model"}
    assert decreasing(read_loss_log(stage2 / "train_log.jsonl"))
    assert json.loads((stage2 / "summary.json").read_text())["world_size"] == 2
    model = OVVLMForConditionalGeneration.from_pretrained(stage2).eval()  # ZeRO-3 saved gathered full weights
    processor = OVVLMProcessor.from_pretrained(stage2)
    batch = processor(
        [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": str(data["image"])},
                    {"type": "text", "text": "What colour is the shape?"},
                ],
            }
        ],
        add_generation_prompt=True,
    )
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert out.shape[1] > batch["input_ids"].shape[1]


@pytest.mark.parametrize("zero", ["zero2-1proc", "zero3-2proc"])
def test_killed_run_resumes_to_the_same_losses(zero, request, data, tmp_path):
    reference = request.getfixturevalue("stage1" if zero.startswith("zero2") else "stage2")
    recipe = "tiny/stage1_align.yaml" if zero.startswith("zero2") else "tiny/stage2_sft.yaml"
    if zero.startswith("zero2"):
        extra = [data["align"]]
    else:
        extra = [data["sft"], f"init_from={request.getfixturevalue('stage1')}"]
    nproc = 1 if zero.startswith("zero2") else 2
    common = [*extra, f"train.max_steps={STEPS}", f"train.save_steps={SAVE}", "train.save_total_limit=null"]
    output = tmp_path / "run"
    latest = run_and_kill_after_checkpoint(train_command(recipe, output, *common, nproc=nproc), output, SAVE)
    assert SAVE <= latest < STEPS
    run_training(recipe, output, *common, "resume_from_checkpoint=auto", nproc=nproc)
    assert json.loads((output / "summary.json").read_text())["resumed_from"].endswith(f"checkpoint-{latest}")
    expected = read_loss_log(reference / "train_log.jsonl")
    resumed = read_loss_log(output / "train_log.jsonl")
    after = list(range(latest + 1, STEPS + 1))
    assert [resumed[s] for s in after] == [expected[s] for s in after]  # exactly the same numbers


def test_stage_handoff_is_strict(stage1, data, tmp_path):
    broken = tmp_path / "broken_stage1"
    broken.mkdir()
    for item in stage1.iterdir():
        if item.is_file():
            (broken / item.name).write_bytes(item.read_bytes())
    state = load_file(broken / "model.safetensors")
    del state["multi_modal_projector.linear_1.weight"]
    save_file(state, broken / "model.safetensors", metadata={"format": "pt"})
    result = subprocess.run(
        train_command(
            "tiny/stage2_sft.yaml",
            tmp_path / "out",
            data["sft"],
            f"init_from={broken}",
            "deepspeed=null",
            "train.max_steps=1",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "missing keys (1): multi_modal_projector.linear_1.weight" in result.stderr


def test_lora_train_then_merge_gives_the_adapter_model_logits(stage1, mixture, tmp_path):
    """Also ZeRO-2 on 2 processes on the mixture below (frozen tower, trained projector, LoRA on the LLM): ranks
    with different modalities, including a skipped sample, in each of the 4 steps."""
    from peft import PeftModel

    from ov_vlm.model import OVVLMForConditionalGeneration
    from ov_vlm.processing import OVVLMProcessor

    output = tmp_path / "lora"
    overrides = [*mixed_overrides(mixture, stage1, "zero2"), "stage=lora", "train.max_steps=4"]
    run_training("tiny/stage2_sft.yaml", output, *overrides, nproc=2)
    losses = read_loss_log(output / "train_log.jsonl")
    assert sorted(losses) == [1, 2, 3, 4] and all(math.isfinite(v) for v in losses.values())
    assert json.loads((output / "summary.json").read_text())["skipped_samples"] == 1
    assert (output / "adapter_model.safetensors").is_file() and not (output / "model.safetensors").is_file()
    rows = json.loads((output / "run_info.json").read_text())["parameters"]
    lora_rows = [r for r in rows if r["module"].startswith("language_model")]
    assert all(r["trainable"] < r["frozen"] for r in lora_rows)  # only the adapters train in the LLM
    merged_dir = tmp_path / "merged"
    executable = Path(sys.executable).parent / "ov-vlm"
    done = subprocess.run(
        [str(executable), "export", "--merge-lora", str(output), "--out", str(merged_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    processor = OVVLMProcessor.from_pretrained(merged_dir)
    batch = processor([{"role": "user", "content": "What colour is the shape?"}], add_generation_prompt=True)
    merged = OVVLMForConditionalGeneration.from_pretrained(merged_dir).eval()
    adapted = PeftModel.from_pretrained(OVVLMForConditionalGeneration.from_pretrained(stage1), str(output)).eval()
    base = OVVLMForConditionalGeneration.from_pretrained(stage1).eval()
    with torch.no_grad():
        a, b, c = merged(**batch).logits, adapted(**batch).logits, base(**batch).logits
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert (a - c).abs().max() > 1e-4  # and training did change the model


# ------------------------------------------------------------------------------------------ mixtures across ranks

MIXED_STEPS, MIXED_SAVE = 6, 2


def write_mixture(root: Path) -> Path:
    """12 samples in the order two processes with batch 1 take them (sample 2k on rank 0, 2k+1 on rank 1 at step
    k+1): text vs codec video, image vs two images, image vs a broken video (skipped: replaced by the next sample,
    text), text vs video, two images vs text, video vs image."""
    records = load_records(generate_shapes(root, samples=24, task="qa", video_share=0.4, seed=5))
    images = [r for r in records if "image" in r]
    videos = [r for r in records if "video" in r]
    (root / "media" / "broken.mp4").write_bytes(b"\x00\x00\x00 not a video")

    def text(i):
        turns = [{"from": "human", "value": f"What is {i} plus {i}?"}, {"from": "gpt", "value": f"{2 * i}."}]
        return {"id": f"text-{i}", "conversations": turns}

    def two_images(i, first, second):
        turns = [{"from": "human", "value": "<image>\n<image>\nSame colour?"}, {"from": "gpt", "value": "No."}]
        return {"id": f"two-images-{i}", "image": [first["image"], second["image"]], "conversations": turns}

    broken = {**videos[0], "id": "broken-video", "video": "media/broken.mp4"}
    order = [
        *(text(1), videos[0]),
        *(images[0], two_images(1, images[1], images[2])),
        *(images[3], broken),
        *(text(2), videos[1]),
        *(two_images(2, images[4], images[5]), text(3)),
        *(videos[2], images[6]),
    ]
    path = root / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in order))
    return path


def mixed_overrides(mixture: Path, init_from: Path, zero: str) -> list[str]:
    return [
        f"data.train={mixture}",
        f"init_from={init_from}",
        f"deepspeed={RECIPES / 'deepspeed' / f'{zero}.json'}",
        "data.generate=null",
        "data.on_bad_sample=skip",
        "data.group_by_modality_length=false",
        "data.shuffle=false",  # the file's order: the adversarial pairs above, deterministically
        "train.per_device_batch_size=1",
        f"train.max_steps={MIXED_STEPS}",
        f"train.save_steps={MIXED_SAVE}",
        "train.save_total_limit=null",
    ]


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    return write_mixture(tmp_path_factory.mktemp("mixture"))


@pytest.fixture(scope="module")
def mixed_zero3(tmp_path_factory, mixture, stage1):
    output = tmp_path_factory.mktemp("runs") / "mixed-zero3"
    run_training("tiny/stage2_sft.yaml", output, *mixed_overrides(mixture, stage1, "zero3"), nproc=2)
    return output


def test_ranks_with_different_modalities_train_under_zero3(mixed_zero3):
    """Every step finishes with a finite loss, the broken video is skipped once, the saved model loads strictly
    (ZeRO-2 on the same mixture: the LoRA test above)."""
    from ov_vlm.model import OVVLMForConditionalGeneration

    losses = read_loss_log(mixed_zero3 / "train_log.jsonl")
    assert sorted(losses) == list(range(1, MIXED_STEPS + 1)) and all(math.isfinite(v) for v in losses.values())
    summary = json.loads((mixed_zero3 / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["skipped_samples"] == 1
    assert [entry["id"] for entry in read_skip_log(mixed_zero3 / "skipped_samples.jsonl")] == ["broken-video"]
    OVVLMForConditionalGeneration.from_pretrained(mixed_zero3)  # strict: missing or unexpected keys raise


def test_killed_mixed_run_resumes_to_the_same_losses(mixed_zero3, mixture, stage1, tmp_path):
    output = tmp_path / "run"
    overrides = mixed_overrides(mixture, stage1, "zero3")
    command = train_command("tiny/stage2_sft.yaml", output, *overrides, nproc=2)
    run_and_kill_after_checkpoint(command, output, MIXED_SAVE)
    run_training("tiny/stage2_sft.yaml", output, *overrides, "resume_from_checkpoint=auto", nproc=2)
    expected = read_loss_log(mixed_zero3 / "train_log.jsonl")
    resumed = read_loss_log(output / "train_log.jsonl")
    after = list(range(MIXED_SAVE + 1, MIXED_STEPS + 1))  # includes the skip step and every mixed pair after it
    assert [resumed[s] for s in after] == [expected[s] for s in after]
