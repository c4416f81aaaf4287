"""Image preprocessing for the vision encoders, with PIL + numpy only (no torchvision; transformers' PIL backend).

Normalisation is CLIP's mean/std on RGB in [0, 1] (spec: ov-encoder.md §9). Three sizing rules:

- ``clip``: resize the shortest edge to ``size`` (bicubic), centre-crop ``size`` x ``size``: the published
  `CLIPImageProcessor` at 448 (32 x 32 = 1024 tokens with patch 14), through transformers' `CLIPImageProcessorPil`;
- ``native``: keep the aspect ratio, snap both sides to multiples of the patch size, shrink only to respect a token
  budget (the encoder's 3D RoPE has no fixed table, so any patch grid works);
- ``square``: letterbox onto a black square canvas (video frames and codec mosaics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from transformers import CLIPImageProcessorPil
from transformers.image_processing_utils import select_best_resolution

from .errors import MediaError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BICUBIC = Image.Resampling.BICUBIC

ImageLike = Image.Image | np.ndarray | str | Path


class ImageLoadError(MediaError):
    """An image file is missing or cannot be decoded."""


def load_image(source: ImageLike) -> Image.Image:
    """Open ``source`` (path, PIL image or HxWxC uint8 array) as an RGB PIL image; a one-line error otherwise."""
    if isinstance(source, Image.Image):
        return to_rgb(source)
    if isinstance(source, np.ndarray):
        if source.ndim == 2 or (source.ndim == 3 and source.shape[2] in (1, 3, 4)):
            array = source[..., 0] if source.ndim == 3 and source.shape[2] == 1 else source
            return to_rgb(Image.fromarray(np.ascontiguousarray(array).astype(np.uint8)))
        raise ImageLoadError(f"array of shape {source.shape} is not an HxW or HxWxC image")
    path = Path(source)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ImageLoadError(f"{path}: not a readable image ({error})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of ``image``; transparency is composited onto white (as transformers does)."""
    has_alpha = "A" in image.getbands() or image.info.get("transparency") is not None
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


@dataclass(frozen=True)
class Letterbox:
    """Where the content sits on a letterboxed canvas: scaled size and top-left offset, in pixels."""

    scale: float
    content_width: int
    content_height: int
    offset_x: int
    offset_y: int


def letterbox(
    image: Image.Image, width: int, height: int, resample: int = BICUBIC, fill: tuple[int, int, int] = (0, 0, 0)
) -> tuple[Image.Image, Letterbox]:
    """Fit ``image`` inside ``width`` x ``height`` keeping its aspect ratio, centred on a ``fill`` canvas."""
    scale = min(width / image.width, height / image.height)
    content_w = max(1, min(width, round(image.width * scale)))
    content_h = max(1, min(height, round(image.height * scale)))
    canvas = Image.new("RGB", (width, height), fill)
    offset_x, offset_y = (width - content_w) // 2, (height - content_h) // 2
    canvas.paste(image.resize((content_w, content_h), resample=resample), (offset_x, offset_y))
    return canvas, Letterbox(scale, content_w, content_h, offset_x, offset_y)


def native_size(height: int, width: int, patch_size: int, max_tokens: int | None = None) -> tuple[int, int]:
    """Pixel size (H, W), both multiples of ``patch_size``, closest to the input's aspect and within ``max_tokens``."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    scale = 1.0
    if max_tokens is not None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        tokens = (height / patch_size) * (width / patch_size)
        scale = min(1.0, math.sqrt(max_tokens / tokens))
    rows = max(1, round(height * scale / patch_size))
    cols = max(1, round(width * scale / patch_size))
    while max_tokens is not None and rows * cols > max_tokens:
        if rows >= cols:
            rows -= 1
        else:
            cols -= 1
    return rows * patch_size, cols * patch_size


def normalize(image: Image.Image | np.ndarray, mean=CLIP_MEAN, std=CLIP_STD) -> torch.Tensor:
    """uint8 RGB image (PIL or [..., H, W, 3] array) -> float32 tensor [..., 3, H, W] with (x/255 - mean) / std."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.shape[-1] != 3:
        raise ValueError(f"expected RGB data with 3 channels last, got shape {array.shape}")
    array = (array - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(array, -1, -3)))


def best_pinpoint(width: int, height: int, pinpoints) -> tuple[int, int]:
    """The (width, height) canvas that keeps the most of the image's resolution, then wastes the least area
    (transformers' / LLaVA's ``select_best_resolution``, used by the reference's ``anyres`` without tiling)."""
    best = select_best_resolution((height, width), [(canvas_h, canvas_w) for canvas_w, canvas_h in pinpoints])
    if best is None:
        raise ValueError("no pinpoints given")
    return int(best[1]), int(best[0])


@dataclass(frozen=True)
class ImagePreprocessor:
    """Turns images into normalised pixel tensors for one encoder (patch size, canvas size, mean/std)."""

    size: int = 448
    patch_size: int = 14
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    resample: int = BICUBIC

    @cached_property
    def _clip_processor(self) -> CLIPImageProcessorPil:
        return CLIPImageProcessorPil(
            size={"shortest_edge": self.size},
            crop_size={"height": self.size, "width": self.size},
            image_mean=self.mean,
            image_std=self.std,
            resample=self.resample,
        )

    def clip(self, image: ImageLike) -> torch.Tensor:
        """Shortest edge to ``size``, centre crop, normalise: [3, size, size] (transformers' CLIP processor)."""
        return self._clip_processor(images=load_image(image), return_tensors="pt")["pixel_values"][0]

    def native(self, image: ImageLike, max_tokens: int | None = None) -> torch.Tensor:
        """Aspect-preserving resize to a patch-multiple size within ``max_tokens``: [3, H, W]."""
        image = load_image(image)
        height, width = native_size(image.height, image.width, self.patch_size, max_tokens)
        if (height, width) != (image.height, image.width):
            image = image.resize((width, height), resample=self.resample)
        return normalize(image, self.mean, self.std)

    def square(self, image: ImageLike, size: int | None = None) -> torch.Tensor:
        """Letterbox onto a black ``size`` x ``size`` canvas (default ``self.size``), normalise: [3, size, size]."""
        side = size or self.size
        canvas, _ = letterbox(load_image(image), side, side, self.resample)
        return normalize(canvas, self.mean, self.std)

    def __call__(self, images: ImageLike | list[ImageLike], mode: str = "clip", **kwargs) -> dict[str, object]:
        """Batch interface: ``{"pixel_values": [B, 3, H, W]}`` (``clip``/``square``) or a list (``native``)."""
        batch = images if isinstance(images, list) else [images]
        try:
            method = {"clip": self.clip, "native": self.native, "square": self.square}[mode]
        except KeyError:
            raise ValueError(f"unknown mode {mode!r}; use clip, native or square") from None
        tensors = [method(image, **kwargs) for image in batch]
        if mode == "native":
            return {"pixel_values": tensors}
        return {"pixel_values": torch.stack(tensors)}
