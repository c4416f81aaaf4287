"""Files the package reads at run time, shipped as package data so that a wheel has them too.

``presets/`` (model presets), ``eval/`` (suites, local lmms-eval tasks, published numbers) and ``recipes/`` (training
recipes and DeepSpeed configs). In the repository, ``checkpoints/presets``, ``eval`` and ``recipes`` are links to
these folders: the same files, edited in either place.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The file system path of a shipped resource (wheels and editable installs are unpacked folders)."""
    return Path(str(files(__name__).joinpath(*parts)))
