"""GPU check, one table: OV-Encoder attention backends, one bf16 training step, chat time to first token.

1. attention: OV-Encoder outputs on one variable-length batch (an image, uniform frames and a partly filled codec
   mosaic set, of different token counts) with ``eager`` vs ``sdpa`` and ``sdpa`` vs ``flash_attention_2`` (only
   when flash-attn is installed): max abs difference over the real tokens.
2. train: forward + backward + optimizer step of OV-Encoder-large + mlp2x_gelu + a Qwen3-1.7B-sized LLM (random
   init) on one codec video sample, through the training path (HF Trainer + DeepSpeed ZeRO-2, one process,
   ``recipes/deepspeed/zero2.json``, bf16, activation checkpointing as in the paper recipes); warm-up steps, then
   timed steps: step time, tokens/s (LLM tokens incl. visual ones) and MFU = 6 x parameters x tokens (LLM, projector
   and the tower blocks that run) / step time / peak bf16 dense FLOP/s of the GPU. If the Trainer route fails, a
   plain torch AdamW step on the same model is timed instead and the row says why.
3. ttft: a model folder from ``build_model_dir`` (random init), loaded by ``ov_vlm.model.inference``, asked one
   question about an H.264 clip made here, through ``OVVLMProcessor`` and ``generate``: codec mode (64 frames,
   canvas 576, patch 16, K = 8 x 1296) vs 8 uniform frames; time to first token (prefill + first token, inputs on
   the device) and the visual token counts.

    python benchmarks/gpu_check.py                   # CUDA: real sizes, ~3-4 min on one H100/H200 (< 8 min)
    python benchmarks/gpu_check.py --tiny            # tiny preset sizes on CPU, seconds (automatic without CUDA)
    python benchmarks/gpu_check.py --tiny --device cuda --sections attention,train --out gpu_check.md

Estimated GPU time at real sizes (16 CPU cores): imports and a 64-frame 576 px clip ~20 s; attention ~15 s (one
315M tower, a ~12k-token batch, 3 backends); the 2B-parameter model folder (random init on CPU + 8 GB fp32 save)
~40-60 s; training ~60-90 s (load, DeepSpeed set-up, 3 + 5 steps of ~300 TFLOP each with recompute, ~1 s per step
at 30 % MFU); chat ~30 s (load in bf16, 2 modes x 4 prefills of ~10.4k tokens, ~0.1-0.3 s each, plus ~1 s of
codec selection per codec question). About 3-4 minutes in all.

A section that fails becomes one "failed" row (its traceback is printed above the table), the next sections still
run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib.util
import json
import math
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

# ov_vlm.encoders first: it loads transformers' modelling code before ov-vlm's Auto-class registration hooks fire
from ov_vlm.encoders import OneVisionEncoderModel
from ov_vlm.model import OVVLMForConditionalGeneration
from ov_vlm.model.builder import build_config, build_model_dir, make_tokenizer, visual_spec_for
from ov_vlm.model.inference import load_for_inference
from ov_vlm.model.presets import Preset, load_preset
from ov_vlm.processing import OVVLMProcessor, image_visual, video_visual

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import moving_object_clip, texture

REPO = Path(__file__).resolve().parents[1]

SECTIONS = ("attention", "train", "ttft")
TARGET_SECONDS = 480  # a real-size run must fit in 8 minutes on one H100/H200
ZERO2 = REPO / "recipes" / "deepspeed" / "zero2.json"
QUESTION = "What moves in this video, and where does it go?"
ANSWER = "A white square with a red stripe moves slowly to the right and down."

QWEN3_1_7B = {
    "model_type": "qwen3",
    "vocab_size": 151936,
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 40960,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
    "tie_word_embeddings": True,
}

# Peak dense bf16 FLOP/s by device name (first match wins): vendor datasheets, without sparsity.
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("H800", 989e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("B200", 2250e12),
)


@dataclass(frozen=True)
class Sizes:
    """Model sizes and workload of one run."""

    name: str
    preset: Preset
    clip_side: int  # the test clip is clip_side x clip_side px, 64 frames
    object_side: int
    velocity: tuple[int, int]
    image_size: tuple[int, int]  # (height, width) of the attention check's image
    attention_frames: int
    attention_budget: float  # codec budget of the attention check's video: a partly filled last mosaic
    warmup: int
    steps: int
    repeats: int


def real_sizes() -> Sizes:
    """OV-Encoder-large (the config defaults) + mlp2x_gelu + Qwen3-1.7B sizes, the paper's video settings."""
    probe = load_preset("ov-encoder-large_qwen3-4b")
    preset = dataclasses.replace(
        probe,
        name="ov-encoder-large_qwen3-1.7b-sized",
        description="OV-Encoder-large + Qwen3-1.7B-sized LLM, random init",
        text_config=QWEN3_1_7B,
        vision_pretrained=None,
        llm_pretrained=None,
    )
    return Sizes("real", preset, 576, 96, (4, 2), (480, 640), 4, 0.05, warmup=3, steps=5, repeats=3)


def tiny_sizes() -> Sizes:
    """The tiny preset (checkpoints/presets/tiny.yaml)."""
    return Sizes("tiny", load_preset("tiny"), 96, 16, (1, 0), (60, 100), 4, 0.05, warmup=1, steps=2, repeats=2)


@dataclass
class Row:
    """One line of the table; ``value`` is None when the check was skipped."""

    section: str
    check: str
    value: float | None
    unit: str
    details: str
    status: str = "ok"

    def result(self) -> str:
        if self.value is None:
            return self.status
        if self.unit == "ms":
            text = f"{self.value * 1000:,.1f} ms"
        elif self.unit == "%":
            text = f"{self.value * 100:.3g} %"
        elif self.unit in ("tokens", "tokens/s"):
            text = f"{self.value:,.0f} {self.unit}"
        elif self.unit == "s":
            text = f"{self.value:.3f} s"
        else:
            text = f"{self.value:.3g}"
        return text if self.status == "ok" else f"{text} ({self.status})"


class Progress:
    """Prints timestamped progress lines."""

    def __init__(self):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, message: str) -> None:
        print(f"[gpu-check {self.elapsed():6.1f} s] {message}", flush=True)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def to_device(batch: dict, device: str) -> dict:
    """Tensors and lists of tensors (visuals) moved to ``device``."""
    moved = {}
    for key, value in batch.items():
        if isinstance(value, list):
            moved[key] = [None if v is None else v.to(device) for v in value]
        else:
            moved[key] = value.to(device)
    return moved


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class Workspace:
    """What the sections share, each made once when first needed: config, visual spec, test clip, model folder."""

    def __init__(self, sizes: Sizes, device: str, folder: Path, progress: Progress):
        self.sizes = sizes
        self.device = device
        self.folder = folder
        self.progress = progress
        self.cuda = device.startswith("cuda")
        self.dtype = torch.bfloat16 if self.cuda else torch.float32

    @cached_property
    def config(self):
        return build_config(self.sizes.preset, make_tokenizer(self.sizes.preset.tokenizer))

    @cached_property
    def spec(self):
        return visual_spec_for(self.config, self.sizes.preset.visual_spec)

    @cached_property
    def video(self) -> Path:
        side = self.sizes.clip_side
        self.progress(f"writing a 64-frame {side} x {side} H.264 clip")
        clip = moving_object_clip(
            self.folder / "clip.mp4",
            size=(side, side),
            side=self.sizes.object_side,
            start=(side // 12, side // 8),
            velocity=self.sizes.velocity,
        )
        return clip.path

    @cached_property
    def model_dir(self) -> Path:
        self.progress(f"building a random-init model folder ({self.sizes.preset.name})")
        return build_model_dir(self.sizes.preset, self.folder / "model", random_init=True)


# ------------------------------------------------------------------------------------------------ 1. attention


def attention_batch(ws: Workspace) -> tuple[list[torch.Tensor], list[torch.Tensor], list[str]]:
    """(pixels, positions, names) of an image, uniform frames and a partly filled codec mosaic set."""
    from PIL import Image

    sizes, spec = ws.sizes, ws.spec
    visuals = {
        "image": image_visual(Image.fromarray(texture(*sizes.image_size)), spec),
        f"{sizes.attention_frames} frames": video_visual(
            str(ws.video), spec.with_video(mode="frames", frames=sizes.attention_frames)
        ),
        f"codec {sizes.attention_budget:.0%}": video_visual(
            str(ws.video), spec.with_video(mode="codec", budget=sizes.attention_budget)
        ),
    }
    pixels = [v.pixel_values.to(ws.device, ws.dtype) for v in visuals.values()]
    positions = [v.positions.to(ws.device) for v in visuals.values()]
    names = [f"{name} {len(v.positions):,}" for name, v in visuals.items()]
    return pixels, positions, names


def encoder_outputs(model, pixels, positions, device: str) -> tuple[torch.Tensor, float]:
    """(real-token outputs [sum N_i, D] in fp32, seconds) of one variable-length batch; a warm-up run first."""
    indices = [torch.arange(len(p), device=p.device) for p in positions]
    with torch.inference_mode():
        model(pixels, patch_positions=positions, visible_indices=indices)
        synchronize(device)
        start = time.perf_counter()
        out = model(pixels, patch_positions=positions, visible_indices=indices)
        synchronize(device)
    return out.last_hidden_state[out.attention_mask].float(), time.perf_counter() - start


def flash_unavailable(device: str) -> str | None:
    """Why flash_attention_2 cannot run here, or None."""
    from transformers.utils import is_flash_attn_2_available

    if importlib.util.find_spec("flash_attn") is None:
        return "skipped: flash-attn not installed"
    if not device.startswith("cuda"):
        return "skipped: flash-attn needs CUDA"
    if not is_flash_attn_2_available():
        return "skipped: flash-attn installed but not usable here (version or GPU)"
    return None


def failure(error: Exception) -> str:
    """An exception in one line, for a table cell."""
    return " ".join(f"{type(error).__name__}: {error}".split())[:160]


def diff_row(check: str, runs: dict, names: tuple[str, str], dtype: torch.dtype, batch: str) -> Row:
    """Max abs difference of two backends' outputs, judged against the output scale (relative tolerance 5e-2 in
    bf16, 1e-4 in fp32)."""
    (reference, reference_s), (other, other_s) = runs[names[0]], runs[names[1]]
    diff = float((reference - other).abs().max())
    scale = float(reference.abs().max())
    tolerance = 5e-2 if dtype == torch.bfloat16 else 1e-4
    status = "ok" if diff <= tolerance * scale else f"check: above {tolerance:g} x the largest output"
    timing = f"forward {reference_s * 1000:.0f} vs {other_s * 1000:.0f} ms"
    return Row("attention", check, diff, "", f"{batch}; outputs up to {scale:.3g}; {timing}", status)


def attention_section(ws: Workspace) -> list[Row]:
    ws.progress("attention: OV-Encoder backends on one variable-length batch")
    pixels, positions, names = attention_batch(ws)
    torch.manual_seed(0)
    model = OneVisionEncoderModel(ws.config.vision_config).to(ws.device, ws.dtype).eval()
    runs = {}
    for backend in ("sdpa", "eager"):
        model.set_attn_implementation(backend)
        runs[backend] = encoder_outputs(model, pixels, positions, ws.device)
        ws.progress(f"attention: {backend} forward {runs[backend][1] * 1000:.1f} ms")
    flash = flash_unavailable(ws.device)
    if flash is None:
        try:
            model.set_attn_implementation("flash_attention_2")
            runs["flash_attention_2"] = encoder_outputs(model, pixels, positions, ws.device)
            ws.progress(f"attention: flash_attention_2 forward {runs['flash_attention_2'][1] * 1000:.1f} ms")
        except Exception as error:  # reported in the table; the other sections still run
            flash = f"failed: {failure(error)}"
            ws.progress(f"attention: flash_attention_2 {flash}")
    batch = f"{str(ws.dtype).removeprefix('torch.')} on {ws.device}, tokens per visual: {', '.join(names)}"
    rows = [diff_row("max abs diff eager vs sdpa", runs, ("sdpa", "eager"), ws.dtype, batch)]
    flash_check = "max abs diff sdpa vs flash_attention_2"
    if flash is None:
        rows.append(diff_row(flash_check, runs, ("sdpa", "flash_attention_2"), ws.dtype, batch))
    else:
        rows.append(Row("attention", flash_check, None, "", batch, flash))
    del model, runs
    free_memory()
    return rows


# ------------------------------------------------------------------------------------------------ 2. train


def question(video: Path, mode: str) -> dict:
    """The user message: the clip in ``mode`` and a question about it."""
    return {
        "role": "user",
        "content": [{"type": "video", "video": str(video), "mode": mode}, {"type": "text", "text": QUESTION}],
    }


def training_sample(processor: OVVLMProcessor, video: Path):
    """One supervised conversation about the clip, in codec mode (the paper's training input)."""
    return processor.encode([question(video, "codec"), {"role": "assistant", "content": ANSWER}])


def parameter_count(modules) -> int:
    return sum(p.numel() for module in modules for p in module.parameters())


def model_flops(model: OVVLMForConditionalGeneration, llm_tokens: int, vit_tokens: int) -> tuple[float, float]:
    """(6·N·T FLOPs, attention FLOPs 12·L·d·S²) of one training step on one sequence with one visual.

    N counts the LLM (tied embeddings once: the output projection), the projector, and the tower's patch
    embedding and the blocks that run up to ``vision_feature_layer``.
    """
    tower = model.vision_tower
    layers = tower.config.num_hidden_layers
    feature_layer = model.config.vision_feature_layer
    used = feature_layer + layers + 1 if feature_layer < 0 else feature_layer
    tower_modules = [tower.embeddings, tower.layernorm_pre, *tower.encoder.layers[:used]]
    tower_params = parameter_count(tower_modules)
    llm_params = parameter_count([model.language_model])
    projector_params = parameter_count([model.multi_modal_projector])
    dense = 6 * (llm_params * llm_tokens + (tower_params + projector_params) * vit_tokens)
    text = model.config.text_config
    llm_width = text.num_attention_heads * getattr(text, "head_dim", text.hidden_size // text.num_attention_heads)
    attention = 12 * (
        text.num_hidden_layers * llm_width * llm_tokens**2 + used * tower.config.hidden_size * vit_tokens**2
    )
    return float(dense), float(attention)


def flop_text(flops: float) -> str:
    """FLOPs with a readable prefix: 231 TFLOP, 5.2 GFLOP."""
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if flops >= scale:
            return f"{flops / scale:.3g} {prefix}FLOP"
    return f"{flops:.3g} FLOP"


def peak_flops(device: str, override_tflops: float | None) -> tuple[float | None, str]:
    """(peak dense bf16 FLOP/s, where it comes from); None when unknown."""
    if override_tflops:
        return override_tflops * 1e12, f"--peak-tflops {override_tflops:g}"
    if not device.startswith("cuda"):
        return None, "no peak for a CPU (pass --peak-tflops)"
    name = torch.cuda.get_device_name(torch.device(device))
    for key, peak in PEAK_BF16:
        if key in name:
            return peak, f"{name}: {peak / 1e12:.0f} TFLOP/s"
    return None, f"{name}: unknown peak (pass --peak-tflops)"


class StepTimer:
    """A Trainer callback that times each optimizer step (forward, backward, optimizer), device-synchronised."""

    def __init__(self, device: str, progress: Progress, total: int):
        self.device, self.progress, self.total = device, progress, total
        self.times: list[float] = []
        self.started = 0.0

    def callback(self):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                synchronize(timer.device)
                timer.started = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                synchronize(timer.device)
                timer.record(time.perf_counter() - timer.started)

        return Callback()

    def record(self, seconds: float) -> None:
        self.times.append(seconds)
        self.progress(f"train: step {len(self.times)}/{self.total} {seconds:.3f} s")


def trainer_step_times(model, processor, item, ws: Workspace, total: int) -> list[float]:
    """Step times through the project's Trainer with DeepSpeed ZeRO-2 in this one process."""
    from ov_vlm.train.run import _prepare_environment

    _prepare_environment()  # rendezvous variables for one process; on CPU, no shm op build (gloo)
    import deepspeed
    from transformers import TrainingArguments

    from ov_vlm.train.trainer import OVVLMTrainer

    args = TrainingArguments(
        output_dir=str(ws.folder / "train"),
        per_device_train_batch_size=1,
        max_steps=total,
        learning_rate=1e-5,
        lr_scheduler_type="constant",
        bf16=ws.cuda,
        activation_checkpointing=True,
        deepspeed=str(ZERO2),
        use_cpu=not ws.cuda,
        save_strategy="no",
        report_to="none",
        logging_steps=total,
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    _ = args.device  # sets up the process group before DeepSpeed adopts it, as ov_vlm.train.run does
    deepspeed.init_distributed(dist_backend="nccl" if ws.cuda else "gloo")
    timer = StepTimer(ws.device, ws.progress, total)
    trainer = OVVLMTrainer(
        model=model,
        args=args,
        train_dataset=[item] * total,
        data_collator=lambda items: processor.collate(items, padding_side="right"),
        processing_class=processor,
        callbacks=[timer.callback()],
    )
    trainer.train()
    trainer.accelerator.free_memory()  # drops the DeepSpeed engine and optimizer, so the chat section has the memory
    return timer.times


def plain_step_times(model, processor, item, ws: Workspace, total: int) -> list[float]:
    """Step times of a plain torch AdamW loop: fp32 weights, bf16 autocast on CUDA, activation checkpointing."""
    model.to(ws.device).train()
    model.activation_checkpointing_enable()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5)
    batch = to_device(processor.collate([item], padding_side="right"), ws.device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if ws.cuda else contextlib.nullcontext()
    timer = StepTimer(ws.device, ws.progress, total)
    for _ in range(total):
        synchronize(ws.device)
        start = time.perf_counter()
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(ws.device)
        timer.record(time.perf_counter() - start)
    del optimizer
    return timer.times


def load_for_training(folder: Path):
    """Model (fp32, sdpa) and processor from a model folder, as ``ov_vlm.train.run`` loads ``init_from``."""
    model = OVVLMForConditionalGeneration.from_pretrained(str(folder), attn_implementation="sdpa", dtype=torch.float32)
    model.language_model.config.use_cache = False  # no KV cache in training (and none with activation checkpointing)
    return model, OVVLMProcessor.from_pretrained(folder)


def timed_steps(ws: Workspace, route: str, total: int):
    """(model, item, step times, route description); falls back to the plain loop if the Trainer route fails."""
    model, processor = load_for_training(ws.model_dir)
    item = training_sample(processor, ws.video)
    precision = "bf16" if ws.cuda else "fp32"
    if route == "trainer":
        ws.progress(f"train: HF Trainer + DeepSpeed ZeRO-2, {total} steps of {len(item.input_ids):,} tokens")
        try:
            times = trainer_step_times(model, processor, item, ws, total)
            return model, item, times, f"HF Trainer + DeepSpeed ZeRO-2 ({ZERO2.name}), 1 process, {precision}"
        except Exception as error:
            if isinstance(error, torch.OutOfMemoryError):
                raise
            reason = failure(error)
            ws.progress(f"train: the Trainer + DeepSpeed route failed ({reason}); timing a plain AdamW step instead")
            del model
            free_memory()
            model, processor = load_for_training(ws.model_dir)
            route = f"plain torch AdamW, {precision} (Trainer + DeepSpeed failed: {reason})"
    else:
        route = f"plain torch AdamW, {precision} (--train-route plain)"
    ws.progress(f"train: plain AdamW loop, {total} steps of {len(item.input_ids):,} tokens")
    return model, item, plain_step_times(model, processor, item, ws, total), route


def train_section(ws: Workspace, route: str, peak_override: float | None) -> list[Row]:
    sizes = ws.sizes
    model, item, times, description = timed_steps(ws, route, sizes.warmup + sizes.steps)
    step = statistics.median(times[sizes.warmup :])
    llm_tokens = len(item.input_ids)
    vit_tokens = sum(len(v.positions) for v in item.visuals)
    dense, attention = model_flops(model, llm_tokens, vit_tokens)
    peak, peak_source = peak_flops(ws.device, peak_override)
    details = f"{description}, activation checkpointing; median of {sizes.steps} steps after {sizes.warmup} warm-up"
    rows = [
        Row("train", "step time (fwd + bwd + optimizer)", step, "s", details),
        Row(
            "train",
            "tokens/s",
            llm_tokens / step,
            "tokens/s",
            f"batch 1 x {llm_tokens:,} LLM tokens ({item.visual_tokens:,} visual: codec video, K = {vit_tokens:,})",
        ),
    ]
    formula = f"6·N·T = {flop_text(dense)} per step (+{flop_text(attention)} attention)"
    if peak is None:
        rows.append(Row("train", "MFU", None, "%", f"{formula}; {peak_source}", "skipped: peak FLOP/s unknown"))
    else:
        with_attention = (dense + attention) / step / peak
        details = f"{formula}; {with_attention:.1%} incl. attention; {peak_source}"
        rows.append(Row("train", "MFU", dense / step / peak, "%", details))
    del model
    free_memory()
    return rows


# ------------------------------------------------------------------------------------------------ 3. ttft


def first_token(loaded, video: Path, mode: str) -> dict:
    """One chat question about ``video`` in ``mode``: video prep, then prefill + first token."""
    start = time.perf_counter()
    encoded = loaded.processor.encode([question(video, mode)], add_generation_prompt=True)
    batch = to_device(loaded.processor.collate([encoded], padding_side="left", with_labels=False), loaded.device)
    synchronize(loaded.device)
    ready = time.perf_counter()
    with torch.inference_mode():
        loaded.model.generate(**batch, max_new_tokens=1, do_sample=False)
    synchronize(loaded.device)
    done = time.perf_counter()
    return {
        "prepare_s": ready - start,
        "ttft_s": done - ready,
        "visual_tokens": encoded.visual_tokens,
        "prompt_tokens": len(encoded.input_ids),
    }


def video_setting(spec, mode: str) -> str:
    """How the processor reads the clip in ``mode``, in words."""
    if mode == "codec":
        codec = spec.codec_settings()
        cells = (codec.canvas // codec.patch) ** 2
        return f"{codec.frames} frames, canvas {codec.canvas}, patch {codec.patch}, K = {codec.mosaics} x {cells:,}"
    side = spec.frame_side()
    return f"{spec.num_frames} uniform frames at {side} px, {(side // spec.patch_size) ** 2:,} tokens each"


def ttft_section(ws: Workspace) -> list[Row]:
    folder = ws.model_dir
    ws.progress("ttft: loading the model folder for chat (ov_vlm.model.inference)")
    loaded = load_for_inference(folder, device=ws.device, dtype="auto", attn="sdpa")
    rows = []
    for mode in ("codec", "frames"):
        first_token(loaded, ws.video, mode)  # warm-up
        runs = [first_token(loaded, ws.video, mode) for _ in range(ws.sizes.repeats)]
        ttft = statistics.median(r["ttft_s"] for r in runs)
        prepare = statistics.median(r["prepare_s"] for r in runs)
        visual, prompt = runs[0]["visual_tokens"], runs[0]["prompt_tokens"]
        ws.progress(f"ttft: {mode} {visual:,} visual tokens, TTFT {ttft * 1000:.1f} ms")
        setting = video_setting(loaded.processor.spec, mode)
        rows.append(Row("ttft", f"{mode}: visual tokens", visual, "tokens", f"{setting}; prompt {prompt:,} tokens"))
        details = (
            f"prefill + first token, {loaded.dtype} on {loaded.device}, median of {ws.sizes.repeats} after 1 warm-up; "
            f"video prep before it (CPU) {prepare * 1000:,.0f} ms"
        )
        rows.append(Row("ttft", f"{mode}: TTFT", ttft, "ms", details))
    del loaded
    free_memory()
    return rows


# ------------------------------------------------------------------------------------------------ table


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({torch.get_num_threads()} threads)"


def title(ws: Workspace, seconds: float) -> str:
    import transformers

    return (
        f"gpu-check: {ws.sizes.name} sizes ({ws.sizes.preset.name}), {device_name(ws.device)}, torch "
        f"{torch.__version__}, transformers {transformers.__version__}, {seconds:.0f} s"
    )


def markdown(heading: str, rows: list[Row]) -> str:
    lines = [heading, "", "| section | check | result | details |", "|---|---|---|---|"]
    lines += [f"| {r.section} | {r.check} | {r.result()} | {r.details} |" for r in rows]
    return "\n".join(lines)


def write_out(path: Path, heading: str, rows: list[Row]) -> None:
    """JSON for a ``.json`` path, the markdown table otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps({"title": heading, "rows": [dataclasses.asdict(r) for r in rows]}, indent=1))
    else:
        path.write_text(markdown(heading, rows) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny preset sizes (automatic without CUDA)")
    parser.add_argument("--device", help="cuda, cuda:1, cpu (default: cpu with --tiny, else cuda if available)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, help="also write the table here (.json: JSON, else markdown)")
    parser.add_argument("--peak-tflops", type=float, help="peak dense bf16 TFLOP/s for the MFU (default: by GPU name)")
    parser.add_argument("--train-route", choices=("trainer", "plain"), default="trainer", help="training path")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown or not args.sections:
        parser.error(f"--sections takes {', '.join(SECTIONS)}; got {unknown or 'none'}")
    return args


def run_section(section: str, ws: Workspace, args: argparse.Namespace) -> list[Row]:
    """The section's rows; a failure becomes one row (traceback printed) so that the next sections still run."""
    try:
        if section == "attention":
            return attention_section(ws)
        if section == "train":
            return train_section(ws, args.train_route, args.peak_tflops)
        return ttft_section(ws)
    except Exception as error:
        traceback.print_exc()
        ws.progress(f"{section}: failed ({failure(error)})")
        free_memory()
        return [Row(section, "section", None, "", "see the traceback above the table", f"failed: {failure(error)}")]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Progress()
    device = args.device or ("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    if not args.tiny and not device.startswith("cuda"):
        progress("no CUDA device: running the tiny preset sizes on CPU (as --tiny)")
    sizes = tiny_sizes() if args.tiny or not device.startswith("cuda") else real_sizes()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        ws = Workspace(sizes, device, Path(tmp), progress)
        for section in (s for s in SECTIONS if s in args.sections):
            rows += run_section(section, ws, args)
    heading = title(ws, progress.elapsed())
    print("\n" + markdown(heading, rows), flush=True)
    if progress.elapsed() > TARGET_SECONDS and sizes.name == "real":
        print(f"note: this run took longer than the {TARGET_SECONDS // 60}-minute target", flush=True)
    if args.out:
        write_out(args.out, heading, rows)
    bad = [r for r in rows if r.status.startswith("failed") or (r.value is not None and not math.isfinite(r.value))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
