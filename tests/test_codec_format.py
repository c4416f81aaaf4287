"""Output format of codec selection: positions, mosaics, frame ids, metadata, files (reference-compatible)."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from media import moving_object_clip, texture, write_video

from ov_vlm.codec import CodecCache, CodecSelection, CodecSettings, select_patches
from ov_vlm.codec.packing import unpack


def decoded_frames(path) -> list[np.ndarray]:
    """Every frame as RGB, decoded independently of ov_vlm."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def source_patch(canvas_frames, t_slot_to_index, position, patch):
    t, h, w = (int(v) for v in position)
    frame = canvas_frames[t_slot_to_index[t]]
    return frame[h * patch : (h + 1) * patch, w * patch : (w + 1) * patch]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return moving_object_clip(tmp_path_factory.mktemp("fmt") / "clip.mp4")


def test_reference_defaults_give_the_reference_format(clip):
    selection = select_patches(clip.path)  # 64 frames, canvas 576, patch 16, K = 8 x 1296
    positions = selection.positions
    assert positions.dtype == np.int32 and positions.shape == (10368, 3)
    assert np.array_equal(np.lexsort(positions.T[::-1]), np.arange(10368))  # raster: t, then h, then w
    first = positions[:1296]
    assert (first[:, 0] == 0).all()
    assert np.array_equal(first[:, 1] * 36 + first[:, 2], np.arange(1296))  # frame 0 whole, raster order
    assert positions[:, 0].max() <= 63 and positions[:, 1:].max() <= 35
    assert selection.mosaics.shape == (8, 576, 576, 3) and selection.mosaics.dtype == np.uint8
    assert np.array_equal(selection.mosaics[0], selection.frames[0])  # mosaic 0 is the first frame
    assert selection.frame_ids.dtype == np.int32
    assert selection.frame_ids.tolist() == np.floor(np.linspace(0, 63, 64)).astype(int).tolist()
    order = selection.selection_order
    assert order.shape == (10368, 3) and (order[:1296, 0] == 0).all()
    assert {tuple(p) for p in order.tolist()} == {tuple(p) for p in positions.tolist()}
    meta = selection.meta
    assert meta["K"] == 10368 and meta["num_mosaics"] == 8 and meta["mandatory"] == 1296
    assert meta["canvas"]["cells_per_side"] == 36 and meta["canvas"]["valid_cells"] == 1296
    assert meta["video"]["codec"] == "h264" and meta["video"]["transcoded"] is False
    assert meta["settings"]["budget"] is None and meta["settings"]["canvas"] == 576


@pytest.mark.parametrize("size", [(224, 224), (160, 224)], ids=["square", "landscape"])
def test_png_mosaics_reassemble_exactly_into_the_source_patches(tmp_path, size):
    """Canvas = long side, so letterboxing is a pure zero-pad; every mosaic patch must be the source patch."""
    height, width = size
    clip = moving_object_clip(tmp_path / "clip.mp4", size=(height, width), count=40)
    selection = select_patches(clip.path, canvas=224, patch=16, budget=600, image_format="png")
    frames = decoded_frames(clip.path)
    top = (224 - height) // 2
    canvases = []
    for frame_id in selection.frame_ids:
        canvas = np.zeros((224, 224, 3), dtype=np.uint8)
        canvas[top : top + height, :width] = frames[frame_id]
        canvases.append(canvas)
    slot_to_index = {int(s): i for i, s in enumerate(selection.meta["t_slots"])}

    saved = CodecSelection.load(selection.save(tmp_path / "out"))
    assert saved.meta["mosaic_files"][0] == "mosaic_000.png"
    for source in (selection, saved):
        patches = unpack(source.mosaics, len(source.positions), 16)
        for patch, position in zip(patches, source.positions, strict=True):
            assert np.array_equal(patch, source_patch(canvases, slot_to_index, position, 16))
    meta = selection.meta["canvas"]
    assert (meta["pad_top"], meta["content_height"], meta["content_width"]) == (top, height, width)
    assert meta["valid_rows"] == [top // 16, (top + height) // 16]


def test_partial_last_mosaic_holds_its_patches_first_then_black(clip):
    selection = select_patches(clip.path, canvas=224, patch=16, budget=500)
    assert selection.meta["num_mosaics"] == 3 and len(selection.positions) == 500
    tail = unpack(selection.mosaics, 3 * 196, 16)[500:]
    assert tail.max() == 0


def test_save_load_round_trip_and_jpeg(tmp_path, clip):
    selection = select_patches(clip.path, canvas=224, patch=16, mosaics=2)
    folder = selection.save(tmp_path / "jpg")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "frame_ids.npy",
        "meta.json",
        "mosaic_000.jpg",
        "mosaic_001.jpg",
        "positions_thw.npy",
        "visidx_thw.npy",
    ]
    loaded = CodecSelection.load(folder)
    assert np.array_equal(loaded.positions, selection.positions) and loaded.positions.dtype == np.int32
    assert np.array_equal(loaded.frame_ids, selection.frame_ids)
    assert np.array_equal(loaded.selection_order, selection.selection_order)
    error = np.abs(loaded.mosaics.astype(int) - selection.mosaics.astype(int)).mean()
    assert error < 9  # quality 95, 4:2:0 chroma as the reference writes: 7.1 here, saturated colours side by side
    lossless = CodecSelection.load(selection.save(tmp_path / "png", image_format="png"))
    assert np.array_equal(lossless.mosaics, selection.mosaics)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["K"] == 392 and meta["video"]["path"] == str(clip.path)
    images = selection.images
    assert len(images) == 2 and images[0].size == (224, 224)
    with pytest.raises(FileNotFoundError, match="not a codec selection folder"):
        CodecSelection.load(tmp_path)


def test_block_2_packs_whole_2x2_blocks(clip):
    selection = select_patches(clip.path, canvas=224, patch=16, budget=700, block=2)
    positions = selection.positions
    assert len(positions) % 196 == 0 and len(positions) >= 700  # rounded up to whole mosaics
    tokens = positions.reshape(-1, 7, 2, 7, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(-1, 4, 3)
    for group in tokens:  # each 2x2 token group of a mosaic is one 2x2 block of one frame
        t, h, w = group[0]
        assert h % 2 == 0 and w % 2 == 0
        assert group.tolist() == [[t, h, w], [t, h, w + 1], [t, h + 1, w], [t, h + 1, w + 1]]
    heads = tokens[:, 0]
    assert np.array_equal(np.lexsort((heads[:, 2], heads[:, 1], heads[:, 0])), np.arange(len(heads)))
    frames = selection.frames
    slot_to_index = {int(s): i for i, s in enumerate(selection.meta["t_slots"])}
    patches = unpack(selection.mosaics, len(positions), 16)
    for patch, position in zip(patches, positions, strict=True):
        assert np.array_equal(patch, source_patch(frames, slot_to_index, position, 16))


def test_mosaics_are_letterboxed_when_scaling(tmp_path):
    frames = [texture(120, 200, seed=i % 3) for i in range(20)]
    path = write_video(tmp_path / "wide.mp4", frames)
    selection = select_patches(path, canvas=224, patch=16, mosaics=2)
    canvas = selection.meta["canvas"]
    assert (canvas["content_width"], canvas["content_height"]) == (224, 134)
    assert canvas["pad_top"] == (224 - 134) // 2 and canvas["pad_left"] == 0
    first = selection.mosaics[0]
    assert first[: canvas["pad_top"]].max() == 0 and first[canvas["pad_top"] + 134 :].max() == 0
    assert first[canvas["pad_top"] + 5 : canvas["pad_top"] + 120].mean() > 40


def test_the_cache_gives_the_same_pixels_computed_or_read_back(clip, tmp_path):
    """Entries are JPEG q95 4:2:0 by default (the reference's training mosaics): a miss returns what a later hit
    reads, so a video's pixels never depend on whether it was cached; PNG settings keep the exact mosaics."""
    settings = CodecSettings(canvas=224, patch=16, mosaics=2)
    cache = CodecCache(tmp_path / "cache")
    computed, read_back = cache.select(clip.path, settings), cache.select(clip.path, settings)
    assert (cache.misses, cache.hits) == (1, 1)
    assert np.array_equal(computed.mosaics, read_back.mosaics)
    assert np.array_equal(select_patches(clip.path, settings).stored().mosaics, read_back.mosaics)  # no cache
    assert np.array_equal(computed.positions, read_back.positions)
    (entry,) = (tmp_path / "cache").iterdir()
    assert sorted(p.name for p in entry.glob("mosaic_*")) == ["mosaic_000.jpg", "mosaic_001.jpg"]
    lossless = CodecCache(tmp_path / "png").select(clip.path, settings.replace(image_format="png"))
    assert np.array_equal(lossless.mosaics, select_patches(clip.path, settings).mosaics)
