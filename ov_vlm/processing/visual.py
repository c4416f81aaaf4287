"""Images and videos -> encoder inputs (pixels, (t, h, w) positions) and the number of LLM tokens they become.

- **Image**: one native-resolution canvas, the reference's pad-to-best-pinpoint rule (letterbox, no tiling);
  positions (0, h, w).
- **Video, frames**: N frames sampled uniformly over the whole video, each letterboxed to a square; frame i sits at
  time slot ``floor(linspace(0, 63, N))[i]`` of the 64-slot grid (8 frames: t = 0, 9, ..., 63).
- **Video, codec**: the codec selection's mosaics (computed on the fly or read from an ``ov-vlm codec`` folder),
  each 16-px canvas cell resized onto one encoder patch (576 -> 504 for patch 14), with ``positions_thw``.
- **Video, dense**: like frames, with all ``dense_frames`` (64) frames.

Encoders without positions (SigLIP2, Qwen3-ViT) take every frame or mosaic as an independent image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ov_vlm.codec import CodecCache, CodecError, CodecSelection, CodecSettings, select_patches
from ov_vlm.codec.result import META_FILE
from ov_vlm.media import VideoError, read_frames, time_slots
from ov_vlm.utils.options import VIDEO_MODES, VideoMode
from ov_vlm.utils.typed import from_dict

from .errors import MediaError
from .image import BICUBIC, CLIP_MEAN, CLIP_STD, best_pinpoint, letterbox, load_image, normalize
from .layout import TokenLayout, pixel_grid

REFERENCE_PINPOINTS = {
    14: ((574, 1120), (1120, 574), (1120, 1120), (1694, 574), (574, 1694)),
    16: ((576, 1120), (1120, 576), (1120, 1120), (1696, 576), (576, 1696)),
}


@dataclass(frozen=True)
class VisualSpec:
    """How one model turns media into visual tokens (saved in ``ov_vlm_processor.json``).

    patch_size, mean, std: the encoder's patch and normalisation.
    positional: the encoder reads (t, h, w) positions (OV-Encoder); otherwise every frame is an independent image.
    encoder_grid_multiple: patch-grid sides must be multiples of this (2 for Qwen3-ViT).
    token_merge: the projector merges ``token_merge`` x ``token_merge`` tokens into one (2: spatial_merge_2x2).
    image_pinpoints: (width, height) canvases for images (default: the reference's for the patch size).
    frame_size: side of square frames (default: 504 for patch 14, 512 otherwise, as the reference).
    video_mode: default way to read videos: codec, frames or dense.
    num_frames, dense_frames: frames in frames / dense mode.
    codec: `CodecSettings` overrides for codec mode (defaults: the reference's).
    temporal_slots: size of the RoPE time grid frames are spread over.
    """

    patch_size: int = 14
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    positional: bool = True
    encoder_grid_multiple: int = 1
    token_merge: int = 1
    image_pinpoints: tuple[tuple[int, int], ...] | None = None
    frame_size: int | None = None
    video_mode: VideoMode = "codec"
    num_frames: int = 8
    dense_frames: int = 64
    codec: dict = field(default_factory=dict)
    temporal_slots: int = 64

    def __post_init__(self) -> None:
        if self.video_mode not in VIDEO_MODES:
            raise ValueError(f"video_mode must be one of {VIDEO_MODES}, got {self.video_mode!r}")
        if self.token_merge not in (1, 2):
            raise ValueError(f"token_merge must be 1 or 2, got {self.token_merge}")
        if self.num_frames < 1 or self.dense_frames < 1:
            raise ValueError("num_frames and dense_frames must be >= 1")
        self.codec_settings()  # validates the overrides

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "visual spec") -> VisualSpec:
        """Build from a dict (`ov_vlm.utils.typed.from_dict`: unknown keys raise; JSON lists become tuples)."""
        return from_dict(cls, values, where, noun="visual setting")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> VisualSpec:
        return VisualSpec.from_dict({**self.to_dict(), **changes})

    def with_video(
        self, mode: str | None = None, frames: int | None = None, budget: int | float | str | None = None
    ) -> VisualSpec:
        """This spec with the user-facing video overrides (None keeps the model's): mode, frames, codec budget."""
        changes: dict[str, Any] = {}
        if mode is not None:
            changes["video_mode"] = mode
        if frames is not None:
            changes["num_frames"] = int(frames)
        if budget is not None:
            changes["codec"] = {**self.codec, "budget": budget}
        return self.replace(**changes) if changes else self

    @property
    def grid_multiple(self) -> int:
        return self.encoder_grid_multiple * self.token_merge

    @property
    def unit(self) -> int:
        """Pixel sizes must be multiples of this (patch x grid multiple)."""
        return self.patch_size * self.grid_multiple

    def pinpoints(self) -> list[tuple[int, int]]:
        chosen = self.image_pinpoints or REFERENCE_PINPOINTS.get(self.patch_size) or ((32 * self.patch_size,) * 2,)
        return [
            (max(self.unit, w // self.unit * self.unit), max(self.unit, h // self.unit * self.unit)) for w, h in chosen
        ]

    def frame_side(self) -> int:
        side = self.frame_size or (504 if self.patch_size == 14 else 32 * self.patch_size)
        return max(self.unit, side // self.unit * self.unit)

    def codec_settings(self) -> CodecSettings:
        overrides = dict(self.codec)
        if self.token_merge == 2:
            overrides["block"] = 2  # whole 2x2 blocks, so the projector merges one selected block per token
        return CodecSettings.from_dict(overrides)

    def largest_image_layout(self) -> TokenLayout:
        """The token layout of an image on the largest pinpoint canvas (an upper bound, for batching)."""
        width, height = max(self.pinpoints(), key=lambda size: size[0] * size[1])
        return TokenLayout(1, height // self.patch_size, width // self.patch_size, self.token_merge)

    def video_layout(self, mode: str | None = None) -> TokenLayout:
        """The token layout of a video read in ``mode`` (default: the spec's): exact for frames and dense; for codec
        mode that of its fixed budget, or of 1/8 of all cells for an adaptive one (an estimate, for batching)."""
        mode = mode or self.video_mode
        if mode != "codec":
            cells = self.frame_side() // self.patch_size
            return TokenLayout(
                self.num_frames if mode == "frames" else self.dense_frames, cells, cells, self.token_merge
            )
        settings = self.codec_settings()
        patches = settings.fixed_budget() or settings.total_cells // 8
        cells = settings.cells_per_side
        mosaics = -(-patches // settings.cells_per_frame)
        if not self.positional:
            return TokenLayout(mosaics, cells, cells, self.token_merge)
        return TokenLayout(mosaics, cells, cells, self.token_merge, patches)

    def slots(self, count: int) -> np.ndarray:
        """Time slots of ``count`` frames on this spec's grid (`ov_vlm.media.time_slots`)."""
        return time_slots(count, self.temporal_slots)


@dataclass
class Visual:
    """One image or video ready for the model."""

    kind: str  # "image" or "video"
    pixel_values: torch.Tensor  # [C, H, W] or [C, T, H, W]
    positions: torch.Tensor | None  # int64 [N, 3] (positional encoders) or None
    layout: TokenLayout  # patch grid, used patches, merge
    info: dict = field(default_factory=dict)

    @property
    def num_tokens(self) -> int:
        """LLM tokens (after the projector's merge)."""
        return self.layout.num_tokens


def grid_positions(slots: list[int] | np.ndarray, rows: int, cols: int) -> torch.Tensor:
    """(t, h, w) of every patch of ``len(slots)`` grids of rows x cols, time-major then row-major."""
    t = torch.as_tensor(np.asarray(slots), dtype=torch.long).repeat_interleave(rows * cols)
    h = torch.arange(rows).repeat_interleave(cols).repeat(len(slots))
    w = torch.arange(cols).repeat(rows * len(slots))
    return torch.stack([t, h, w], dim=1)


def image_visual(source: Any, spec: VisualSpec) -> Visual:
    """An image on its best pinpoint canvas (letterboxed, black padding)."""
    image = load_image(source)
    width, height = best_pinpoint(image.width, image.height, spec.pinpoints())
    canvas, _ = letterbox(image, width, height, BICUBIC)
    pixels = normalize(canvas, spec.mean, spec.std)
    layout = TokenLayout(*pixel_grid(pixels.shape, spec.patch_size), merge=spec.token_merge)
    positions = grid_positions([0], layout.rows, layout.cols) if spec.positional else None
    return Visual("image", pixels, positions, layout, {"canvas": [width, height], "source_size": list(image.size)})


def normalized_frames(images: list[Image.Image], spec: VisualSpec) -> torch.Tensor:
    """Same-size RGB images as one normalised tensor [C, T, H, W] (one array operation for all of them)."""
    stacked = np.stack([np.asarray(image) for image in images])  # [T, H, W, 3] uint8
    return normalize(stacked, spec.mean, spec.std).transpose(0, 1).contiguous()


def frames_visual(frames: list[Any], spec: VisualSpec, info: dict | None = None) -> Visual:
    """Frames letterboxed to squares, spread over the 64-slot time grid."""
    side = spec.frame_side()
    squares = [letterbox(load_image(frame), side, side, BICUBIC)[0] for frame in frames]
    pixels = normalized_frames(squares, spec)  # [C, T, S, S]
    layout = TokenLayout(*pixel_grid(pixels.shape, spec.patch_size), merge=spec.token_merge)
    positions = grid_positions(spec.slots(len(frames)), layout.rows, layout.cols) if spec.positional else None
    return Visual("video", pixels, positions, layout, {"frames": len(frames), **(info or {})})


def codec_visual(selection: CodecSelection, spec: VisualSpec) -> Visual:
    """Codec mosaics as encoder pixels: each canvas cell becomes one encoder patch."""
    cells = selection.mosaics.shape[1] // selection.meta["settings"]["patch"]
    side = cells * spec.patch_size
    images = [Image.fromarray(mosaic) for mosaic in selection.mosaics]
    if images[0].size != (side, side):
        images = [image.resize((side, side), BICUBIC) for image in images]
    pixels = normalized_frames(images, spec)
    info = {"mode": "codec", "K": int(selection.meta["K"]), "mosaics": len(images)}
    if not spec.positional:  # every mosaic is an independent image
        return Visual("video", pixels, None, TokenLayout(len(images), cells, cells, spec.token_merge), info)
    positions = torch.as_tensor(selection.positions, dtype=torch.long)
    count = len(positions)
    if spec.token_merge == 2 and count % (len(images) * cells * cells):
        raise MediaError(
            f"{selection.meta['video']['path']}: spatial merge needs whole mosaics of 2x2 blocks "
            "(codec block=2); this selection was made with block=1"
        )
    return Visual("video", pixels, positions, TokenLayout(len(images), cells, cells, spec.token_merge, count), info)


def load_codec_source(source: Any) -> CodecSelection:
    """A `CodecSelection`, an ``ov-vlm codec`` folder, or a dict with ``mosaics`` (images) and ``positions``."""
    if isinstance(source, CodecSelection):
        return source
    if isinstance(source, str | Path) and Path(source).is_dir():
        try:
            return CodecSelection.load(source)
        except (FileNotFoundError, OSError, ValueError) as error:
            raise MediaError(f"{source}: not a readable codec folder ({error})") from None
    if isinstance(source, dict) and "mosaics" in source and "positions" in source:
        mosaics = np.stack([np.asarray(load_image(m)) for m in source["mosaics"]])
        positions = source["positions"]
        if isinstance(positions, str | Path):
            try:
                positions = np.load(positions)
            except (OSError, ValueError) as error:
                raise MediaError(f"{positions}: cannot read positions ({error})") from None
        positions = np.asarray(positions, dtype=np.int32)
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise MediaError(f"positions must be [K, 3], got shape {positions.shape}")
        cells = int(positions[:, 1:].max()) + 1
        patch = max(1, mosaics.shape[1] // max(cells, 1))
        meta = {"K": len(positions), "settings": {"patch": patch}, "video": {"path": str(source.get("path", "?"))}}
        return CodecSelection(positions, np.zeros(0, np.int32), None, mosaics, positions, meta)
    raise MediaError(f"not a codec source: {type(source).__name__}")


def video_visual(source: Any, spec: VisualSpec, mode: str | None = None, cache: CodecCache | None = None) -> Visual:
    """A video as codec mosaics, uniform frames or dense frames (``mode`` overrides ``spec.video_mode``).

    With a ``cache``, codec selections of video files are read from / written to it.
    """
    mode = mode or spec.video_mode
    if mode not in VIDEO_MODES:
        raise MediaError(f"unknown video mode {mode!r}; use one of {VIDEO_MODES}")
    if isinstance(source, list | tuple):  # frames given directly
        return frames_visual(list(source), spec, {"mode": "frames"})
    is_codec_folder = isinstance(source, str | Path) and (Path(source) / META_FILE).is_file()
    if mode == "codec" or isinstance(source, CodecSelection | dict) or is_codec_folder:
        if isinstance(source, str | Path) and not is_codec_folder:
            try:
                settings = spec.codec_settings()
                # without a cache, the mosaics as a cache would store them: the same pixels either way
                source = cache.select(source, settings) if cache else select_patches(source, settings).stored()
            except CodecError as error:
                raise MediaError(str(error)) from None
        return codec_visual(load_codec_source(source), spec)
    count = spec.num_frames if mode == "frames" else spec.dense_frames
    try:
        frames, frame_ids = read_frames(source, count)
    except VideoError as error:
        raise MediaError(str(error)) from None
    return frames_visual(frames, spec, {"mode": mode, "frame_ids": frame_ids.tolist()})
