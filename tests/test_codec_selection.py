"""Codec saliency and selection on synthetic videos whose ground truth the tests know.

These run the ``robust`` profile (the scoring made for synthetic clips); the reference profile is measured on real
footage in test_codec_reference.py and test_codec_real.py.
"""

from __future__ import annotations

import av
import numpy as np
import pytest
from media import cells_touching, moving_object_clip, static_clip, write_video

from ov_vlm.codec import CodecSettings
from ov_vlm.codec import select_patches as select_default


def select_patches(video, **settings):
    """The robust profile unless a test asks for another."""
    return select_default(video, **{"profile": "robust", **settings})


CANVAS, PATCH = 224, 16  # identity letterbox for 224 x 224 clips: canvas cells are frame cells
CELLS = CANVAS // PATCH


def track_cells(clip, selection) -> set[tuple[int, int, int]]:
    """(t, h, w) of every cell the object touches at each sampled frame t >= 1 (or one frame earlier: blur)."""
    track = set()
    for t, frame_id in enumerate(selection.frame_ids.tolist()):
        if t == 0:
            continue
        for fid in (frame_id, max(0, frame_id - 1)):
            track |= {(t, h, w) for h, w in cells_touching(clip.boxes[fid], PATCH, CELLS)}
    return track


def on_track_share(clip, selection) -> float:
    kept = selection.selection_order[selection.meta["mandatory"] :]
    track = track_cells(clip, selection)
    return float(np.mean([(int(t), int(h), int(w)) in track for t, h, w in kept]))


def select_track_budget(clip, **settings):
    """Select with the budget = first frame + the size of the object's true track."""
    probe = select_patches(clip.path, canvas=CANVAS, patch=PATCH, budget=CELLS * CELLS + 1, **settings)
    size = len(track_cells(clip, probe))
    return select_patches(clip.path, canvas=CANVAS, patch=PATCH, budget=CELLS * CELLS + size, **settings)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    return {
        "h264": moving_object_clip(root / "object_h264.mp4", codec="h264"),
        "mpeg4": moving_object_clip(root / "object_mpeg4.mp4", codec="mpeg4"),
        "hevc": moving_object_clip(root / "object_hevc.mp4", codec="hevc"),
        "pan": moving_object_clip(root / "object_pan.mp4", codec="h264", pan=(2, 1)),
        "static": static_clip(root / "static.mp4"),
    }


@pytest.mark.parametrize("codec", ["h264", "mpeg4", "hevc"])
def test_kept_patches_follow_the_moving_object(clips, codec):
    selection = select_track_budget(clips[codec])
    assert selection.meta["static"] is False
    assert on_track_share(clips[codec], selection) >= 0.9


def test_camera_pan_is_compensated_and_the_object_still_found(clips):
    clip = clips["pan"]
    compensated = select_track_budget(clip, compensation="median")
    raw = select_track_budget(clip, compensation="none")
    assert on_track_share(clip, compensated) >= 0.8
    assert on_track_share(clip, raw) < on_track_share(clip, compensated) - 0.1  # without it the pan wins
    for model in ("similarity", "affine"):
        assert on_track_share(clip, select_track_budget(clip, compensation=model)) >= 0.8


def test_robust_profile_keeps_the_object_through_a_camera_pan_where_the_reference_scoring_drifts(clips):
    """What the robust profile buys on synthetic footage: entering-cell masking and floors keep a pan's border
    and coding noise out of the picks."""
    clip = clips["pan"]
    robust = on_track_share(clip, select_track_budget(clip))
    reference = on_track_share(clip, select_track_budget(clip, profile="reference"))
    assert robust >= 0.8 and robust > reference


def test_both_profiles_letterbox_the_frames_alike(clips):
    """A profile changes which patches are picked, not how they look: the same canvases, other picks."""
    robust, reference = (select_default(clips["pan"].path, profile=name) for name in ("robust", "reference"))
    assert np.array_equal(robust.frames, reference.frames) and robust.frames.any()
    assert not np.array_equal(robust.positions, reference.positions)


def test_robust_profile_is_one_setting():
    robust = CodecSettings(profile="robust")
    assert (robust.mv_floor, robust.residual_floor, robust.min_saliency, robust.static_fallback) == (
        1.0,
        6.0,
        0.02,
        True,
    )
    reference = CodecSettings()
    assert reference.profile == "reference" and reference.min_saliency == 0.0 and reference.static_fallback is False
    assert reference.replace(profile="robust") == robust and robust.replace(profile="reference") == reference


def test_hevc_goes_through_the_h264_transcode(clips):
    selection = select_patches(clips["hevc"].path, canvas=CANVAS, patch=PATCH)
    video = selection.meta["video"]
    assert video["source_codec"] == "hevc" and video["codec"] == "h264" and video["transcoded"] is True
    assert selection.meta["frames_with_motion_vectors"] > 50
    assert selection.meta["video"]["num_frames"] == 64


def test_direct_codecs_are_not_transcoded(clips, tmp_path):
    mpeg4 = moving_object_clip(tmp_path / "object_mpeg4_nob.mp4", codec="mpeg4_nob", count=16)
    for path in (clips["h264"].path, mpeg4.path):
        video = select_patches(path, canvas=CANVAS, patch=PATCH, frames=16, mosaics=2).meta["video"]
        assert video["transcoded"] is False and video["codec"] == video["source_codec"]


def test_mpeg4_with_b_frames_goes_through_the_h264_transcode(clips):
    """FFmpeg exports only zero vectors for MPEG-4 Part 2 B-VOPs (if this canary fails, a release now exports
    them and the transcode can go): such a stream is transcoded, and its B-frames then have motion."""
    with av.open(str(clips["mpeg4"].path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags2": "+export_mvs"}
        b_frames = [frame for frame in container.decode(stream) if frame.pict_type == av.video.frame.PictureType.B]
    vectors = np.concatenate([frame.side_data["MOTION_VECTORS"].to_ndarray() for frame in b_frames])
    assert len(b_frames) > 30 and len(vectors) > 1000
    assert not np.any((vectors["src_x"] != vectors["dst_x"]) | (vectors["src_y"] != vectors["dst_y"]))
    selection = select_patches(clips["mpeg4"].path, canvas=CANVAS, patch=PATCH)
    video = selection.meta["video"]
    assert video["source_codec"] == "mpeg4" and video["codec"] == "h264" and video["transcoded"] is True
    assert selection.meta["frames_with_motion_vectors"] > 50  # all but the transcode's I-frames


def test_static_clip_falls_back_to_uniform_whole_frames(clips):
    selection = select_patches(clips["static"].path, canvas=CANVAS, patch=PATCH, mosaics=4)
    meta = selection.meta
    assert meta["static"] is True and meta["motion_share"] < 0.002
    assert len(meta["fallback_frames"]) == 3  # 4 mosaics: the first frame plus 3 spread-out whole frames
    kept_t = np.unique(selection.positions[:, 0])
    assert len(kept_t) == 4 and kept_t[0] == 0
    assert np.all(np.diff(kept_t) >= 15)  # spread over the clip, not the first frames
    disabled = select_patches(clips["static"].path, canvas=CANVAS, patch=PATCH, mosaics=4, static_fallback=False)
    assert disabled.meta["fallback_frames"] == []


def test_moving_clip_does_not_trigger_the_fallback(clips):
    assert select_patches(clips["h264"].path, canvas=CANVAS, patch=PATCH).meta["fallback_frames"] == []


def test_leftover_budget_becomes_spread_out_whole_frames(clips):
    """Once motion runs out, ties are broken by whole frames spread over the clip, not the first frames."""
    selection = select_patches(clips["h264"].path, canvas=CANVAS, patch=PATCH, mosaics=12)
    per_t = np.bincount(selection.positions[:, 0], minlength=64)
    full = set(np.nonzero(per_t == CELLS * CELLS)[0].tolist())
    assert len(full) >= 4 and {0, 16, 32, 48} <= full  # spread order: 32, 16, 48, 8, 40, ...
    assert not {1, 2, 3} & full


def test_budget_as_ratio_absolute_and_auto(clips):
    path = clips["h264"].path
    total = 64 * CELLS * CELLS
    assert select_patches(path, canvas=CANVAS, patch=PATCH, budget=0.125).meta["K"] == round(0.125 * total)
    assert select_patches(path, canvas=CANVAS, patch=PATCH, budget=1000).meta["K"] == 1000
    auto = select_patches(path, canvas=CANVAS, patch=PATCH, budget="auto")
    assert 0.031 * total <= auto.meta["K"] <= 0.25 * total
    assert auto.meta["K"] < round(0.125 * total)  # a small moving object needs less than the reference budget
    busy = select_patches(clips["pan"].path, canvas=CANVAS, patch=PATCH, budget="auto", compensation="none")
    assert busy.meta["K"] > auto.meta["K"]  # uncompensated pan: saliency everywhere, more patches


def test_bucket_topk_spreads_the_budget_over_time(clips):
    path = clips["h264"].path
    buckets = select_patches(path, canvas=CANVAS, patch=PATCH, budget=600, topk="bucket", buckets=4)
    kept = buckets.selection_order[buckets.meta["mandatory"] :]
    counts = np.bincount(np.digitize(kept[:, 0], [16, 32, 48]), minlength=4)
    assert counts.sum() == 600 - CELLS * CELLS
    assert counts.max() - counts.min() <= 20


def test_first_frame_none_selects_everything_by_score(clips):
    selection = select_patches(clips["h264"].path, canvas=CANVAS, patch=PATCH, budget=500, first_frame="none")
    assert selection.meta["mandatory"] == 0
    assert (selection.positions[:, 0] == 0).sum() < CELLS * CELLS


def test_budget_smaller_than_the_kept_first_frame_is_a_clear_error(clips):
    from ov_vlm.codec import CodecError

    with pytest.raises(CodecError, match="smaller than the kept first frame"):
        select_patches(clips["h264"].path, canvas=CANVAS, patch=PATCH, budget=50)


@pytest.mark.parametrize("count", [1, 3, 20])
def test_short_videos_repeat_frame_ids_and_never_select_a_repeat_twice(tmp_path, count):
    clip = moving_object_clip(tmp_path / f"short{count}.mp4", count=count, velocity=(6, 3))
    selection = select_patches(clip.path, canvas=CANVAS, patch=PATCH)
    meta = selection.meta
    assert selection.frame_ids.tolist() == np.floor(np.linspace(0, count - 1, 64)).astype(int).tolist()
    assert meta["distinct_frames"] == count
    # at most every cell of every distinct frame; no (t, h, w) content picked twice
    assert meta["K"] <= count * CELLS * CELLS
    distinct_slots = {
        int(s)
        for s, keep in zip(meta["t_slots"], [True, *list(np.diff(selection.frame_ids) != 0)], strict=True)
        if keep
    }
    assert set(selection.positions[:, 0].tolist()) <= distinct_slots
    assert len({tuple(p) for p in selection.positions.tolist()}) == meta["K"]
    if count == 1:
        assert meta["K"] == CELLS * CELLS and meta["static"] is True  # a single image: its one full frame


def test_frames_fewer_than_64_use_the_64_slot_time_grid(clips):
    selection = select_patches(clips["h264"].path, canvas=CANVAS, patch=PATCH, frames=8, budget=0.5)
    assert selection.meta["t_slots"] == [0, 9, 18, 27, 36, 45, 54, 63]
    assert set(np.unique(selection.positions[:, 0]).tolist()) <= {0, 9, 18, 27, 36, 45, 54, 63}


def test_vp9_input_works_through_the_transcode(tmp_path):
    frames = moving_object_clip(tmp_path / "ref.mp4", count=24).frames
    path = write_video(tmp_path / "clip.webm", frames, codec="vp9")
    selection = select_patches(path, canvas=CANVAS, patch=PATCH, frames=16, mosaics=2)
    assert selection.meta["video"]["source_codec"] == "vp9" and selection.meta["video"]["transcoded"]


def test_settings_reject_unknown_and_invalid_values():
    with pytest.raises(ValueError, match=r"unknown codec setting\(s\) \['budjet'\]"):
        CodecSettings.from_dict({"budjet": 5})
    with pytest.raises(ValueError, match="unknown codec setting"):
        select_patches("unused.mp4", budjet=5)
    with pytest.raises(ValueError, match="ratio budget"):
        CodecSettings(budget=1.5)
    with pytest.raises(ValueError, match="multiple of patch"):
        CodecSettings(canvas=500)
    with pytest.raises(ValueError, match="block"):
        CodecSettings(block=3)


def test_reference_profile_takes_every_camera_model(clips):
    picks = {
        model: select_patches(clips["pan"].path, canvas=CANVAS, patch=PATCH, profile="reference", compensation=model)
        for model in ("median", "similarity", "none")
    }
    assert all(selection.meta["K"] == 8 * CELLS * CELLS for selection in picks.values())
    assert not np.array_equal(picks["median"].selection_order, picks["none"].selection_order)


def test_residual_window_trades_the_drift_chain_for_speed(clips):
    path = clips["h264"].path
    full = select_patches(path, canvas=CANVAS, patch=PATCH, profile="reference")
    wide = select_patches(path, canvas=CANVAS, patch=PATCH, profile="reference", residual_window=1000)
    short = select_patches(path, canvas=CANVAS, patch=PATCH, profile="reference", residual_window=1, frames=16)
    assert np.array_equal(full.selection_order, wide.selection_order)
    assert short.meta["K"] == full.meta["K"] and short.meta["settings"]["residual_window"] == 1
