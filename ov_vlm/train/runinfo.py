"""What every run records next to its outputs: the resolved recipe, package versions, git revision, launch."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

PACKAGES = ("ov-vlm", "torch", "transformers", "accelerate", "deepspeed", "peft", "datasets", "av", "tokenizers")


def git_revision(start: Path) -> str | None:
    """The git commit of the source tree (``-dirty`` when it has uncommitted changes), if it is a checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=start, capture_output=True, text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=start, capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def write_run_info(output_dir: Path, recipe: dict[str, Any], world_size: int, extra: dict[str, Any] | None = None):
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    info = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "world_size": world_size,
        "git_revision": git_revision(Path(__file__).resolve().parent),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "env": {k: os.environ[k] for k in ("CUDA_VISIBLE_DEVICES", "DS_ACCELERATOR") if k in os.environ},
        **(extra or {}),
    }
    (output_dir / "run_info.json").write_text(json.dumps(info, indent=1))
