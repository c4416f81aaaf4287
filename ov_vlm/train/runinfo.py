"""What every run records next to its outputs: the resolved recipe, package versions, git revision, launch."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from ov_vlm.utils.versions import git_revision, package_versions


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
