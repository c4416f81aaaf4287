"""The frozen tower cache: the same training as without it, bit for bit, with the tower run once per visual; and
the conditions it refuses (a training tower, dropout, ZeRO-3, a tower trained in the recipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from media import moving_object_clip
from PIL import Image
from vlm_helpers import tiny_vlm

from ov_vlm.model.feature_cache import FrozenTowerCache, visual_key
from ov_vlm.train.parts import apply_freeze_policy
from ov_vlm.train.recipe import RecipeError, load_recipe


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """Two batches of a mixed set (two clips in codec and frames mode, three images of two sizes), in another order
    and grouping the second time: the second pass meets every visual again, beside other ones."""
    root = tmp_path_factory.mktemp("cache")
    clips = [moving_object_clip(root / f"clip{i}.mp4", count=24, seed=i).path for i in range(2)]
    rng = np.random.default_rng(0)
    sizes = ((60, 90), (90, 60), (70, 70))
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in sizes]
    visuals = [{"type": "video", "video": str(c), "mode": m} for c in clips for m in ("codec", "frames")]
    visuals += [{"type": "image", "image": image} for image in images]
    samples = [
        [
            {"role": "user", "content": [visual, {"type": "text", "text": "What is it?"}]},
            {"role": "assistant", "content": f"Answer {i}."},
        ]
        for i, visual in enumerate(visuals)
    ]
    _, processor = tiny_vlm()
    encoded = [processor.encode(messages) for messages in samples]
    groups = ([0, 2, 4], [3, 5, 6], [6, 2, 0, 1], [5, 4, 3, 1])
    return [processor.collate([encoded[i] for i in group]) for group in groups]


def train(model, batches, steps: int = 2) -> list[float]:
    """``steps`` passes of AdamW over ``batches``: the losses."""
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(steps):
        for batch in batches:
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    return losses


def frozen_tower_model():
    model, _ = tiny_vlm()
    apply_freeze_policy(model, ["projector", "language_model"])
    return model


def test_training_with_the_cache_is_bit_identical_and_runs_the_tower_once_per_visual(batches):
    plain, cached = frozen_tower_model(), frozen_tower_model()
    cache = cached.enable_frozen_tower_cache(64)
    tower_batches, tower = [], cached.vision_tower.get_visual_features

    def counted(pixel_values, positions, layer):
        tower_batches.append(len(pixel_values))
        return tower(pixel_values, positions, layer=layer)

    cached.vision_tower.get_visual_features = counted
    assert train(plain, batches) == train(cached, batches)
    for (name, a), b in zip(plain.state_dict().items(), cached.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert len(cache) == 7 and cache.misses == 7 and cache.hits == 2 * 14 - 7
    # pass 1: batches 1 and 2 are new, batch 3 has one new visual (index 1) beside seen ones; pass 2: all seen
    assert tower_batches == [3, 3, 1]


def test_a_full_cache_computes_the_rest_each_time(batches):
    model = frozen_tower_model()
    cache = model.enable_frozen_tower_cache(1)
    cache.budget_bytes = 64 * model.config.vision_config.hidden_size * 4 * 2  # two visuals of 64 fp32 tokens
    reference = frozen_tower_model()
    assert train(model, batches, steps=1) == train(reference, batches, steps=1)
    assert 0 < len(cache) < 7 and cache.used_bytes <= cache.budget_bytes


def test_the_key_follows_the_content():
    pixels, positions = torch.rand(3, 2, 28, 28), torch.zeros(8, 3, dtype=torch.long)
    key = visual_key(pixels, positions)
    assert visual_key(pixels.clone(), positions.clone()) == key
    changed = pixels.clone()
    changed[0, 1, 5, 5] += 1e-6
    assert visual_key(changed, positions) != key
    moved = positions.clone()
    moved[3, 0] = 1
    assert visual_key(pixels, moved) != key and visual_key(pixels, None) != key
    assert visual_key(pixels.double(), positions) != key


def test_the_cache_refuses_a_tower_that_changes():
    model, _ = tiny_vlm()
    with pytest.raises(ValueError, match="frozen vision tower"):
        model.enable_frozen_tower_cache(64)  # every part trains
    model = frozen_tower_model()
    model.enable_frozen_tower_cache(64)
    next(model.vision_tower.parameters()).requires_grad_(True)  # unfrozen after it was enabled
    with pytest.raises(ValueError, match="frozen vision tower"):
        model.get_visual_features([torch.zeros(3, 28, 28)])
    dropout = frozen_tower_model()
    dropout.config.vision_config.attention_dropout = 0.1
    with pytest.raises(ValueError, match="dropout"):
        dropout.enable_frozen_tower_cache(64)  # in eval mode now, but about to train
    sharded = frozen_tower_model()
    next(sharded.vision_tower.parameters()).ds_id = 0  # how ZeRO-3 marks a partitioned weight
    with pytest.raises(ValueError, match="ZeRO-3"):
        sharded.enable_frozen_tower_cache(64)
    with pytest.raises(ValueError, match="positive"):
        FrozenTowerCache(0)


def test_the_cache_is_not_saved(tmp_path):
    model = frozen_tower_model()
    model.enable_frozen_tower_cache(64)
    model.get_visual_features([torch.zeros(3, 28, 28)])
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path)
    assert loaded.frozen_tower_cache is None
    assert "frozen_tower_cache" not in (tmp_path / "config.json").read_text()


def test_recipes_that_cannot_cache_a_frozen_tower_are_rejected(tmp_path):
    demo = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "stage2_sft.yaml"
    recipe, _ = load_recipe(demo)
    assert recipe.train.frozen_tower_cache_mb > 0
    with pytest.raises(RecipeError, match="trainable has vision_tower"):
        load_recipe(demo, ["train.trainable=[vision_tower, projector, language_model]"])
    with pytest.raises(RecipeError, match="ZeRO stage"):
        load_recipe(demo, ["deepspeed=../deepspeed/zero3.json"])
    with pytest.raises(RecipeError, match=">= 0"):
        load_recipe(demo, ["train.frozen_tower_cache_mb=-1"])
    assert load_recipe(demo, ["train.frozen_tower_cache_mb=0", "deepspeed=../deepspeed/zero3.json"])[0]


def test_the_recipe_key_turns_the_cache_on_for_the_stage_model():
    from ov_vlm.train.run import cache_frozen_tower, freeze_for_stage

    demo = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "stage1_align.yaml"
    recipe, _ = load_recipe(demo)
    model, _ = tiny_vlm()
    cache_frozen_tower(freeze_for_stage(model, recipe), recipe)
    assert model.frozen_tower_cache.budget_bytes == recipe.train.frozen_tower_cache_mb * 2**20
    off, _ = load_recipe(demo, ["train.frozen_tower_cache_mb=0"])
    other, _ = tiny_vlm()
    cache_frozen_tower(freeze_for_stage(other, off), off)
    assert other.frozen_tower_cache is None
