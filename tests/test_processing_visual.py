"""Images and videos -> pixels, positions and token counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from media import moving_object_clip
from PIL import Image

from ov_vlm.codec import select_patches
from ov_vlm.processing import MediaError, VisualSpec, image_visual, video_visual
from ov_vlm.processing.image import best_pinpoint

OV = VisualSpec(image_pinpoints=((56, 112), (112, 56), (112, 112)), frame_size=56, codec={"canvas": 64, "patch": 16})


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return moving_object_clip(tmp_path_factory.mktemp("visual") / "clip.mp4", count=30).path


def test_best_pinpoint_is_llava_select_best_resolution():
    pinpoints = [(574, 1120), (1120, 574), (1120, 1120), (1694, 574), (574, 1694)]
    assert best_pinpoint(1920, 1080, pinpoints) == (1120, 1120)  # keeps the most resolution
    assert best_pinpoint(1200, 600, pinpoints) == (1694, 574)  # 1148 x 574 kept beats 1120 x 560
    # a small image fits everywhere: equal resolution, then equal waste (same area) -> the first listed, as LLaVA
    assert best_pinpoint(400, 200, pinpoints) == (574, 1120)
    assert best_pinpoint(300, 1000, pinpoints) == (574, 1120)  # fits both tall canvases: the smaller wastes less
    assert best_pinpoint(3000, 800, pinpoints) == (1694, 574)


def test_image_is_letterboxed_on_its_pinpoint_with_positions():
    image = Image.fromarray(np.full((60, 140, 3), 255, dtype=np.uint8))
    visual = image_visual(image, OV)
    assert visual.pixel_values.shape == (3, 56, 112) and visual.num_tokens == 4 * 8
    assert visual.positions.tolist()[:3] == [[0, 0, 0], [0, 0, 1], [0, 0, 2]]
    assert visual.positions[:, 0].eq(0).all() and visual.positions[-1].tolist() == [0, 3, 7]
    black = (0 - OV.mean[0]) / OV.std[0]
    assert torch.allclose(visual.pixel_values[0, 0, 0], torch.tensor(black))  # top row is padding (60/140 < 56/112)


def test_reference_pinpoints_are_the_default():
    spec = VisualSpec()
    assert spec.pinpoints()[0] == (574, 1120) and spec.frame_side() == 504
    assert VisualSpec(patch_size=16).pinpoints()[0] == (576, 1120) and VisualSpec(patch_size=16).frame_side() == 512
    merged = VisualSpec(token_merge=2)  # 574 = 41 patches: snapped to an even grid
    assert merged.pinpoints()[0] == (560, 1120)


def test_frames_sit_on_the_64_slot_time_grid(clip):
    visual = video_visual(str(clip), OV, mode="frames")
    assert visual.pixel_values.shape == (3, 8, 56, 56) and visual.num_tokens == 8 * 16
    assert torch.unique(visual.positions[:, 0]).tolist() == [0, 9, 18, 27, 36, 45, 54, 63]
    assert visual.info["frame_ids"] == np.floor(np.linspace(0, 29, 8)).astype(int).tolist()
    dense = video_visual(str(clip), OV, mode="dense")
    assert dense.pixel_values.shape[1] == 64 and torch.unique(dense.positions[:, 0]).tolist() == list(range(64))


def test_codec_video_uses_the_selection_positions(clip, tmp_path):
    visual = video_visual(str(clip), OV, mode="codec")
    assert visual.pixel_values.shape == (3, 8, 56, 56)  # 8 mosaics of 4x4 cells, 16-px cells -> 14-px patches
    selection = select_patches(clip, OV.codec_settings())
    assert torch.equal(visual.positions, torch.as_tensor(selection.positions, dtype=torch.long))
    assert visual.num_tokens == len(selection.positions) == 128
    folder = selection.save(tmp_path / "codec")  # a precomputed `ov-vlm codec` folder (JPEG, the default)
    from_folder = video_visual(str(folder), OV)
    assert torch.equal(from_folder.positions, visual.positions)
    assert torch.equal(from_folder.pixel_values, visual.pixel_values)  # the same pixels, saved or not
    llava_format = {
        "mosaics": sorted(str(p) for p in folder.glob("mosaic_*.jpg")),
        "positions": str(folder / "positions_thw.npy"),
    }
    assert torch.equal(video_visual(llava_format, OV).positions, visual.positions)


def test_non_positional_encoders_take_mosaics_as_images(clip):
    spec = VisualSpec(patch_size=16, positional=False, frame_size=64, codec={"canvas": 64, "patch": 16})
    visual = video_visual(str(clip), spec, mode="codec")
    assert visual.positions is None and visual.pixel_values.shape == (3, 8, 64, 64) and visual.num_tokens == 128


def test_bad_media_gives_one_line_errors(tmp_path):
    with pytest.raises(MediaError, match=r"missing\.mp4: no such file"):
        video_visual(str(tmp_path / "missing.mp4"), OV, mode="frames")
    (tmp_path / "bad.mp4").write_text("not a video")
    with pytest.raises(MediaError, match="not a video file"):
        video_visual(str(tmp_path / "bad.mp4"), OV, mode="codec")
    with pytest.raises(MediaError, match=r"nope\.png: no such image file"):
        image_visual(str(tmp_path / "nope.png"), OV)


def test_visual_spec_is_typed():
    with pytest.raises(ValueError, match=r"unknown visual setting\(s\) \['frame_sise'\]"):
        VisualSpec.from_dict({"frame_sise": 10})
    with pytest.raises(ValueError, match="video_mode"):
        VisualSpec(video_mode="fast")
    with pytest.raises(ValueError, match="unknown codec setting"):
        VisualSpec(codec={"budjet": 1})
    assert VisualSpec.from_dict(OV.to_dict()) == OV


def test_every_visual_carries_its_token_layout(clip):
    image = image_visual(Image.fromarray(np.zeros((60, 140, 3), dtype=np.uint8)), OV)
    assert image.layout.grid == (1, 4, 8) and image.layout.num_patches == 32 == image.num_tokens
    frames = video_visual(str(clip), OV, mode="frames")
    assert frames.layout.grid == (8, 4, 4) and frames.num_tokens == len(frames.positions)
    codec = video_visual(str(clip), OV, mode="codec")
    assert codec.layout.grid == (8, 4, 4) and codec.layout.num_patches == len(codec.positions)
    merged = video_visual(str(clip), OV.replace(token_merge=2), mode="codec")  # block=2: whole 2x2 blocks
    assert merged.layout.merge == 2 and merged.num_tokens == merged.layout.num_patches // 4


def test_the_spec_predicts_the_layout_it_produces(clip):
    for mode in ("frames", "dense", "codec"):  # the codec budget of OV is fixed (8 frames' worth of cells)
        assert OV.video_layout(mode) == video_visual(str(clip), OV, mode=mode).layout, mode
    largest = max(OV.pinpoints(), key=lambda size: size[0] * size[1])
    canvas = Image.fromarray(np.zeros((largest[1], largest[0], 3), dtype=np.uint8))
    assert OV.largest_image_layout() == image_visual(canvas, OV).layout
