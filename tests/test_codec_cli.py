"""``ov-vlm codec``: batch, parallel, resumable, failures listed, visualisation, summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from media import audio_only, moving_object_clip, static_clip
from PIL import Image

from ov_vlm.cli.main import main
from ov_vlm.codec.batch import folder_name


def cli(*args: str) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).parent / "ov-vlm"
    return subprocess.run([str(executable), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    videos = root / "videos"
    videos.mkdir()
    good = [
        moving_object_clip(videos / "a.mp4", count=24).path,
        moving_object_clip(videos / "nested_b.mp4", count=24, codec="mpeg4").path,
        static_clip(root / "c.mp4", count=16).path,
    ]
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("not a video")
    (root / "cut.mp4").write_bytes(good[0].read_bytes()[:3000])
    audio_only(root / "voice.mp4")
    listing = root / "list.txt"
    listing.write_text("# one per line, relative to this file\nc.mp4\nmissing.mp4\n")
    return root, good, listing


def test_batch_keeps_going_lists_failures_and_resumes(tmp_path, inputs):
    root, good, listing = inputs
    out = tmp_path / "out"
    bad = ["empty.mp4", "notes.mp4", "cut.mp4", "voice.mp4"]
    args = [str(root / "videos"), str(listing), *(str(root / name) for name in bad)]
    common = ["--out", str(out), "--canvas", "224", "--frames", "16", "--mosaics", "2"]
    first = cli("codec", *args, *common, "--workers", "2", "--viz")
    assert first.returncode == 1  # some inputs failed
    assert "3 done, 0 already done, 5 failed" in first.stdout
    failures = (out / "failures.txt").read_text().splitlines()
    reasons = {Path(line.split("\t")[0]).name: line.split("\t")[1] for line in failures}
    assert set(reasons) == {*bad, "missing.mp4"}
    assert "empty file (0 bytes)" in reasons["empty.mp4"] and "not a video file" in reasons["notes.mp4"]
    assert "truncated" in reasons["cut.mp4"] and "no video stream" in reasons["voice.mp4"]
    assert "no such file" in reasons["missing.mp4"]
    for video in good:
        folder = out / folder_name(video)
        assert (folder / "meta.json").is_file() and (folder / "positions_thw.npy").is_file()
        picture = Image.open(folder / "selection.png")
        assert picture.format == "PNG" and picture.width > 500
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert sorted(entry["status"] for entry in index) == ["done"] * 3 + ["failed"] * 5
    assert "FAILED" in first.stderr

    again = cli("codec", *[str(v) for v in good], *common, "--viz")
    assert again.returncode == 0 and "0 done, 3 already done, 0 failed" in again.stdout
    assert not (out / "failures.txt").exists()  # the failures file describes the latest run

    changed = cli("codec", str(good[0]), *common[:-2], "--mosaics", "3")
    assert changed.returncode == 0 and "1 done, 0 already done" in changed.stdout
    meta = json.loads((out / folder_name(good[0]) / "meta.json").read_text())
    assert meta["num_mosaics"] == 3


def test_interrupted_output_is_recomputed(tmp_path, inputs):
    _, good, _ = inputs
    out = tmp_path / "out"
    assert main(["codec", str(good[0]), "--out", str(out), "--canvas", "224", "--frames", "8", "--quiet"]) == 0
    folder = out / folder_name(good[0])
    (folder / "mosaic_000.jpg").unlink()  # as if the run had died half-way
    assert main(["codec", str(good[0]), "--out", str(out), "--canvas", "224", "--frames", "8", "--quiet"]) == 0
    assert (folder / "mosaic_000.jpg").is_file()


def test_invalid_settings_exit_with_a_message(tmp_path, capsys):
    assert main(["codec", "x.mp4", "--out", str(tmp_path), "--canvas", "500"]) == 2
    assert "multiple of patch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["codec", "x.mp4", "--out", str(tmp_path), "--budget", "lots"])
    assert "budget must be" in capsys.readouterr().err
