"""Bad and unusual inputs: one clear, one-line error each, or a documented result."""

from __future__ import annotations

import numpy as np
import pytest
from media import audio_only, moving_object_clip, texture, write_video

from ov_vlm.codec import CodecError, select_patches


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return moving_object_clip(tmp_path_factory.mktemp("inputs") / "good.mp4", count=32).path


def make_bad(kind: str, folder, good_path):
    path = folder / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":  # the moov atom is at the end of a plain MP4: cutting the tail loses the index
        path.write_bytes(good_path.read_bytes()[: good_path.stat().st_size // 2])
    elif kind == "text":
        path.write_text("this is a shopping list, not a video\n")
    elif kind == "audio":
        audio_only(path)
    elif kind == "missing":
        pass
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file (0 bytes)"),
        ("truncated", "corrupt, truncated or not a video file"),
        ("text", "corrupt, truncated or not a video file"),
        ("audio", "no video stream (it has audio streams)"),
        ("missing", "no such file"),
    ],
)
def test_bad_inputs_raise_one_clear_line(tmp_path, good, kind, reason):
    path = make_bad(kind, tmp_path, good)
    with pytest.raises(CodecError) as info:
        select_patches(path, canvas=224)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and reason in message
    assert "\n" not in message and info.value.path == str(path)


def test_directory_is_not_a_video(tmp_path):
    with pytest.raises(CodecError, match="is a directory"):
        select_patches(tmp_path)


def test_stream_truncated_after_its_index_keeps_the_decodable_frames(tmp_path):
    """A faststart MP4 cut mid-stream: the index promises more frames than the data holds."""
    frames = [np.roll(texture(128, 128, seed=1, block=16), 2 * i, axis=1) for i in range(48)]
    path = write_video(tmp_path / "faststart.mp4", frames, codec="h264_nob", faststart=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    selection = select_patches(cut, canvas=128, patch=16, frames=16)
    meta = selection.meta
    assert 0 < meta["decoded_frames"] < 48
    assert meta["missing_frames"] > 0  # slots past the last decodable frame reuse it
    assert selection.frame_ids.max() <= meta["decoded_frames"] - 1
    assert len(selection.positions) > 0
