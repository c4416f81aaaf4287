"""ov-vlm works when installed as a package: a wheel built from this tree, installed outside it, finds its presets,
eval suites and recipes (package data), and builds a model."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    """(a folder outside the repo, the environment whose PYTHONPATH puts the installed wheel first)."""
    root = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(REPO), cwd=root)
    (wheel,) = (root / "dist").glob("ov_vlm-*.whl")
    run(*pip, "install", "--no-deps", "--target", str(root / "site"), str(wheel), cwd=root)
    env = {**os.environ, "PYTHONPATH": str(root / "site")}
    return root, env | {"OV_VLM_WHEEL": str(wheel)}


def cli(installed, *args: str) -> str:
    root, env = installed
    return run(sys.executable, "-m", "ov_vlm.cli.main", *args, cwd=root, env=env).stdout


@pytest.mark.slow
def test_wheel_carries_the_package_data(installed):
    names = set(zipfile.ZipFile(installed[1]["OV_VLM_WHEEL"]).namelist())
    for shipped in (
        "ov_vlm/resources/presets/tiny.yaml",
        "ov_vlm/resources/eval/suites/paper16.yaml",
        "ov_vlm/resources/eval/published.json",
        "ov_vlm/resources/eval/tasks/ovvlm_local_video/ovvlm_local_video.yaml",
        "ov_vlm/resources/recipes/demo/stage1_align.yaml",
        "ov_vlm/resources/recipes/deepspeed/zero3.json",
    ):
        assert shipped in names, shipped


@pytest.mark.slow
def test_installed_wheel_runs_outside_the_repo(installed):
    root, env = installed
    where = run(sys.executable, "-c", "import ov_vlm; print(ov_vlm.__file__)", cwd=root, env=env).stdout
    assert Path(where.strip()).is_relative_to(root / "site")
    assert {"tiny", "ov-encoder-large_qwen3-4b", "siglip2-so400m_qwen3-4b"} <= set(
        cli(installed, "build-model", "--list").split()
    )
    tasks = cli(installed, "eval", "tasks", "--suite", "paper16")
    assert "videomme" in tasks and "ocrbench" in tasks.lower()
    out = cli(installed, "build-model", "--preset", "tiny", "--random-init", "--out", str(root / "tiny-model"))
    assert "wrote" in out and (root / "tiny-model" / "config.json").is_file()
