"""A small, learnable synthetic dataset for the tiny recipes: coloured shapes in images and short H.264 videos,
written in the reference LLaVA JSONL format (so data-check, codec, train and eval read it unchanged).

- ``task="caption"`` (stage 1 alignment): "<image>" -> "A red circle." / "<video>" -> "A blue square moving left."
- ``task="qa"`` (stage 2 instruction tuning): questions about colour, shape and direction of motion.
Deterministic for a given seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ov_vlm.media import encode_frames

COLORS = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (40, 80, 220), "yellow": (230, 210, 40)}
SHAPES = ("square", "circle", "triangle")
DIRECTIONS = {"left": (-3, 0), "right": (3, 0), "up": (0, -3), "down": (0, 3)}
TASKS = ("caption", "qa")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    tone = rng.integers(60, 140)
    noise = rng.integers(-12, 12, (size // 4, size // 4, 1))
    return np.clip(tone + noise.repeat(4, 0).repeat(4, 1), 0, 255).astype(np.uint8).repeat(3, axis=2)


def _draw(frame: np.ndarray, shape: str, color: tuple[int, int, int], x: int, y: int, side: int) -> np.ndarray:
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    box = (x, y, x + side, y + side)
    if shape == "square":
        draw.rectangle(box, fill=color)
    elif shape == "circle":
        draw.ellipse(box, fill=color)
    else:
        draw.polygon([(x + side // 2, y), (x, y + side), (x + side, y + side)], fill=color)
    return np.asarray(image)


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 8) -> None:
    encode_frames(path, frames, options={"preset": "veryfast", "bf": "0"}, fps=fps)


def generate_shapes(
    out_dir: str | Path,
    samples: int = 64,
    task: str = "qa",
    video_share: float = 0.25,
    seed: int = 0,
    size: int = 64,
    frames: int = 16,
) -> Path:
    """Write ``samples`` samples (images, and videos for ``video_share`` of them) plus ``train.jsonl``; returns it."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    out_dir = Path(out_dir)
    media = out_dir / "media"
    media.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(samples):
        color = list(COLORS)[rng.integers(len(COLORS))]
        shape = SHAPES[rng.integers(len(SHAPES))]
        side = int(rng.integers(size // 4, size // 2))
        is_video = rng.random() < video_share
        sample = {"id": f"{task}-{index:05d}"}
        if is_video:
            direction = list(DIRECTIONS)[rng.integers(len(DIRECTIONS))]
            dx, dy = DIRECTIONS[direction]
            x, y = size // 2 - side // 2 - dx * frames // 2, size // 2 - side // 2 - dy * frames // 2
            background = _background(rng, size)
            clip = [_draw(background.copy(), shape, COLORS[color], x + dx * t, y + dy * t, side) for t in range(frames)]
            name = f"{sample['id']}.mp4"
            _write_video(media / name, clip)
            sample["video"] = f"media/{name}"
            tag = "<video>"
            caption = f"A {color} {shape} moving {direction}."
            questions = [("Which way does the shape move?", direction), ("What colour is the moving shape?", color)]
        else:
            x, y = (int(v) for v in rng.integers(0, size - side, 2))
            image = _draw(_background(rng, size), shape, COLORS[color], x, y, side)
            name = f"{sample['id']}.png"
            Image.fromarray(image).save(media / name)
            sample["image"] = f"media/{name}"
            tag = "<image>"
            caption = f"A {color} {shape}."
            questions = [("What colour is the shape?", color), ("What shape is it?", shape)]
        if task == "caption":
            conversation = [{"from": "human", "value": f"{tag}\nDescribe it."}, {"from": "gpt", "value": caption}]
        else:
            question, answer = questions[rng.integers(len(questions))]
            conversation = [{"from": "human", "value": f"{tag}\n{question}"}, {"from": "gpt", "value": answer}]
        sample["conversations"] = conversation
        lines.append(json.dumps(sample))
    target = out_dir / "train.jsonl"
    target.write_text("\n".join(lines) + "\n")
    return target
