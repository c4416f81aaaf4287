"""`CodecSelection`: the selected patches of one video, in memory (arrays + PIL images) or on disk.

On disk (reference-compatible names): ``mosaic_000.jpg``... (or ``.png``), ``positions_thw.npy`` (int32 [K, 3],
token order), ``frame_ids.npy`` (int32 [T]), ``visidx_thw.npy`` (int32 [K, 3], selection order: mandatory first,
then by falling score), ``meta.json``. A folder is written under a temporary name and renamed when complete, so an
interrupted run never leaves a folder that looks finished.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

META_FILE = "meta.json"
FORMAT_VERSION = 1


class Canvases(Protocol):
    """The letterboxed sampled frames, made on request (`ov_vlm.codec.letterbox.Letterboxes`)."""

    def canvases(self) -> np.ndarray: ...


@dataclass
class CodecSelection:
    """Result of `select_patches`.

    positions: int32 [K, 3] (t, h, w) of token k when the mosaics are read mosaic-major, row-major; t is a slot on
        the 64-slot temporal grid, h and w are canvas cells. Raster-sorted (block 2: raster by 2 x 2 block).
    frame_ids: int32 [T] source frame number of every sampled frame.
    scores: float32 [T, G, G] saliency of every canvas cell (None when loaded from disk).
    mosaics: uint8 [M, C, C, 3] RGB mosaics.
    selection_order: int32 [K, 3] kept cells in selection order (``visidx_thw``), t in slots.
    meta: sampling, letterbox/padding, K, codec, transcoding, static fallback, timings, settings.
    letterboxes: the sampled frames on the canvas (`ov_vlm.codec.letterbox.Letterboxes`; in memory only, for
        `frames`).
    """

    positions: np.ndarray
    frame_ids: np.ndarray
    scores: np.ndarray | None
    mosaics: np.ndarray
    selection_order: np.ndarray
    meta: dict
    letterboxes: Canvases | None = field(default=None, repr=False)

    @property
    def frames(self) -> np.ndarray | None:
        """uint8 [T, C, C, 3] the letterboxed sampled frames (for pictures; made on first use, not saved; None
        when loaded from disk)."""
        return None if self.letterboxes is None else self.letterboxes.canvases()

    @property
    def num_patches(self) -> int:
        return len(self.positions)

    @property
    def images(self) -> list[Image.Image]:
        """The mosaics as PIL images."""
        return [Image.fromarray(mosaic) for mosaic in self.mosaics]

    def _format(self, image_format: str | None, jpeg_quality: int | None) -> tuple[str, int]:
        settings = self.meta.get("settings", {})
        return image_format or settings.get("image_format", "jpg"), jpeg_quality or settings.get("jpeg_quality", 95)

    def stored(self, image_format: str | None = None, jpeg_quality: int | None = None) -> CodecSelection:
        """This selection with its mosaics as `save` stores them and `load` reads them back (JPEG loses a little,
        PNG nothing), so a selection gives the same pixels whether it was saved or not."""
        image_format, jpeg_quality = self._format(image_format, jpeg_quality)
        if image_format == "png":
            return self
        decoded = []
        for image in self.images:
            buffer = io.BytesIO()
            _write_mosaic(image, buffer, image_format, jpeg_quality)
            decoded.append(_rgb_array(buffer))
        return dataclasses.replace(self, mosaics=np.stack(decoded))

    def save(self, directory: str | Path, image_format: str | None = None, jpeg_quality: int | None = None) -> Path:
        """Write the selection to ``directory`` (replaced atomically); returns the directory."""
        image_format, jpeg_quality = self._format(image_format, jpeg_quality)
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            names = []
            for index, image in enumerate(self.images):
                name = f"mosaic_{index:03d}.{image_format}"
                _write_mosaic(image, staging / name, image_format, jpeg_quality)
                names.append(name)
            np.save(staging / "positions_thw.npy", self.positions.astype(np.int32))
            np.save(staging / "frame_ids.npy", self.frame_ids.astype(np.int32))
            np.save(staging / "visidx_thw.npy", self.selection_order.astype(np.int32))
            meta = {**self.meta, "mosaic_files": names, "format_version": FORMAT_VERSION}
            (staging / META_FILE).write_text(json.dumps(meta, indent=1, default=_jsonable))
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CodecSelection:
        """Read a folder written by `save` (or by ``ov-vlm codec``)."""
        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{directory}: no {META_FILE}; not a codec selection folder")
        meta = json.loads(meta_path.read_text())
        mosaics = np.stack([_rgb_array(directory / name) for name in meta["mosaic_files"]])
        return cls(
            positions=np.load(directory / "positions_thw.npy"),
            frame_ids=np.load(directory / "frame_ids.npy"),
            scores=None,
            mosaics=mosaics,
            selection_order=np.load(directory / "visidx_thw.npy"),
            meta=meta,
        )


def _write_mosaic(image: Image.Image, target, image_format: str, jpeg_quality: int) -> None:
    """One mosaic to a path or file object: PNG, or JPEG as the reference writes its mosaics (OpenCV: libjpeg,
    4:2:0 chroma), so that the same picks give the same pixels."""
    if image_format == "png":
        image.save(target, format="PNG", compress_level=1)
    else:
        image.save(target, format="JPEG", quality=jpeg_quality, subsampling=2)


def _rgb_array(source) -> np.ndarray:
    """An image file (path or file object) as uint8 [H, W, 3] (RGB files are not converted again)."""
    with Image.open(source) as image:
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def is_complete(directory: str | Path) -> bool:
    """True if ``directory`` holds a finished selection (meta + arrays + every mosaic)."""
    directory = Path(directory)
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except (OSError, ValueError):
        return False
    needed = ["positions_thw.npy", "frame_ids.npy", "visidx_thw.npy", *meta.get("mosaic_files", [])]
    return bool(meta.get("mosaic_files")) and all((directory / name).is_file() for name in needed)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
