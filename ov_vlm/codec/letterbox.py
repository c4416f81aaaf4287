"""The sampled frames on the square letterbox canvas, in RGB: what the mosaics are cut from.

Both profiles letterbox as the reference's stage 2 does (RGB at the frame's own size, then OpenCV's
``INTER_LINEAR`` onto the content box, `reference.letterbox_rgb`): a profile changes which patches are picked,
not how they look. Only the cells the selection keeps (12.5 % of a clip's cells by default) go into the mosaics,
so where a frame's RGB takes no more memory than its canvas, `Letterboxes` keeps the RGB and resizes those cells
alone, the whole canvases only when asked (`Letterboxes.canvases`, for pictures); larger frames are resized when
they are decoded, so the memory held never exceeds the canvases'. Both give the same pixels.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from . import kernels, reference
from .packing import paste_from_canvases
from .saliency import CanvasGeometry


def frame_rgb(frame: av.VideoFrame, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """The frame in RGB at its own size: uint8 [H, W, 3] (a view of the converted frame's buffer; rows may be
    strided)."""
    rgb = (reformatter or VideoReformatter()).reformat(frame, format="rgb24")
    plane = rgb.planes[0]
    pixels = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[: rgb.height, : rgb.width * 3]
    return pixels.reshape(rgb.height, rgb.width, 3)


def reference_letterboxed_rgb(
    frame: av.VideoFrame, geometry: CanvasGeometry, out: np.ndarray, reformatter: VideoReformatter | None = None
) -> np.ndarray:
    """The frame in RGB at its own size, resized with OpenCV's ``INTER_LINEAR`` onto its content box of ``out``
    (black padding): how the reference letterboxes the frames of its mosaics (`reference.letterbox_rgb`)."""
    return reference.letterbox_rgb(frame_rgb(frame, reformatter), geometry, out)


def paste_cells(
    rgb: np.ndarray, geometry: CanvasGeometry, rows: np.ndarray, cols: np.ndarray, out: np.ndarray, targets: np.ndarray
) -> None:
    """Cells (``rows[k]``, ``cols[k]``) of ``reference.letterbox_rgb(rgb, ...)``'s canvas, resized for those cells
    alone (the same pixels), into cell (``targets[k, 1]``, ``targets[k, 2]``) of ``out[targets[k, 0]]`` (uint8
    [M, S, S, 3] canvases of ``geometry.patch`` cells, zeroed by the caller)."""
    patch, (source_h, source_w, channels) = geometry.patch, rgb.shape
    order = np.argsort(rows, kind="stable")
    y0, y1, b0, b1 = reference.fixed_linear_taps(source_h, geometry.content_height)
    kernels.linear_resize_cells_u8(
        np.ascontiguousarray(rgb).reshape(source_h, source_w * channels),
        np.asarray(rows, dtype=np.int64)[order],
        np.asarray(cols, dtype=np.int64)[order],
        *reference.interleaved_taps(source_w, geometry.content_width, channels),
        y0,
        y1,
        b0,
        b1,
        geometry.pad_top,
        geometry.pad_left,
        patch,
        channels,
        out.reshape(out.shape[0], out.shape[1], -1),
        np.asarray(targets, dtype=np.int64)[order],
    )


class Letterboxes:
    """The letterboxed canvases of ``count`` sampled frames (slots), filled while decoding (`put`, `share`); the
    mosaics take the kept cells (`paste`, from `ov_vlm.codec.packing.pack`), pictures the whole canvases
    (`canvases`, uint8 [T, C, C, 3]). A frame is kept at its own size and resized per kept cell when its RGB is no
    larger than a canvas (``lazy``), else resized when put."""

    def __init__(self, count: int, geometry: CanvasGeometry):
        self.geometry = geometry
        self.lazy = geometry.height * geometry.width <= geometry.canvas**2
        self._sources: list[np.ndarray | None] = [None] * count  # lazy: each slot's RGB (shared by repeats)
        self._canvases: np.ndarray | None = None
        if not self.lazy:
            self._canvases = np.zeros((count, geometry.canvas, geometry.canvas, 3), dtype=np.uint8)
        self._scaler = VideoReformatter()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_scaler"]  # an FFmpeg context: made afresh where a pickled copy is loaded
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _scaler=VideoReformatter())

    @property
    def cells(self) -> int:
        return self.geometry.cells

    def __len__(self) -> int:
        return len(self._sources)

    def put(self, slot: int, frame: av.VideoFrame) -> None:
        """The decoded ``frame`` is what ``slot`` shows."""
        if self.lazy:
            self._sources[slot] = frame_rgb(frame, self._scaler).copy()
        else:
            reference_letterboxed_rgb(frame, self.geometry, self._canvases[slot], self._scaler)

    def share(self, slot: int, source: int) -> None:
        """``slot`` shows the same frame as ``source``."""
        if self.lazy:
            self._sources[slot] = self._sources[source]
        else:
            self._canvases[slot] = self._canvases[source]

    def paste(self, t: np.ndarray, h: np.ndarray, w: np.ndarray, mosaics: np.ndarray, targets: np.ndarray) -> None:
        """Canvas cell (``t[k]``, ``h[k]``, ``w[k]``) (slot, cell row, cell column) into cell (``targets[k, 1]``,
        ``targets[k, 2]``) of ``mosaics[targets[k, 0]]`` (uint8 [M, C, C, 3], zeroed by the caller)."""
        if not self.lazy:
            paste_from_canvases(self._canvases, t, h, w, mosaics, targets, self.geometry.patch)
            return
        order = np.argsort(t, kind="stable")
        bounds = np.searchsorted(t[order], np.arange(len(self) + 1))
        for slot, source in enumerate(self._sources):
            chosen = order[bounds[slot] : bounds[slot + 1]]
            if len(chosen) and source is not None:  # a slot never filled stays black, as its canvas would
                paste_cells(source, self.geometry, h[chosen], w[chosen], mosaics, targets[chosen])

    def canvases(self) -> np.ndarray:
        """uint8 [T, C, C, 3], made on the first call where the frames are kept at their own size."""
        if self._canvases is None:
            side = self.geometry.canvas
            canvases = np.zeros((len(self), side, side, 3), dtype=np.uint8)
            made: dict[int, int] = {}  # id of a kept RGB -> the slot whose canvas shows it
            for slot, source in enumerate(self._sources):
                if source is None:
                    continue
                if id(source) in made:
                    canvases[slot] = canvases[made[id(source)]]
                else:
                    reference.letterbox_rgb(source, self.geometry, canvases[slot])
                    made[id(source)] = slot
            self._canvases = canvases
        return self._canvases
