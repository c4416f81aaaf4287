"""The media layer: one time grid for both video modes, frame sampling, frame reading and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from media import moving_object_clip, texture

from ov_vlm.codec import CodecError
from ov_vlm.media import VideoError, count_frames, encode_frames, read_frames, sample_frame_ids, time_slots
from ov_vlm.processing.visual import VisualSpec


def test_time_slots_spread_frames_over_the_64_slot_grid():
    assert time_slots(8).tolist() == [0, 9, 18, 27, 36, 45, 54, 63]
    assert time_slots(64).tolist() == list(range(64))
    assert time_slots(1).tolist() == [0]
    assert time_slots(100).tolist() == list(range(100))  # never two frames on one slot


def test_frames_mode_and_codec_mode_share_the_grid():
    spec = VisualSpec()
    for count in (1, 8, 16, 64):
        assert spec.slots(count).tolist() == time_slots(count).tolist()
    assert VisualSpec(temporal_slots=32).slots(4).tolist() == [0, 10, 20, 31]


def test_sample_frame_ids_cover_the_whole_video_and_repeat_on_short_ones():
    assert sample_frame_ids(100, 4).tolist() == [0, 33, 66, 99]
    assert sample_frame_ids(3, 5).tolist() == [0, 0, 1, 1, 2]


def test_encode_and_read_back(tmp_path):
    frames = [np.roll(texture(48, 64, seed=1), 4 * i, axis=1) for i in range(12)]
    path = encode_frames(tmp_path / "clip.mp4", frames, options={"bf": "0"}, fps=12)
    assert count_frames(path) == 12
    read, ids = read_frames(path, 4)
    assert ids.tolist() == [0, 3, 7, 11]
    assert [f.shape for f in read] == [(48, 64, 3)] * 4
    assert np.abs(read[1].astype(int) - frames[3].astype(int)).mean() < 12  # the right frame, up to coding error


def test_read_frames_errors_name_the_file(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoError) as caught:
        read_frames(bad, 4)
    message = str(caught.value)
    assert message.startswith(str(bad)) and "\n" not in message
    with pytest.raises(CodecError):  # the codec layer's name for the same failures
        read_frames(tmp_path / "missing.mp4", 4)


def test_codec_positions_use_the_same_time_grid(tmp_path):
    from ov_vlm.codec import select_patches

    clip = moving_object_clip(tmp_path / "move.mp4", count=24)
    selection = select_patches(clip.path, canvas=64, patch=16, frames=8, profile="robust")
    assert set(np.unique(selection.positions[:, 0]).tolist()) <= set(time_slots(8).tolist())
