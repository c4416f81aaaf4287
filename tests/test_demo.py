"""The demo: the motion-world generator (deterministic, answers true to its ground truth, checked on the decoded
videos) and a reduced end-to-end run of ``ov-vlm demo`` (every step's outputs, a well-formed report, resumable)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest

from ov_vlm.cli.main import main
from ov_vlm.demo.pipeline import WORKERS
from ov_vlm.demo.world import COLORS, DIRECTIONS, WorldSpec, generate_world, majority_baselines, qa_pairs

SMALL = WorldSpec(frames=32, videos={"train": 12, "val": 2, "test": 12}, images={"train": 4, "val": 1, "test": 4})


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def centroid(frame: np.ndarray, color: str) -> tuple[float, float] | None:
    distance = np.abs(frame.astype(int) - np.array(COLORS[color])).sum(axis=2)
    ys, xs = np.nonzero(distance < 90)
    return (xs.mean(), ys.mean()) if len(xs) >= 6 else None


def world_track(frames: list[np.ndarray], color: str, pan: float) -> list[tuple[float, float] | None]:
    """The shape's position in scene coordinates (the camera pan added back)."""
    track = []
    for t, frame in enumerate(frames):
        c = centroid(frame, color)
        track.append(None if c is None else (c[0] + pan * t, c[1]))
    return track


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    generate_world(root, SMALL, seed=7, train_modes=("codec", "frames"))
    return root


def test_world_is_deterministic(world, tmp_path):
    again = generate_world(tmp_path, SMALL, seed=7, train_modes=("codec", "frames"), workers=2)  # clips in parallel
    for name, path in again.items():
        assert path.read_text() == (world / f"{name}.jsonl").read_text(), name
    media = sorted(p.name for p in (world / "media").iterdir())
    assert media == sorted(p.name for p in (tmp_path / "media").iterdir())
    assert all((world / "media" / n).read_bytes() == (tmp_path / "media" / n).read_bytes() for n in media)
    clip = "media/test-v0000.mp4"
    assert all(np.array_equal(a, b) for a, b in zip(decode(world / clip), decode(tmp_path / clip), strict=True))
    other = generate_world(tmp_path / "other", SMALL, seed=8)
    assert other["test"].read_text() != (world / "test.jsonl").read_text()


def test_world_format_and_splits(world):
    train = [json.loads(line) for line in (world / "train.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (world / "test.jsonl").read_text().splitlines()]
    assert {r["video_mode"] for r in train if "video" in r} == {"codec", "frames"}
    assert not any("video_mode" in r for r in test)
    assert {r["id"].split("-")[0] for r in test} == {"test"} and not {r["id"] for r in train} & {r["id"] for r in test}
    assert len(decode(world / test[0]["video"])) == SMALL.frames
    assert (
        main(["data-check", str(world / "train.jsonl"), "--preset", "tiny", "--quiet"]) == 0
    )  # every other command reads it
    baselines = majority_baselines(train, test)
    assert 0 <= baselines["majority"] <= baselines["majority_per_type"] <= 100
    assert set(baselines["blind_per_type"]) == {r["question_type"] for r in test}
    single = [r for r in train if "video" in r and len(r["truth"]["movers"]) == 1]
    assert all(sorted(t for t, _ in qa_pairs(r)) == ["colour", "direction", "shape", "stops"] for r in single)
    assert all(len(r["conversations"]) == 2 for r in test)  # held out: one question per clip or image


def test_world_answers_match_what_the_videos_show(world):
    records = [
        json.loads(line) for name in ("train", "test") for line in (world / f"{name}.jsonl").read_text().splitlines()
    ]
    checked = set()
    for record, (kind, reply) in ((r, pair) for r in records for pair in qa_pairs(r)):
        truth = record["truth"]
        assert reply == reply.capitalize()  # one capitalised word: one token of the demo's tokenizer
        answer = reply.lower()
        if "image" in record:
            image = np.asarray(__import__("PIL.Image").Image.open(world / record["image"]).convert("RGB"))
            assert centroid(image, truth["color"]) is not None
            assert answer == (truth["color"] if kind == "image_colour" else truth["shape"])
            checked.add(kind)
            continue
        frames = decode(world / record["video"])
        movers = truth["movers"]
        if kind == "first":
            starts = {}
            for mover in movers:
                track = world_track(frames, mover["color"], truth["pan"])
                origin = next(p for p in track if p is not None)
                starts[mover["color"]] = next(
                    t for t, p in enumerate(track) if p is not None and np.hypot(*np.subtract(p, origin)) > 2.5
                )
            question = next(t["value"] for t in record["conversations"][::2] if "first" in t["value"])
            assert answer == min(starts, key=starts.get) and answer in question
        else:
            (mover,) = movers
            track = [p for p in world_track(frames, mover["color"], truth["pan"]) if p is not None]
            dx, dy = np.subtract(track[-1], track[0])
            seen = max(DIRECTIONS, key=lambda d: DIRECTIONS[d][0] * dx + DIRECTIONS[d][1] * dy)
            tail = np.hypot(*np.subtract(track[-1], track[-6]))
            if kind == "direction":
                assert answer == seen
            elif kind == "colour":
                assert answer == mover["color"] and np.hypot(dx, dy) > 10  # the shape of that colour does move
            elif kind == "shape":
                assert answer == mover["shape"]
            elif kind == "stops":
                assert answer == ("yes" if tail < 1.5 else "no"), (record["id"], tail)
        checked.add(kind)
    assert {"colour", "shape", "direction", "stops", "first", "image_colour", "image_shape"} <= checked


@pytest.mark.slow  # minutes on CPU: the whole reduced demo, twice
def test_reduced_demo_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--small", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    for step in ("1/6", "2/6", "3/6", "4/6", "5/6", "6/6"):
        assert step in printed
    assert f"Everything is in {out}" in printed
    assert (out / "data" / "test.jsonl").is_file() and list((out / "codec").glob("*.png"))
    for stage in ("stage1_align", "stage2_sft"):
        assert (out / stage / "model.safetensors").is_file() and (out / stage / "run_info.json").is_file()
    tower = json.loads((out / "stage0_tower" / "tower.json").read_text())  # the tower pretraining step's report
    assert set(tower["held_out_accuracy"]) == {"codec", "frames"} and "tower pretraining: " in printed
    assert "stage0_tower/tower.json" in (out / "report.md").read_text()
    for mode in ("codec", "frames"):
        result = json.loads((out / "eval" / mode / "result.json").read_text())
        assert result["settings"]["video_mode"] == mode and "motion_world" in result["scores"]
    assert not (out / "eval" / "dense").exists()  # dense is not trained on: evaluated only on request
    report = (out / "report.md").read_text()
    assert "| **video** |" in report and "| **all** |" in report and "blind prior" in report
    assert "codec top-K scores" in report and "two standard errors" in report
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "results.json").read_text())
    assert set(results["accuracy"]) == {"codec", "frames"}
    assert set(results["questions"]) == set(results["baselines"]["blind_per_type"]) >= {"video", "image", "all"}
    assert results["questions"]["all"] == len((out / "data" / "test.jsonl").read_text().splitlines())
    assert all(0 <= v["all"] <= 100 and set(v) <= set(results["questions"]) for v in results["accuracy"].values())
    assert 0 <= results["baselines"]["majority"] <= 100
    steps = json.loads((out / "steps.json").read_text())
    done = ("data", "codec", "stage0_tower", "stage1_align", "stage2_sft", "eval_codec", "eval_frames", "eval")
    assert all(steps[s]["done"] for s in (*done, "report"))
    shared = max(1, (os.cpu_count() or 1) // 2) if WORKERS > 1 else None  # the two evaluations share the cores
    assert steps["eval_codec"]["threads"] == steps["eval_frames"]["threads"] == shared
    for log in ("stage1_align", "stage2_sft", "chat"):
        assert (out / "logs" / f"{log}.log").is_file()
    for log in ("stage0_tower", "stage1_align", "stage2_sft"):  # accelerate chose no threads, DeepSpeed no device
        text = (out / "logs" / f"{log}.log").read_text()
        assert "OMP_NUM_THREADS/MKL_NUM_THREADS unset" not in text and "Setting accelerator" not in text, log
    assert "Warning" not in printed + captured.err and "{'loss'" not in printed  # third-party noise: in the logs
    assert printed.count("trained ") == 2  # one summary line per training stage

    from ov_vlm.demo.probe import probe

    read = probe(out)  # the hand-made token reader runs on a demo folder (its data and codec cache)
    assert set(read) == {"codec", "frames"} and all(0 <= v <= 100 for m in read.values() for v in m.values())

    assert main(["demo", "--small", "--out", str(out), "--no-chat"]) == 0  # re-run: finished steps are reused
    again = capsys.readouterr().out
    assert again.count("done already") == 7  # data, codec, tower, stages 1 and 2, the evaluations, the report


def test_codec_tokens_show_the_moving_shape(world):
    """The world is answerable in codec mode: the demo's selection keeps the mover in most of its moving frames."""
    from ov_vlm.demo.coverage import world_coverage
    from ov_vlm.demo.pipeline import codec_settings

    coverage = world_coverage(world, codec_settings())
    for group in ("keeps moving", "stops"):
        if group in coverage:
            stats = coverage[group]
            assert stats["share"] > 0.3 and stats["frames_with_mover"] > 0.5 * stats["moving_frames"], (group, stats)
