"""Demo step 3a: pretrain the demo model's vision tower (and projector) before any language, by multi-label cluster
discrimination over the world's training clips and images, in the spirit of the paper's pretraining objective.

The paper's encoder learns to tell apart the clusters of a teacher's embeddings; here the world's generator is the
teacher: every clip belongs to one cluster per attribute of the shape that moves first (its colour, its shape, its
direction, whether it stops) and every image to its shape's colour and shape cluster. One linear classifier per
attribute reads an attention pool of a visual's projected tokens (what the LLM will read, and how: by attending), so
the tower learns to put what it sees into the tokens, in codec and frames input alike. The language model is
untouched; the saved folder is the model stage 1 starts from. Its held-out accuracy per attribute is reported
(``tower.json``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ov_vlm.media import TIME_SLOTS, sample_frame_ids
from ov_vlm.processing.chat import from_llava
from ov_vlm.utils.accelerator import prefer_cpu_deepspeed
from ov_vlm.utils.tensors import pad_packed

from .world import COLORS, DIRECTIONS, SHAPES, Scene

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": tuple(COLORS),
    "shape": SHAPES,
    "direction": tuple(DIRECTIONS),
    "stops": ("no", "yes"),
}
UNLABELLED = -100  # an attribute a sample has no cluster for (an image's direction)
CELL_ATTRIBUTES: dict[str, tuple[str, ...]] = {  # per token: what the shape centred in its cell is, if any
    "cell_colour": (*COLORS, "none"),
    "cell_shape": (*SHAPES, "none"),
    "cell_motion": ("moving", "still", "none"),
}


@dataclass(frozen=True)
class TowerSettings:
    """The pretraining run: AdamW, a linear warm-up then cosine decay to a tenth of the rate, batches of visuals."""

    steps: int = 1500
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 20
    weight_decay: float = 0.01
    mirror: bool = True  # flip half of each batch left-right (the world's shapes are symmetric; left <-> right)
    cells: bool = True  # also per token: colour, shape and motion of the shape centred in the token's cell


def clusters(record: dict[str, Any]) -> dict[str, int]:
    """Cluster index per attribute of one world record (from its ``truth``); missing attributes are `UNLABELLED`."""
    truth = record["truth"]
    if "video" in record:
        movers = truth["movers"]
        first = min(movers, key=lambda mover: mover["start"])
        names = {"colour": first["color"], "shape": first["shape"]}
        if len(movers) == 1:
            names["direction"] = first["direction"]
            names["stops"] = "yes" if first["stop"] < truth["frames"] else "no"
    else:
        names = {"colour": truth["color"], "shape": truth["shape"]}
    return {key: ATTRIBUTES[key].index(names[key]) if key in names else UNLABELLED for key in ATTRIBUTES}


def _drawn(scene: Scene, frame: int) -> list[tuple[str, str, float, float, bool]]:
    """(colour, shape, centre x, centre y, moving) of every shape drawn in ``frame`` of ``scene``, in view pixels."""
    offset, half = scene.offset(frame), scene.side / 2
    shapes = [(color, shape, x - offset + half, y + half, False) for shape, color, x, y in scene.distractors]
    for mover in scene.movers:
        x, y = mover.position(frame)
        shapes.append((mover.color, mover.shape, x - offset + half, y + half, mover.start <= frame < mover.stop))
    return shapes


def cell_targets(record: dict[str, Any], visual) -> dict[str, torch.Tensor]:
    """Per token of ``visual`` (from its (t, h, w) position): the cluster of the shape centred in its cell at its
    frame, ``none`` elsewhere. A video's time slot shows the frame that slot samples on the 64-slot grid."""
    truth, positions = record["truth"], visual.positions.numpy()
    found = {key: np.full(len(positions), len(values) - 1) for key, values in CELL_ATTRIBUTES.items()}
    cell = truth["size"] / visual.layout.cols
    if "video" in record:
        scene = Scene.from_truth(truth)
        frames = sample_frame_ids(scene.frames, TIME_SLOTS)[positions[:, 0]]
        drawn = [(frames == f, _drawn(scene, int(f))) for f in np.unique(frames)]
    else:
        half = truth["side"] / 2
        drawn = [(True, [(truth["color"], truth["shape"], truth["x"] + half, truth["y"] + half, False)])]
    for at_frame, shapes in drawn:
        for color, shape, x, y, moving in shapes:
            here = at_frame & (positions[:, 1] == np.floor(y / cell)) & (positions[:, 2] == np.floor(x / cell))
            found["cell_colour"][here] = CELL_ATTRIBUTES["cell_colour"].index(color)
            found["cell_shape"][here] = CELL_ATTRIBUTES["cell_shape"].index(shape)
            found["cell_motion"][here] = 0 if moving else 1
    return {key: torch.as_tensor(values, dtype=torch.long) for key, values in found.items()}


class ClusterHeads(nn.Module):
    """One linear classifier per attribute over an attention pool of a visual's projected tokens: one learned query
    per attribute (the paper encoder's pooling head), so the tower must put each answer where a reader that attends
    finds it, as the LLM will; a mean pool let the tower answer "shape" by the shape's area instead."""

    def __init__(self, width: int, heads: int = 4):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(len(ATTRIBUTES), width) * width**-0.5)
        self.pool = nn.MultiheadAttention(width, heads, batch_first=True)
        self.heads = nn.ModuleDict({key: nn.Linear(width, len(values)) for key, values in ATTRIBUTES.items()})
        self.cells = nn.ModuleDict({key: nn.Linear(width, len(values)) for key, values in CELL_ATTRIBUTES.items()})

    def forward(self, tokens: torch.Tensor, counts: list[int]) -> dict[str, torch.Tensor]:
        """Logits per attribute from packed tokens [sum(counts), width], ``counts`` tokens per visual."""
        padded, real = pad_packed(tokens, counts)
        queries = self.queries.expand(len(counts), -1, -1)
        pooled = self.pool(queries, padded, padded, key_padding_mask=~real, need_weights=False)[0]
        return {key: head(pooled[:, k]) for k, (key, head) in enumerate(self.heads.items())}

    def per_token(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        return {key: head(tokens) for key, head in self.cells.items()}


def encode_visuals(records: list[dict], processor, media_root: Path, progress=None) -> list:
    """The one visual of every record, as the processor gives it to the model (its text is not tokenized)."""
    visuals = []
    for record in records:
        visuals.append(processor.visuals_of(from_llava(record, media_root))[0])
        if progress:
            progress(1)
    return visuals


def projected_tokens(model, visuals: list) -> tuple[torch.Tensor, list[int]]:
    """The visuals' projected tokens, packed [tokens, text width], and each visual's token count."""
    features = model.get_visual_features(
        [v.pixel_values for v in visuals],
        [v.positions for v in visuals],
        torch.tensor([v.layout.grid for v in visuals], dtype=torch.long),
    )
    return features, [v.num_tokens for v in visuals]


def cluster_loss(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over attributes of the cross-entropy on the samples labelled for it."""
    total = logits["colour"].new_zeros(())
    for key, values in logits.items():
        if (labels[key] != UNLABELLED).any():
            total = total + nn.functional.cross_entropy(values, labels[key], ignore_index=UNLABELLED)
    return total


def label_tensors(records: list[dict]) -> dict[str, torch.Tensor]:
    rows = [clusters(record) for record in records]
    return {key: torch.tensor([row[key] for row in rows], dtype=torch.long) for key in ATTRIBUTES}


def _rate(step: int, settings: TowerSettings) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    done = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    return settings.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * done)))


def mirrored(visual):
    """The visual flipped left-right: every patch's pixels flipped and its column mirrored (token order kept; the
    tower places tokens by their positions only)."""
    layout, patch = visual.layout, visual.pixel_values.shape[-1] // visual.layout.cols
    if int(visual.positions[:, 2].max()) >= layout.cols:  # the demo's position grid is its token layout (4 x 4)
        raise ValueError("mirrored: the positions' grid is wider than the token layout")
    pixels = visual.pixel_values.unflatten(-1, (layout.cols, patch)).flip(-1).flatten(-2)
    positions = visual.positions.clone()
    positions[:, 2] = layout.cols - 1 - positions[:, 2]
    return dataclasses.replace(visual, pixel_values=pixels, positions=positions)


MIRRORED_DIRECTION = [ATTRIBUTES["direction"].index(d) for d in ("right", "left", "up", "down")]


def batch_loss(model, heads: ClusterHeads, visuals: list, labels: dict, cells: list | None, flips) -> torch.Tensor:
    """The clusters' loss of one batch (``labels`` and ``cells`` already the batch's), the flagged visuals mirrored
    (their direction cluster turned; per-token targets follow their tokens)."""
    chosen = [mirrored(visual) if flip else visual for visual, flip in zip(visuals, flips, strict=True)]
    targets = {key: values.clone() for key, values in labels.items()}
    turned = torch.as_tensor(flips) & (targets["direction"] != UNLABELLED)
    targets["direction"][turned] = torch.tensor(MIRRORED_DIRECTION)[targets["direction"][turned]]
    tokens, counts = projected_tokens(model, chosen)
    loss = cluster_loss(heads(tokens, counts), targets)
    if cells is not None:
        per_token = heads.per_token(tokens)
        for key in CELL_ATTRIBUTES:
            loss = loss + nn.functional.cross_entropy(per_token[key], torch.cat([cell[key] for cell in cells]))
    return loss


def fit(model, visuals: list, labels: dict, cells: list | None, settings: TowerSettings, seed: int, progress=None):
    """Train the tower, the projector and the heads; returns the heads and the loss per step."""
    torch.manual_seed(seed)
    heads = ClusterHeads(model.config.text_config.hidden_size)
    parameters = [*model.vision_tower.parameters(), *model.multi_modal_projector.parameters(), *heads.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    rng = np.random.default_rng(seed)
    order: list[int] = []
    losses = []
    model.train()
    for step in range(settings.steps):
        if len(order) < settings.batch_size:
            order += [int(i) for i in rng.permutation(len(visuals))]
        batch, order = order[: settings.batch_size], order[settings.batch_size :]
        for group in optimizer.param_groups:
            group["lr"] = _rate(step, settings)
        flips = rng.random(len(batch)) < 0.5 if settings.mirror else np.zeros(len(batch), dtype=bool)
        loss = batch_loss(
            model,
            heads,
            [visuals[i] for i in batch],
            {key: values[batch] for key, values in labels.items()},
            None if cells is None else [cells[i] for i in batch],
            flips,
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if progress:
            progress(1, loss=losses[-1])
    return heads, losses


@torch.no_grad()
def accuracy(model, heads: ClusterHeads, visuals: list, labels: dict[str, torch.Tensor], batch: int = 64) -> dict:
    """Held-out accuracy (%) and n per attribute."""
    model.eval()
    logits = {key: [] for key in ATTRIBUTES}
    for start in range(0, len(visuals), batch):
        for key, values in heads(*projected_tokens(model, visuals[start : start + batch])).items():
            logits[key].append(values.argmax(dim=-1))
    result = {}
    for key in ATTRIBUTES:
        mask = labels[key] != UNLABELLED
        hits = (torch.cat(logits[key]) == labels[key])[mask]
        result[key] = {"accuracy": round(100.0 * float(hits.float().mean()), 1), "n": int(mask.sum())}
    return result


def pretrain_tower(
    data: Path, out: Path, preset: Path, codec_cache: Path, seed: int, settings: TowerSettings | None = None
) -> dict:
    """Pretrain a fresh demo model's tower on ``data/train.jsonl``, save the model folder to ``out`` and report the
    held-out accuracy per attribute on ``data/test.jsonl`` in codec and frames input (``out/tower.json``)."""
    from tqdm.auto import tqdm

    from ov_vlm.codec import CodecCache
    from ov_vlm.model.builder import from_preset
    from ov_vlm.utils.jsonl import read_jsonl

    settings = settings or TowerSettings()
    model, processor = from_preset(preset, seed=seed)
    processor = processor.with_overrides(codec_cache=CodecCache(codec_cache))
    train = read_jsonl(data / "train.jsonl")
    test = read_jsonl(data / "test.jsonl")
    started = time.perf_counter()
    quiet = not sys.stderr.isatty()  # in a log (the demo) only the steps' bar, which the demo's terminal follows
    with tqdm(total=len(train) + 2 * len(test), desc="tower inputs", unit="visual", disable=quiet) as bar:
        visuals = encode_visuals(train, processor, data, bar.update)
        held_out = {
            mode: encode_visuals(test, processor.with_overrides(video_mode=mode), data, bar.update)
            for mode in ("codec", "frames")
        }
    with tqdm(total=settings.steps, desc="tower pretraining", unit="step") as bar:

        def step(n: int, loss: float) -> None:
            bar.update(n)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

        cells = [cell_targets(r, v) for r, v in zip(train, visuals, strict=True)] if settings.cells else None
        heads, losses = fit(model, visuals, label_tensors(train), cells, settings, seed, step)
    test_labels = label_tensors(test)
    report = {
        "settings": asdict(settings),
        "train_visuals": len(visuals),
        "loss": {"first": round(losses[0], 4), "last": round(float(np.mean(losses[-20:])), 4)},
        "held_out_accuracy": {mode: accuracy(model, heads, v, test_labels) for mode, v in held_out.items()},
        "chance": {key: round(100.0 / len(values), 1) for key, values in ATTRIBUTES.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "tower.json").write_text(json.dumps(report, indent=1))
    return report


def summary_line(report: dict) -> str:
    """One line: steps, time and the held-out accuracy per attribute in codec input, beside chance."""
    codec = report["held_out_accuracy"]["codec"]
    shown = ", ".join(f"{key} {codec[key]['accuracy']:.0f} % ({report['chance'][key]:.0f})" for key in ATTRIBUTES)
    return (
        f"tower pretraining: {report['settings']['steps']} steps in {report['seconds']:.0f} s; held-out clusters, "
        f"codec input (chance): {shown}; details in tower.json"
    )


def _parser():
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ov_vlm.demo.tower", description=main.__doc__)
    parser.add_argument("data", type=Path, help="world folder (train.jsonl, test.jsonl, media/)")
    parser.add_argument("out", type=Path, help="model folder to write (stage 1 starts from it)")
    parser.add_argument("--codec-cache", type=Path, required=True, help="codec selections of the world's clips")
    parser.add_argument("--preset", type=Path, required=True, help="the demo model preset")
    parser.add_argument("--seed", type=int, default=0)
    defaults = TowerSettings()
    for field in dataclasses.fields(TowerSettings):
        default = getattr(defaults, field.name)
        kind = _switch if isinstance(default, bool) else type(default)
        parser.add_argument("--" + field.name.replace("_", "-"), type=kind, default=default)
    return parser


def settings_arguments(settings: TowerSettings) -> list[str]:
    """The command-line flags that give ``settings`` (what `parse_settings` reads back)."""
    flags = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        flags.append(f"--{field.name.replace('_', '-')}={int(value) if isinstance(value, bool) else value}")
    return flags


def _switch(text: str) -> bool:
    if text.lower() not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError(text)
    return text.lower() in ("1", "true", "yes")


def parse_settings(argv: list[str] | None = None):
    """The command line's arguments and its `TowerSettings`."""
    args = _parser().parse_args(argv)
    return args, TowerSettings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TowerSettings)})


def main(argv: list[str] | None = None) -> int:
    """``python -m ov_vlm.demo.tower DATA OUT``: the demo's step 3 on its own (``ov-vlm demo`` runs it so)."""
    args, settings = parse_settings(argv)
    prefer_cpu_deepspeed()  # the model code imports transformers, which imports DeepSpeed
    report = pretrain_tower(args.data, args.out, args.preset, args.codec_cache, args.seed, settings)
    print(summary_line(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
