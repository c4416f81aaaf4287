"""Sharded batch selection: a deterministic 1/N of the inputs per job, one shared folder, merged indexes."""

from __future__ import annotations

import json

import pytest
from media import moving_object_clip

from ov_vlm.cli.main import main
from ov_vlm.codec.batch import in_shard, merge_indexes, parse_shard, shard_from_environment

COMMON = ["--canvas", "96", "--patch", "16", "--frames", "8", "--mosaics", "2", "--quiet"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("shard")
    paths = [moving_object_clip(root / f"clip{i}.mp4", count=10, size=(96, 96), seed=i).path for i in range(6)]
    return root, paths


def read_index(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_shards_split_the_inputs_and_merge_into_one_index(tmp_path, videos):
    root, paths = videos
    out = tmp_path / "out"
    inputs = [*(str(p) for p in paths), str(root / "missing.mp4")]
    for index in range(3):
        code = main(["codec", *inputs, "--out", str(out), "--shard", f"{index}/3", *COMMON])
        assert code in (0, 1)
    per_shard = [read_index(out / f"index-{i}-of-3.jsonl") for i in range(3)]
    seen = [row["video"] for rows in per_shard for row in rows]
    assert sorted(seen) == sorted({*(str(p.resolve()) for p in paths), str(root / "missing.mp4")})  # each once
    assert len(seen) == len(set(seen))
    assert not (out / "index.jsonl").exists()
    assert main(["codec", "--merge-index", str(out)]) == 1  # one input is missing
    merged = read_index(out / "index.jsonl")
    assert len(merged) == 7 and sum(row["status"] == "done" for row in merged) == 6
    assert (out / "failures.txt").read_text().count("\n") == 1
    assert merge_indexes(out).count("done") == 6


def test_shard_membership_is_stable_and_exhaustive():
    names = [f"/data/video_{i}.mp4" for i in range(200)]
    owners = [[index for index in range(4) if in_shard(name, (index, 4))] for name in names]
    assert all(len(owner) == 1 for owner in owners)
    sizes = [sum(owner == [index] for owner in owners) for index in range(4)]
    assert min(sizes) >= 30  # roughly balanced
    assert owners == [[index for index in range(4) if in_shard(name, (index, 4))] for name in names]


def test_shard_from_slurm_array_or_rank():
    slurm = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "8"}
    assert shard_from_environment(slurm) == (4, 8)
    assert shard_from_environment({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"}) == (3, 4)
    assert shard_from_environment({"RANK": "2", "WORLD_SIZE": "3"}) == (2, 3)
    assert shard_from_environment({}) is None
    assert parse_shard("0/1") == (0, 1)
    for bad in ("3/3", "a/b", "1"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


def test_merge_reports_missing_shards(tmp_path, videos):
    _, paths = videos
    out = tmp_path / "out"
    main(["codec", str(paths[0]), "--out", str(out), "--shard", "0/2", *COMMON])
    with pytest.raises(ValueError, match=r"missing for shard\(s\) \[1\] of 2"):
        merge_indexes(out)
    assert main(["codec", "--merge-index", str(out)]) == 2
