"""Motion world: a small synthetic video-QA world with real H.264 videos, for the demo and tests.

Coloured shapes move over textured backgrounds with static distractor shapes; some clips pan the camera, some have a
scrolling "water" band (motion that is not an object). Questions need the motion: which shape moves, its colour, its
direction, whether it stops, which of two shapes starts moving first; a few image questions ask about still shapes.
Everything is drawn from a seeded generator (deterministic) and written in the reference LLaVA JSONL format
(``video``/``image`` + ``conversations``), with the ground truth kept in each record's ``truth``.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ov_vlm.media import encode_frames
from ov_vlm.utils.processes import fork_context

COLORS = {"red": (225, 35, 35), "green": (35, 190, 60), "blue": (40, 90, 235), "yellow": (240, 215, 30)}
SHAPES = ("square", "circle", "triangle")
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
QUESTION_TYPES = ("colour", "shape", "direction", "stops", "first", "image_colour", "image_shape")
SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass
class Mover:
    shape: str
    color: str
    x: float
    y: float
    direction: str
    start: int  # frame it starts moving
    stop: int  # frame it stops (== frames: never)
    speed: float

    def position(self, t: int) -> tuple[float, float]:
        moving = max(0, min(t, self.stop) - self.start)
        dx, dy = DIRECTIONS[self.direction]
        return self.x + dx * self.speed * moving, self.y + dy * self.speed * moving


@dataclass
class Scene:
    """One clip's ground truth: what is drawn where, frame by frame."""

    size: int
    frames: int
    texture_seed: int
    pan: float  # camera pan, px per frame (moves background and distractors)
    water: bool  # a scrolling texture band at the bottom
    side: int
    movers: list[Mover] = field(default_factory=list)
    distractors: list[tuple[str, str, int, int]] = field(default_factory=list)  # (shape, colour, x, y)

    @classmethod
    def from_truth(cls, truth: dict[str, Any]) -> Scene:
        """The scene of a record's ``truth`` (its ``asdict``)."""
        fixed = {key: value for key, value in truth.items() if key not in ("movers", "distractors")}
        scene = cls(**fixed)
        scene.movers = [Mover(**mover) for mover in truth["movers"]]
        scene.distractors = [tuple(d) for d in truth["distractors"]]
        return scene

    def offset(self, t: int) -> int:
        """The camera's horizontal offset at frame ``t`` (px)."""
        return round(self.pan * t)


@dataclass(frozen=True)
class WorldSpec:
    """Sizes of the world; the defaults are the demo's. The test split holds 480 video questions (one per clip) so
    that two standard errors of a codec - frames difference are about 6.5 points, and 200 image questions (100 per
    type: at 32, one standard error was 8 points)."""

    size: int = 64
    frames: int = 48
    fps: int = 12
    videos: dict = field(default_factory=lambda: {"train": 3000, "val": 16, "test": 480})
    images: dict = field(default_factory=lambda: {"train": 800, "val": 8, "test": 200})
    two_mover_share: float = 0.25
    pan_share: float = 0.3
    water_share: float = 0.3


@lru_cache(maxsize=4)  # every frame of a clip reads the same textures: drawn once per clip, read-only
def _texture(seed: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(70, 150, (height // 8 + 2, width // 8 + 2, 1)).repeat(8, 0).repeat(8, 1)
    grain = rng.integers(-10, 10, (base.shape[0], base.shape[1], 1))
    tint = rng.integers(-12, 12, (1, 1, 3))
    texture = np.clip(base + grain + tint, 0, 255).astype(np.uint8)
    texture.setflags(write=False)
    return texture


def _draw(draw: ImageDraw.ImageDraw, shape: str, color: str, x: float, y: float, side: int) -> None:
    box = (round(x), round(y), round(x) + side, round(y) + side)
    fill = COLORS[color]
    if shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "circle":
        draw.ellipse(box, fill=fill)
    else:
        draw.polygon([(box[0] + side / 2, box[1]), (box[0], box[3]), (box[2], box[3])], fill=fill)


def render(scene: Scene, t: int) -> np.ndarray:
    """Frame ``t`` of a scene (RGB uint8)."""
    size, margin = scene.size, scene.size // 2
    texture = _texture(scene.texture_seed, size + 2 * margin, size + 2 * margin)
    offset = scene.offset(t)
    frame = texture[margin : margin + size, margin + offset : margin + offset + size].copy()
    if scene.water:
        band = _texture(scene.texture_seed + 1, size + 2 * margin, size + 2 * margin)
        shift, height = (2 * t) % margin, size // 6
        frame[size - height :] = (band[:height, shift : shift + size] * np.array([0.5, 0.7, 1.0])).astype(np.uint8)
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    for shape, color, x, y in scene.distractors:
        _draw(draw, shape, color, x - offset, y, scene.side)
    for mover in scene.movers:
        x, y = mover.position(t)
        _draw(draw, mover.shape, mover.color, x - offset, y, scene.side)
    return np.asarray(image)


def write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """One demo clip: H.264 without B-frames, GOP 16, one encoder thread (the same bytes on every machine)."""
    encode_frames(path, frames, options={"preset": "veryfast", "bf": "0", "g": "16", "threads": "1"}, fps=fps)


def _free_spot(rng, size: int, side: int, taken: list[tuple[float, float]], lo: int = 0) -> tuple[int, int]:
    for _ in range(50):
        x, y = (int(v) for v in rng.integers(lo, size - side - lo, 2))
        if all(abs(x - a) > side + 2 or abs(y - b) > side + 2 for a, b in taken):
            return x, y
    return x, y


def _mover(rng, spec: WorldSpec, side: int, shape: str, color: str, start: int, stops: bool) -> Mover:
    direction = list(DIRECTIONS)[rng.integers(len(DIRECTIONS))]
    stop = int(rng.integers(spec.frames // 4, spec.frames // 2)) if stops else spec.frames  # at rest for half or more
    travel = spec.size - side - 4
    speed = min(1.6, travel / max(1, stop - start))
    dx, dy = DIRECTIONS[direction]
    along = 2 if dx + dy > 0 else spec.size - side - 2  # start on the side it moves away from
    across = int(rng.integers(4, spec.size - side - 4))
    x, y = (along, across) if dx else (across, along)
    return Mover(shape, color, float(x), float(y), direction, start, stop, float(speed))


def make_scene(rng: np.random.Generator, spec: WorldSpec, two_movers: bool) -> Scene:
    side = spec.size // 5
    colors = list(rng.permutation(list(COLORS)))
    shapes = [SHAPES[i] for i in rng.integers(len(SHAPES), size=4)]
    scene = Scene(
        size=spec.size,
        frames=spec.frames,
        texture_seed=int(rng.integers(1 << 30)),
        pan=float(rng.choice([-0.5, 0.5])) if rng.random() < spec.pan_share else 0.0,
        water=bool(rng.random() < spec.water_share),
        side=side,
    )
    if two_movers:
        first = int(rng.integers(0, spec.frames // 6))
        second = int(rng.integers(spec.frames // 3, spec.frames // 2))
        starts = [first, second] if rng.random() < 0.5 else [second, first]
        scene.movers = [_mover(rng, spec, side, shapes[i], colors[i], starts[i], False) for i in range(2)]
    else:
        stops = bool(rng.random() < 0.5)
        scene.movers = [_mover(rng, spec, side, shapes[0], colors[0], int(rng.integers(0, 4)), stops)]
    taken = [m.position(t) for m in scene.movers for t in range(0, spec.frames, 4)]
    for k in range(len(scene.movers), len(scene.movers) + int(rng.integers(1, 3))):
        x, y = _free_spot(rng, spec.size, side, taken)
        taken.append((x, y))
        scene.distractors.append((shapes[k % 4], colors[k % 4], x + round(scene.pan * spec.frames / 2), y))
    return scene


def answer(word: str) -> str:
    """An answer as the reply's one word, capitalised ("Red"): the demo's tiny BPE has a single token for "Red" (and
    " red"), while a reply that starts with "red" would be spelled in 2-3 sub-word pieces (see the README)."""
    return word.capitalize()


def video_questions(scene: Scene) -> list[tuple[str, str, str]]:
    """(type, question, answer) pairs the scene answers."""
    if len(scene.movers) == 2:
        a, b = scene.movers
        first = a if a.start < b.start else b
        q = f"Which starts moving first, the {a.color} {a.shape} or the {b.color} {b.shape}? Answer with its colour."
        return [("first", q, answer(first.color))]
    mover = scene.movers[0]
    return [
        ("colour", "What colour is the moving shape?", answer(mover.color)),
        ("shape", "Which shape is moving?", answer(mover.shape)),
        ("direction", "Which way does the moving shape go?", answer(mover.direction)),
        ("stops", "Does the moving shape stop before the end?", answer("yes" if mover.stop < scene.frames else "no")),
    ]


def caption(scene: Scene) -> str:
    parts = []
    for mover in scene.movers:
        stop = " and stops" if mover.stop < scene.frames else ""
        parts.append(f"a {mover.color} {mover.shape} moves {mover.direction}{stop}")
    text = ", then ".join(sorted(parts, key=lambda p: 0)) if len(parts) > 1 else parts[0]
    return text[0].upper() + text[1:] + "."


def _record(sample_id: str, media_key: str, path: str, turns: list[tuple[str, str, str]], truth: dict) -> dict:
    """A LLaVA record; ``turns`` are (type, question, answer), asked one after the other about the same clip."""
    tag = "<video>" if media_key == "video" else "<image>"
    conversations = []
    for k, (_, question, answer) in enumerate(turns):
        human = f"{tag}\n{question}" if k == 0 else question
        conversations += [{"from": "human", "value": human}, {"from": "gpt", "value": answer}]
    record = {"id": sample_id, media_key: path, "conversations": conversations}
    if len(turns) == 1:
        record["question_type"] = turns[0][0]
    else:
        record["question_types"] = [t[0] for t in turns]
    record["truth"] = truth
    return record


def qa_pairs(record: dict) -> list[tuple[str, str]]:
    """(question type, answer) of every turn of a record."""
    types = record.get("question_types") or [record["question_type"]]
    answers = [turn["value"] for turn in record["conversations"][1::2]]
    return list(zip(types, answers, strict=True))


def _turns(rng: np.random.Generator, questions: list[tuple[str, str, str]], split: int, n: int) -> list:
    """Training: every question of the clip as one multi-turn conversation, in random order (each answer supervised;
    no turn depends on another). Held-out splits: one question per clip, types balanced by rotation."""
    if split == SPLITS["train"]:
        return [questions[i] for i in rng.permutation(len(questions))]
    return [questions[n % len(questions)]]


def image_questions(shape: str, color: str) -> list[tuple[str, str, str]]:
    return [
        ("image_colour", f"What colour is the {shape}?", answer(color)),
        ("image_shape", f"What shape is the {color} object?", answer(shape)),
    ]


def _plan_clip(split: str, n: int, rng, spec: WorldSpec, index: int) -> tuple[dict, dict, Scene]:
    """One video clip's scene, QA record and caption record (all the random draws; the rendering comes later)."""
    scene = make_scene(rng, spec, two_movers=bool(rng.random() < spec.two_mover_share))
    name = f"{split}-v{n:04d}.mp4"
    truth = asdict(scene)
    turns = _turns(rng, video_questions(scene), index, n)
    qa = _record(f"{split}-v{n:04d}", "video", f"media/{name}", turns, truth)
    cap = _record(
        f"{split}-v{n:04d}-cap", "video", f"media/{name}", [("caption", "Describe the video.", caption(scene))], truth
    )
    return qa, cap, scene


def render_clip(path: Path, scene: Scene, fps: int) -> None:
    """Render and encode one planned clip (pure: the same bytes in any process)."""
    write_video(path, [render(scene, t) for t in range(scene.frames)], fps)


def _write_image(out: Path, split: str, n: int, rng, spec: WorldSpec, index: int) -> tuple[dict, dict]:
    """One still image of a single shape: its QA record and its caption record."""
    side = spec.size // 3
    color, shape = list(COLORS)[rng.integers(len(COLORS))], SHAPES[rng.integers(len(SHAPES))]
    scene = Scene(spec.size, 1, int(rng.integers(1 << 30)), 0.0, False, side)
    x, y = (int(v) for v in rng.integers(2, spec.size - side - 2, 2))
    scene.distractors = [(shape, color, x, y)]
    name = f"{split}-i{n:04d}.png"
    Image.fromarray(render(scene, 0)).save(out / "media" / name)
    truth = {"shape": shape, "color": color, "x": x, "y": y, "side": side, "size": spec.size}
    questions = image_questions(shape, color)
    turns = _turns(rng, questions, index, n) if index == SPLITS["train"] else [questions[(n + 1) % 2]]
    qa = _record(f"{split}-i{n:04d}", "image", f"media/{name}", turns, truth)
    cap = _record(
        f"{split}-i{n:04d}-cap",
        "image",
        f"media/{name}",
        [("caption", "Describe the image.", f"A {color} {shape}.")],
        truth,
    )
    return qa, cap


def generate_world(
    out_dir: str | Path,
    spec: WorldSpec | None = None,
    seed: int = 0,
    progress=None,
    train_modes: tuple[str, ...] = (),
    workers: int = 1,
) -> dict[str, Path]:
    """Write ``media/`` and, per split, ``<split>.jsonl`` (QA) plus ``<split>_captions.jsonl`` (alignment).

    ``train_modes`` (e.g. ``("codec", "frames")``) gives the training videos a ``video_mode`` in turn, so one model
    learns both inputs. Returns the JSONL paths by name. ``progress(n)`` is called after each clip or image.
    ``workers`` > 1 renders and encodes the clips in that many processes (the output is the same).
    """
    spec = spec or WorldSpec()
    out = Path(out_dir)
    (out / "media").mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with _renderer(workers) as render_async:
        for split, index in SPLITS.items():
            rng = np.random.default_rng([seed, index])
            qa, captions, pending = [], [], []
            for n in range(spec.videos[split]):  # the draws stay in order; rendering runs in parallel
                record, cap, scene = _plan_clip(split, n, rng, spec, index)
                qa.append(record)
                captions.append(cap)
                pending.append(render_async(out / record["video"], scene, spec.fps))
            for n in range(spec.images[split]):
                record, cap = _write_image(out, split, n, rng, spec, index)
                qa.append(record)
                captions.append(cap)
                if progress:
                    progress(1)
            for job in pending:
                job.result()  # a failed render raises here (the demo step then re-runs whole)
                if progress:
                    progress(1)
            for name, records in ((split, qa), (f"{split}_captions", captions)):
                if split == "train" and train_modes:
                    videos = [r for r in records if "video" in r]
                    for n, record in enumerate(videos):
                        record["video_mode"] = train_modes[n % len(train_modes)]
                path = out / f"{name}.jsonl"
                path.write_text("".join(json.dumps(r) + "\n" for r in records))
                written[name] = path
    return written


@contextmanager
def _renderer(workers: int):
    """``submit(path, scene, fps)`` -> a future: in ``workers`` processes or, with one, right away."""
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=fork_context()) as pool:
            yield lambda path, scene, fps: pool.submit(render_clip, path, scene, fps)
        return
    done = Future()
    done.set_result(None)

    def now(path, scene, fps):
        render_clip(path, scene, fps)
        return done

    yield now


def majority_baselines(train: list[dict], test: list[dict]) -> dict[str, Any]:
    """Accuracy (%) on ``test`` of answering the most common training answer: overall (``majority``), per question
    type (``blind_per_type``: a blind model that knows the question type but never looks) and that blind model on
    all of ``test`` (``majority_per_type``)."""
    pairs = [pair for record in train for pair in qa_pairs(record)]

    def most_common(answers: list[str]) -> str | None:
        return max(sorted(set(answers)), key=answers.count) if answers else None

    overall = most_common([a for _, a in pairs])
    by_type = {t: most_common([a for q, a in pairs if q == t]) for t in QUESTION_TYPES}
    tested = [pair for record in test for pair in qa_pairs(record)]

    def accuracy(subset: list[tuple[str, str]], guess) -> float:
        return 100.0 * sum(guess(q) == a for q, a in subset) / max(1, len(subset))

    return {
        "majority": accuracy(tested, lambda q: overall),
        "majority_per_type": accuracy(tested, by_type.get),
        "blind_per_type": {
            t: accuracy([p for p in tested if p[0] == t], by_type.get)
            for t in QUESTION_TYPES
            if any(p[0] == t for p in tested)
        },
    }
