"""A disk cache of codec selections, keyed by the video's content and the settings that shape the output.

Training (codec on the fly) and evaluation reuse selections across runs: the first run computes, later runs load.
The key is a fingerprint of the file (size + SHA-1 of its first and last MiB; fast on large videos) plus a hash of
``CodecSettings.output_key()``. Entries are written atomically in the settings' image format (JPEG q95 4:2:0 by
default, as the reference stores its training mosaics; ``image_format="png"`` for lossless), so concurrent workers or
ranks computing the same video are harmless. A miss returns the selection as read back from its entry, so a video
gives the same pixels on a miss, on a hit and uncached (`CodecSelection.stored`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from .pipeline import select_patches
from .result import CodecSelection, is_complete
from .settings import CodecSettings

CACHE_VERSION = 4  # 2: reference profile by default, single-threaded analysis decode; 3: its mosaics resized as
# the reference resizes them (OpenCV's INTER_LINEAR) and stored in the settings' format (JPEG by default, was PNG);
# 4: the robust profile's mosaics resized the same way, MPEG-4 Part 2 with B-frames transcoded to H.264
_CHUNK = 1 << 20


def default_root() -> Path:
    """``$OV_VLM_CACHE/codec``, else ``$XDG_CACHE_HOME/ov-vlm/codec``, else ``~/.cache/ov-vlm/codec``."""
    if os.environ.get("OV_VLM_CACHE"):
        return Path(os.environ["OV_VLM_CACHE"]).expanduser() / "codec"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ov-vlm" / "codec"


def fingerprint(path: str | Path) -> str:
    """A content fingerprint: size + SHA-1 of the first and last MiB."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha1(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_CHUNK))
        if size > _CHUNK:
            handle.seek(max(_CHUNK, size - _CHUNK))
            digest.update(handle.read(_CHUNK))
    return digest.hexdigest()[:20]


def settings_key(settings: CodecSettings) -> str:
    return hashlib.sha1(json.dumps(settings.output_key(), sort_keys=True).encode()).hexdigest()[:12]


class CodecCache:
    """``cache.select(video, settings)``: a cached `CodecSelection`, computed on a miss."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def folder(self, video: str | Path, settings: CodecSettings) -> Path:
        return self.root / f"v{CACHE_VERSION}-{fingerprint(video)}-{settings_key(settings)}"

    def select(self, video: str | Path, settings: CodecSettings) -> CodecSelection:
        """Raises `CodecError` like `select_patches` (failures are not cached)."""
        folder = self.folder(video, settings)
        if is_complete(folder):
            self.hits += 1
            return CodecSelection.load(folder)
        self.misses += 1
        selection = select_patches(video, settings)
        try:
            selection.save(folder)
        except OSError:  # another worker finished the same entry first
            if not is_complete(folder):
                shutil.rmtree(folder, ignore_errors=True)
                raise
        return CodecSelection.load(folder)  # what a later hit reads (JPEG mosaics lose a little)
