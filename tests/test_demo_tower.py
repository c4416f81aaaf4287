"""The demo's tower pretraining: clusters true to the world's ground truth, a left-right mirror that is a real flip
of the input, and a short run that trains the tower and projector only and saves a model folder stage 1 loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ov_vlm.codec import CodecCache
from ov_vlm.demo.pipeline import MODEL_PRESET
from ov_vlm.demo.tower import (
    ATTRIBUTES,
    CELL_ATTRIBUTES,
    UNLABELLED,
    ClusterHeads,
    TowerSettings,
    cell_targets,
    clusters,
    mirrored,
    parse_settings,
    pretrain_tower,
    settings_arguments,
)
from ov_vlm.demo.world import COLORS, SHAPES, Scene, WorldSpec, generate_world, qa_pairs, render
from ov_vlm.model import OVVLMForConditionalGeneration
from ov_vlm.model.builder import from_preset
from ov_vlm.utils.jsonl import read_jsonl

SMALL = WorldSpec(frames=32, videos={"train": 10, "val": 1, "test": 6}, images={"train": 4, "val": 1, "test": 2})


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tower-world")
    generate_world(root, SMALL, seed=3, train_modes=("codec", "frames"))
    return root


def test_clusters_are_the_answers_of_the_clip(world):
    checked = set()
    for record in read_jsonl(world / "train.jsonl"):
        labels = clusters(record)
        for kind, answer in qa_pairs(record):
            key = {"image_colour": "colour", "image_shape": "shape", "first": "colour"}.get(kind, kind)
            assert ATTRIBUTES[key][labels[key]] == answer.lower(), (record["id"], kind)
            checked.add(kind)
        if "image" in record or len(record["truth"]["movers"]) == 2:
            assert labels["direction"] == labels["stops"] == UNLABELLED  # no such cluster for images, two movers
    assert {"colour", "shape", "direction", "stops", "image_colour", "image_shape"} <= checked


@pytest.mark.parametrize("mode", ["frames", "codec"])
def test_mirror_is_a_left_right_flip_of_the_input(world, mode):
    _, processor = from_preset(MODEL_PRESET)
    processor = processor.with_overrides(codec_cache=CodecCache(world / "cache"), video_mode=mode)
    record = next(r for r in read_jsonl(world / "test.jsonl") if "video" in r)
    visual = processor.encode_llava(record, world).visuals[0]
    flipped = mirrored(visual)
    assert torch.equal(mirrored(flipped).pixel_values, visual.pixel_values)
    assert torch.equal(mirrored(flipped).positions, visual.positions)
    rows, cols = visual.layout.rows, visual.layout.cols
    patch = visual.pixel_values.shape[-1] // cols
    whole = visual.pixel_values.flip(-1)

    def tile(pixels, frame, row, col):
        return pixels[:, frame, row * patch : (row + 1) * patch, col * patch : (col + 1) * patch]

    for token, (t, h, w) in enumerate(flipped.positions.tolist()):
        frame, row, col = token // (rows * cols), (token // cols) % rows, token % cols
        assert [t, h, w] == [
            visual.positions[token, 0],
            visual.positions[token, 1],
            cols - 1 - visual.positions[token, 2],
        ]
        assert torch.equal(
            tile(flipped.pixel_values, frame, row, col), tile(visual.pixel_values, frame, row, col).flip(-1)
        )
        if mode == "frames":  # frames: the same tokens as the whole frame flipped
            assert torch.equal(tile(flipped.pixel_values, frame, row, col), tile(whole, frame, h, w))


def test_short_pretraining_trains_the_tower_only_and_saves_a_model(world, tmp_path):
    out = tmp_path / "tower"
    settings = TowerSettings(steps=4, batch_size=4, warmup_steps=1)
    report = pretrain_tower(world, out, MODEL_PRESET, world / "cache", seed=0, settings=settings)
    fresh, _ = from_preset(MODEL_PRESET, seed=0)
    trained = OVVLMForConditionalGeneration.from_pretrained(out)
    before, after = fresh.state_dict(), trained.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("language_model"))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("vision_tower"))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("multi_modal_projector"))
    saved = json.loads((out / "tower.json").read_text())
    assert saved == report and saved["train_visuals"] == len(read_jsonl(world / "train.jsonl"))
    for mode in ("codec", "frames"):
        accuracy = saved["held_out_accuracy"][mode]
        assert set(accuracy) == set(ATTRIBUTES) and all(0 <= a["accuracy"] <= 100 for a in accuracy.values())
        assert accuracy["colour"]["n"] == len(read_jsonl(world / "test.jsonl"))


@pytest.mark.parametrize("mode", ["frames", "codec"])
def test_cell_targets_point_at_the_shapes_drawn_there(world, mode):
    _, processor = from_preset(MODEL_PRESET)
    processor = processor.with_overrides(codec_cache=CodecCache(world / "cache"), video_mode=mode)
    labelled = 0
    for record in [r for r in read_jsonl(world / "test.jsonl") if "video" in r]:
        visual = processor.encode_llava(record, world).visuals[0]
        targets = cell_targets(record, visual)
        scene = Scene.from_truth(record["truth"])
        cell = scene.size // visual.layout.cols
        for token in torch.nonzero(targets["cell_colour"] < len(COLORS)).flatten().tolist():
            t, h, w = visual.positions[token].tolist()
            frame = render(scene, int(t * (scene.frames - 1) // 63))[
                h * cell : (h + 1) * cell, w * cell : (w + 1) * cell
            ]
            colour = list(COLORS)[targets["cell_colour"][token]]
            assert (np.abs(frame.astype(int) - COLORS[colour]).sum(axis=2) < 60).sum() >= 8, (record["id"], token)
            labelled += 1
        moving = targets["cell_motion"] == CELL_ATTRIBUTES["cell_motion"].index("moving")
        assert (targets["cell_colour"][moving] < len(COLORS)).all()
    assert labelled >= 20


def test_image_cell_targets_cover_the_shape(world):
    _, processor = from_preset(MODEL_PRESET)
    record = next(r for r in read_jsonl(world / "train.jsonl") if "image" in r)
    targets = cell_targets(record, processor.encode_llava(record, world).visuals[0])
    assert (targets["cell_shape"] < len(SHAPES)).sum() == 1  # the one cell holding the shape's centre
    assert CELL_ATTRIBUTES["cell_shape"][targets["cell_shape"].min()] == record["truth"]["shape"]


def test_command_line_gives_every_setting():
    args, settings = parse_settings(["d", "o", "--codec-cache", "c", "--preset", "p", "--steps=7", "--mirror=0"])
    assert settings == TowerSettings(steps=7, mirror=False) and args.data == Path("d")
    assert parse_settings(["d", "o", "--codec-cache", "c", "--preset", "p", "--cells", "true"])[1].cells is True
    with pytest.raises(SystemExit):
        parse_settings(["d", "o", "--codec-cache", "c", "--preset", "p", "--mirror=maybe"])
    chosen = TowerSettings(steps=5, batch_size=3, learning_rate=2e-4, mirror=False, cells=False)
    assert parse_settings(["d", "o", "--codec-cache", "c", "--preset", "p", *settings_arguments(chosen)])[1] == chosen


def test_cluster_heads_pool_each_visual_alone():
    """The attention pool reads only a visual's own tokens: the same logits alone or packed with longer visuals (the
    padding is masked), and moving one token's content changes only its own visual's logits."""
    torch.manual_seed(0)
    heads = ClusterHeads(32).eval()
    counts = [3, 7, 5]
    tokens = torch.randn(sum(counts), 32)
    packed = heads(tokens, counts)
    start = 0
    for k, count in enumerate(counts):
        alone = heads(tokens[start : start + count], [count])
        for key in ATTRIBUTES:
            assert packed[key].shape == (len(counts), len(ATTRIBUTES[key]))
            assert torch.allclose(packed[key][k], alone[key][0], atol=1e-5), (k, key)
        start += count
    changed = tokens.clone()
    changed[4] += 5.0  # a token of the second visual
    after = heads(changed, counts)
    assert torch.allclose(after["shape"][0], packed["shape"][0])
    assert torch.allclose(after["shape"][2], packed["shape"][2])
    assert not torch.allclose(after["shape"][1], packed["shape"][1])
