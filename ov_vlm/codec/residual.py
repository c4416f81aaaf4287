"""An estimate, from stock FFmpeg output, of the "residual" picture the reference's patched H.264 decoder shows.

The reference (codec.md §2.1, §2.4) decodes with an IDCT that writes ``128 + residual`` instead of adding the
residual to the prediction. Its picture therefore shows, per 4 x 4 block:

- coded blocks: ``128 + residual``; the residual is ``decoded - prediction``, so it is rebuilt here from the decoded
  frame and a prediction made exactly as H.264 makes it (quarter-pel 6-tap luma and eighth-pel bilinear chroma
  interpolation of the exported vectors, bi-prediction averaged), from the reference frame that best explains the
  block among the last few anchors (the exported vectors carry no reference index);
- blocks without coefficients: the same prediction applied to the earlier *patched* pictures, i.e. a drifting copy
  of older residuals (emulated by keeping a patched picture per anchor frame);
- intra blocks: ``128 +`` the block minus a DC prediction from its upper and left neighbours.

Whether a block had coefficients is not exported: a block counts as coded when its mean absolute prediction error
exceeds 3 grey levels (the prediction is bit-exact for uncoded blocks, up to deblocking).
The reference then converts the 4:2:0 picture to RGB and takes its luma with red and blue swapped
(OpenCV ``BGR2YUV`` on RGB data), which mixes chroma residual into the luma; `kernels.swapped_levels` does the same.
B-frames are taken as non-reference pictures predicted from the anchors (I/P) around them.

The per-block work runs in compiled kernels (`kernels`), one call per frame, on uint8 planes padded to whole
8 x 8 luma blocks; the anchors' decoded and patched pictures live in a few reusable slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels

GRID = 4  # pixels per motion cell (H.264 partitions are multiples of 4)
BLOCK = 8  # planes are padded to whole blocks of this side (the reference frame is chosen per block)


def vector_grid(vectors: np.ndarray | None, height: int, width: int, future: bool) -> tuple[np.ndarray, np.ndarray]:
    """Quarter-pel vectors (int64 [H/4, W/4, 2]) and coverage of one direction on the 4 x 4 grid.

    Each exported block covers the cells ``[dst/4 - w/8, dst/4 + w/8)`` (dst is the block centre), as the
    reference paints them; later vectors overwrite earlier ones.
    """
    flows, covs = vector_grids(vectors, height, width)
    return flows[int(future)], covs[int(future)]


def vector_grids(vectors: np.ndarray | None, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """`vector_grid` of both directions at once: int64 [2, H/4, W/4, 2] (past, future) and bool [2, H/4, W/4]."""
    rows, cols = -(-height // GRID), -(-width // GRID)
    flows = np.zeros((2, rows, cols, 2), dtype=np.int64)
    covs = np.zeros((2, rows, cols), dtype=bool)
    if vectors is None or len(vectors) == 0:
        return flows, covs
    ahead = vectors["source"] > 0
    scale = np.maximum(vectors["motion_scale"].astype(np.int64), 1)
    motion = np.stack([vectors["motion_x"] * 4 // scale, vectors["motion_y"] * 4 // scale], axis=1)
    for direction, chosen in enumerate((~ahead, ahead)):
        paint_cells(flows[direction], covs[direction], vectors, motion, chosen)
    return flows, covs


def paint_cells(
    grid: np.ndarray, covered: np.ndarray, vectors: np.ndarray, values: np.ndarray, chosen: np.ndarray | None = None
) -> None:
    """Write ``values`` (one row per vector) over the 4 x 4 cells of each block (of the ``chosen`` vectors, default
    all), in the vectors' order, smaller blocks first (reference painting; H.264 blocks do not overlap, so the
    order rarely matters)."""
    keep = np.ones(len(vectors), dtype=bool) if chosen is None else chosen
    fields = (vectors[name] for name in ("w", "h", "dst_x", "dst_y"))
    kernels.paint_blocks(grid, covered, *fields, values, keep)


def expand(grid: np.ndarray, factor: int, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a cell grid to ``height`` x ``width``."""
    return np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)[:height, :width]


@dataclass(frozen=True)
class ResidualOptions:
    """Ingredients of the estimate (all on = the default); switches exist for the ablation benchmark."""

    subpel: bool = True  # H.264 quarter-pel interpolation (off: whole-pel shifts)
    references: int = 3  # past anchors tried per block (1: the previous anchor only)
    drift: bool = True  # uncoded blocks copy the earlier patched picture (off: every block shows 128 + error)
    swap: bool = True  # luma with red and blue swapped (off: the Y plane)
    weighted: bool = True  # B-frames: H.264 implicit weighted bi-prediction (off: the plain average)


class Slots:
    """The anchors' decoded (0) and patched (1) pictures: ``y`` uint8 [S, 2, H, W], ``c`` [S, 2, 2, H/2, W/2]
    (U, V), for frames padded to ``height`` x ``width``; ``h`` [S, 2, 3, H, W] the luma's half-sample planes
    (`kernels.half_planes`, made by `finish_luma` once per picture: the predictions read them)."""

    def __init__(self, count: int, height: int, width: int):
        self.shape = (height, width)
        self.y = np.zeros((count, 2, height, width), dtype=np.uint8)
        self.h = np.zeros((count, 2, 3, height, width), dtype=np.uint8)
        self.c = np.zeros((count, 2, 2, height // 2, width // 2), dtype=np.uint8)
        self.positions = np.zeros(count, dtype=np.int64)  # display position of each slot's anchor

    def free(self, used: list[int]) -> int:
        return next(slot for slot in range(len(self.y)) if slot not in used)

    def finish_luma(self, slot: int, which: int) -> None:
        """The half-sample planes of a slot's decoded (0) or patched (1) luma, once it is written."""
        kernels.half_planes(self.y[slot, which], self.h[slot, which])


def padded_shape(height: int, width: int) -> tuple[int, int]:
    return -(-height // BLOCK) * BLOCK, -(-width // BLOCK) * BLOCK


def load_planes(planes, y: np.ndarray, c: np.ndarray) -> None:
    """Copy a 4:2:0 frame's Y, U, V into ``y`` and ``c`` [2], edge-padded to their sizes."""
    kernels.pad_into(planes[0], y)
    kernels.pad_into(planes[1], c[0])
    kernels.pad_into(planes[2], c[1])


class PatchedResidual:
    """Patched pictures of an H.264 stream fed in display order; `push` returns the wanted frames' residual luma.

    B-frames wait until the next anchor is decoded (they are predicted from it); unwanted B-frames are skipped.
    """

    def __init__(self, options: ResidualOptions | None = None):
        self.options = options or ResidualOptions()
        self.anchors: list[int] = []  # slots of the past anchors, most recent last
        self.waiting: list[tuple] = []  # B-frames: key, position, size, planes, vectors
        self.slots: Slots | None = None
        self.position = -1  # display position of the latest frame fed or skipped

    def push(
        self, key, planes, vectors: np.ndarray | None, kind: str, wanted: bool, idr: bool = False
    ) -> list[tuple[object, np.ndarray]]:
        """Feed one frame (``kind`` "I", "P" or "B"; ``planes`` its Y, U, V); returns ``(key, levels)`` of the
        wanted frames completed by it, in display order (`levels`). Nothing after an ``idr`` picture is predicted
        from before it: the B-frames waiting are finished from the past, and the chain starts afresh."""
        self.position += 1
        restarted = []
        if idr:
            restarted, self.anchors = self.flush(), []
        size = np.shape(planes[0])
        shape = padded_shape(*size)
        if self.slots is None or self.slots.shape != shape:
            self.slots, self.anchors = Slots(self.options.references + 1, *shape), []
        slots = self.slots
        if kind == "B" and self.anchors:
            if wanted:
                y, c = np.empty(shape, np.uint8), np.empty((2, shape[0] // 2, shape[1] // 2), np.uint8)
                load_planes(planes, y, c)
                self.waiting.append((key, self.position, size, (y, c), vectors))
            return []
        past, slot = self.anchors, slots.free(self.anchors)
        slots.positions[slot] = self.position
        load_planes(planes, slots.y[slot, 0], slots.c[slot, 0])
        slots.finish_luma(slot, 0)
        out = (slots.y[slot, 1], slots.c[slot, 1])
        if kind == "I" or not past:
            self._intra(slots.y[slot, 0], slots.c[slot, 0], *out)
        else:
            self._inter(slots.y[slot, 0], slots.c[slot, 0], vectors, self.position, past, -1, *out)
        slots.finish_luma(slot, 1)
        done = restarted + self._finish_waiting(past, slot)
        self.anchors = [*past, slot][-self.options.references :]
        if wanted:
            done.append((key, self.levels(*out, size)))
        return done

    def pass_over(self, count: int, before_idr: bool = False) -> None:
        """``count`` frames not fed (not decoded): unwanted B-frames, once there are anchors (what `push` does with
        them), or, ``before_idr``, anything before an IDR picture (the chain starts afresh there)."""
        if not self.anchors and not before_idr:
            raise ValueError("a frame before the first anchor must be fed (it may be taken as one)")
        self.position += count

    def skip(self, count: int = 1) -> list[tuple[object, np.ndarray]]:
        """``count`` frames that are not fed: the chain of patched pictures breaks, so the next anchor starts
        afresh (as an intra picture). Returns the waiting wanted B-frames, finished from the past only."""
        done = self.flush()
        self.anchors = []
        self.position += count
        return done

    def flush(self) -> list[tuple[object, np.ndarray]]:
        """Wanted B-frames still waiting at the end of the stream (predicted from the past only)."""
        return self._finish_waiting(self.anchors, -1)

    def levels(self, y: np.ndarray, c: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``|Y - 128|`` of a patched picture's luma (swapped or plain), cropped to ``size``: uint8 [H, W]."""
        height, width = size
        if self.options.swap:
            return kernels.swapped_levels(y, c, height, width)
        return kernels.plain_levels(y, height, width)

    def _finish_waiting(self, past: list[int], future: int) -> list[tuple[object, np.ndarray]]:
        """Emulate the waiting B-frames from ``past`` and the ``future`` slot (-1: none)."""
        done = []
        for key, position, size, (y, c), vectors in self.waiting:
            out = (np.empty_like(y), np.empty_like(c))
            self._inter(y, c, vectors, position, past, future, *out)
            done.append((key, self.levels(*out, size)))
        self.waiting = []
        return done

    def _intra(self, y, c, out_y, out_c) -> None:
        kernels.intra_plane(y, out_y)
        if self.options.swap:
            kernels.intra_plane(c[0], out_c[0])
            kernels.intra_plane(c[1], out_c[1])

    def _inter(self, y, c, vectors, position: int, past: list[int], future: int, out_y, out_c) -> None:
        """One inter picture's (display ``position``) patched planes from its vectors and the anchors in ``past``
        / ``future``."""
        height, width = y.shape
        flows, covs = vector_grids(vectors, height, width)
        if self.options.subpel:
            chroma_flows = flows
        else:
            flows, chroma_flows = flows // 4 * 4, flows // 8 * 8
        order = np.array(past[::-1], dtype=np.int64)  # most recent first
        weights = np.full(len(order), 32, dtype=np.int64)
        if future >= 0 and self.options.weighted:
            ahead = int(self.slots.positions[future])
            weights[:] = [kernels.implicit_weight(position, int(self.slots.positions[s]), ahead) for s in order]
        kernels.emulate_inter(
            y, c, flows, chroma_flows, covs, self.slots.y, self.slots.h, self.slots.c, order, weights, future,
            self.options.swap, self.options.drift, out_y, out_c,
        )  # fmt: skip
