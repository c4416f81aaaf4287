"""Codec patchification on stock PyAV: motion vectors + estimated residual -> saliency -> top-K patches -> mosaics.

from ov_vlm.codec import select_patches
selection = select_patches("clip.mp4")            # reference defaults: 64 frames, 576 canvas, patch 16, K=10368
selection = select_patches("clip.mp4", profile="robust")  # the earlier, faster scoring made for synthetic clips
selection.positions, selection.mosaics, selection.meta
selection.save("out/clip")                         # mosaic_*.jpg, positions_thw.npy, frame_ids.npy, meta.json
"""

from importlib import import_module

from ov_vlm.media import VIDEO_EXTENSIONS, is_video_file, sample_frame_ids

from .errors import CodecError
from .result import CodecSelection, is_complete
from .settings import CodecSettings, parse_budget

# imported on first use: the selection pipeline pulls in the compiled kernels (numba, llvmlite), which settings,
# results and the command-line parser do not need
_LAZY = {"select_patches": "pipeline", "CodecCache": "cache", "default_root": "cache", "fingerprint": "cache"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "VIDEO_EXTENSIONS",
    "CodecCache",
    "CodecError",
    "CodecSelection",
    "CodecSettings",
    "default_root",
    "fingerprint",
    "is_complete",
    "is_video_file",
    "parse_budget",
    "sample_frame_ids",
    "select_patches",
]
