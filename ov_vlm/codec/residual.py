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
exceeds ``CODED_LEVEL`` grey levels (the prediction is bit-exact for uncoded blocks, up to deblocking).
The reference then converts the 4:2:0 picture to RGB and takes its luma with red and blue swapped
(OpenCV ``BGR2YUV`` on RGB data), which mixes chroma residual into the luma; `swapped_luma` does the same.
B-frames are taken as non-reference pictures predicted from the anchors (I/P) around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

CODED_LEVEL = 3.0  # mean |error| per 4 x 4 block above which a block counts as coded
PAD = 48  # edge replication around reference planes (vectors may point outside the frame)
GRID = 4  # pixels per motion cell (H.264 partitions are multiples of 4)
SELECT = 8  # block side over which the reference frame is chosen
EXPLAINED = 1.0  # mean |error| of a block below which the most recent anchor is kept without trying older ones
TAPS = (1, -5, 20, 20, -5, 1)
# quarter-pel luma position (fx, fy) -> the two (plane, dy, dx) samples averaged; plane 0 = G, 1 = b, 2 = h, 3 = j
_QPEL = {
    (0, 0): ((0, 0, 0), (0, 0, 0)),
    (2, 0): ((1, 0, 0), (1, 0, 0)),
    (0, 2): ((2, 0, 0), (2, 0, 0)),
    (2, 2): ((3, 0, 0), (3, 0, 0)),
    (1, 0): ((0, 0, 0), (1, 0, 0)),
    (3, 0): ((1, 0, 0), (0, 0, 1)),
    (0, 1): ((0, 0, 0), (2, 0, 0)),
    (0, 3): ((2, 0, 0), (0, 1, 0)),
    (2, 1): ((1, 0, 0), (3, 0, 0)),
    (2, 3): ((3, 0, 0), (1, 1, 0)),
    (1, 2): ((2, 0, 0), (3, 0, 0)),
    (3, 2): ((3, 0, 0), (2, 0, 1)),
    (1, 1): ((1, 0, 0), (2, 0, 0)),
    (3, 1): ((1, 0, 0), (2, 0, 1)),
    (1, 3): ((2, 0, 0), (1, 1, 0)),
    (3, 3): ((1, 1, 0), (2, 0, 1)),
}


def _qpel_tables() -> np.ndarray:
    """int32 [16, 2, 3]: for code fy * 4 + fx, the two samples (plane, dy, dx)."""
    table = np.zeros((16, 2, 3), dtype=np.int32)
    for (fx, fy), pair in _QPEL.items():
        table[fy * 4 + fx] = pair
    return table


QPEL_TABLE = _qpel_tables()


def halfpel_planes(plane: np.ndarray) -> np.ndarray:
    """The integer, horizontal-half, vertical-half and centre samples of H.264 luma: int32 [4, H + 2P, W + 2P]."""
    full = np.pad(plane.astype(np.int32), PAD, mode="edge")

    def filtered(values: np.ndarray, axis: int) -> np.ndarray:
        """out[i] = sum_k tap_k * values[i + k - 2] (the outermost 3 samples, deep in the padding, stay 0)."""
        moved = np.moveaxis(values, axis, 0)
        out = np.zeros_like(moved)
        n = moved.shape[0]
        out[2 : n - 3] = sum(tap * moved[k : n - 5 + k] for k, tap in enumerate(TAPS))
        return np.moveaxis(out, 0, axis)

    horizontal, vertical = filtered(full, 1), filtered(full, 0)
    centre = np.clip((filtered(horizontal, 0) + 512) >> 10, 0, 255)
    return np.stack([full, np.clip((horizontal + 16) >> 5, 0, 255), np.clip((vertical + 16) >> 5, 0, 255), centre])


def luma_at(planes: np.ndarray, x: np.ndarray, y: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """H.264 quarter-pel luma motion compensation at pixels (``x``, ``y``) moved by (``qx``, ``qy``) quarter pels
    (1-D int arrays), from `halfpel_planes` output: int32 [n]."""
    px, py = x * 4 + qx, y * 4 + qy
    ix = np.clip((px >> 2) + PAD, 0, planes.shape[2] - 2)
    iy = np.clip((py >> 2) + PAD, 0, planes.shape[1] - 2)
    first, second = _qpel_offsets(planes.shape)
    code = (py & 3) * 4 + (px & 3)
    base = iy * planes.shape[2] + ix
    flat = planes.reshape(-1)
    return (flat.take(base + first.take(code)) + flat.take(base + second.take(code)) + 1) >> 1


@lru_cache(maxsize=8)
def _qpel_offsets(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat offsets of the two averaged samples for each quarter-pel code, for planes of ``shape``."""
    stride_plane, stride_row = shape[1] * shape[2], shape[2]
    steps = np.array([stride_plane, stride_row, 1], dtype=np.int64)
    return QPEL_TABLE[:, 0] @ steps, QPEL_TABLE[:, 1] @ steps


def chroma_at(padded: np.ndarray, x: np.ndarray, y: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """H.264 eighth-pel bilinear chroma motion compensation at chroma pixels (``x``, ``y``); the vectors are luma
    quarter pels (= chroma eighth pels); ``padded`` is the plane padded by ``PAD``: int32 [n]."""
    ex, ey = x * 8 + qx, y * 8 + qy
    ix = np.clip((ex >> 3) + PAD, 0, padded.shape[1] - 2)
    iy = np.clip((ey >> 3) + PAD, 0, padded.shape[0] - 2)
    fx, fy = ex & 7, ey & 7
    flat, row = padded.reshape(-1), padded.shape[1]
    base = iy * row + ix
    a, b = flat.take(base), flat.take(base + 1)
    c, d = flat.take(base + row), flat.take(base + row + 1)
    return ((8 - fx) * (8 - fy) * a + fx * (8 - fy) * b + (8 - fx) * fy * c + fx * fy * d + 32) >> 6


def vector_grid(vectors: np.ndarray | None, height: int, width: int, future: bool) -> tuple[np.ndarray, np.ndarray]:
    """Quarter-pel vectors (int32 [H/4, W/4, 2]) and coverage of one direction on the 4 x 4 grid.

    Each exported block covers the cells ``[dst/4 - w/8, dst/4 + w/8)`` (dst is the block centre), as the
    reference paints them; later vectors overwrite earlier ones.
    """
    rows, cols = -(-height // GRID), -(-width // GRID)
    flow = np.zeros((rows, cols, 2), dtype=np.int32)
    covered = np.zeros((rows, cols), dtype=bool)
    if vectors is None or len(vectors) == 0:
        return flow, covered
    vectors = vectors[vectors["source"] > 0] if future else vectors[vectors["source"] <= 0]
    if len(vectors) == 0:
        return flow, covered
    scale = np.maximum(vectors["motion_scale"].astype(np.int64), 1)
    motion = np.stack([vectors["motion_x"] * 4 // scale, vectors["motion_y"] * 4 // scale], axis=1).astype(np.int32)
    paint_cells(flow, covered, vectors, motion)
    return flow, covered


def paint_cells(grid: np.ndarray, covered: np.ndarray, vectors: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` over the 4 x 4 cells of each block, in the vectors' order (reference painting)."""
    rows, cols = covered.shape
    cx, cy = vectors["dst_x"].astype(np.int64) // 4, vectors["dst_y"].astype(np.int64) // 4
    half_w, half_h = vectors["w"].astype(np.int64) // 8, vectors["h"].astype(np.int64) // 8
    for size in np.unique(half_w * 64 + half_h).tolist():
        bw, bh = divmod(size, 64)
        pick = np.nonzero(half_w * 64 + half_h == size)[0]
        oy, ox = np.mgrid[-bh : max(bh, 1), -bw : max(bw, 1)]
        ys = cy[pick][:, None] + oy.ravel()[None, :]
        xs = cx[pick][:, None] + ox.ravel()[None, :]
        inside = (ys >= 0) & (ys < rows) & (xs >= 0) & (xs < cols)
        cells = np.where(inside, ys * cols + xs, -1)
        order = np.repeat(pick, cells.shape[1])  # later vectors win: write in vector order
        cells, order = cells.ravel(), order
        keep = cells >= 0
        cells, order = cells[keep], order[keep]
        last = np.argsort(order, kind="stable")
        grid.reshape(-1, grid.shape[-1])[cells[last]] = values[order[last]]
        covered.reshape(-1)[cells[last]] = True


def expand(grid: np.ndarray, factor: int, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a cell grid to ``height`` x ``width``."""
    return np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)[:height, :width]


def block_mean(values: np.ndarray, cell: int) -> np.ndarray:
    """Mean over ``cell`` x ``cell`` blocks (partial border blocks padded with their edge values)."""
    height, width = values.shape
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.pad(values, ((0, rows * cell - height), (0, cols * cell - width)), mode="edge")
    return padded.reshape(rows, cell, cols, cell).mean(axis=(1, 3))


def neighbour_dc(plane: np.ndarray, cell: int = 4) -> np.ndarray:
    """Intra DC prediction per ``cell`` block from the row above and the column to its left (128 at the border)."""
    height, width = plane.shape
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.pad(plane.astype(np.float32), ((0, rows * cell - height), (0, cols * cell - width)), mode="edge")
    above = np.full((rows, cols), np.nan, dtype=np.float32)
    left = np.full((rows, cols), np.nan, dtype=np.float32)
    above[1:] = padded[cell - 1 : -1 : cell].reshape(rows - 1, cols, cell).mean(axis=2)
    left[:, 1:] = padded[:, cell - 1 : -1 : cell].reshape(rows, cell, cols - 1).mean(axis=1)
    both = np.stack([above, left])
    count = np.isfinite(both).sum(axis=0)
    total = np.nansum(both, axis=0)
    dc = np.where(count > 0, total / np.maximum(count, 1), 128.0)
    return expand(dc, cell, height, width)


def swapped_luma(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Luma of a 4:2:0 picture as the reference takes it: limited-range BT.601 to RGB24, then OpenCV's BGR2YUV
    weights on RGB data (red and blue swapped): uint8 [H, W]."""
    height, width = y.shape
    cu = expand(u.astype(np.float32), 2, height, width) - 128.0
    cv = expand(v.astype(np.float32), 2, height, width) - 128.0
    base = 1.164 * (y.astype(np.float32) - 16.0)
    red = np.clip(np.rint(base + 1.596 * cv), 0, 255)
    green = np.clip(np.rint(base - 0.391 * cu - 0.813 * cv), 0, 255)
    blue = np.clip(np.rint(base + 2.018 * cu), 0, 255)
    return np.clip(np.rint(0.299 * blue + 0.587 * green + 0.114 * red), 0, 255).astype(np.uint8)


@dataclass
class Picture:
    """One decoded frame's planes (int32) and, once emulated, its patched picture."""

    planes: tuple[np.ndarray, np.ndarray, np.ndarray]
    patched: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _cache: dict = field(default_factory=dict)

    def reference(self, index: int, patched: bool) -> np.ndarray:
        """Plane ``index`` of the decoded or patched picture prepared for motion compensation (computed once):
        half-pel planes for luma, an edge-padded plane for chroma."""
        key = (index, patched)
        if key not in self._cache:
            source = (self.patched if patched else self.planes)[index]
            self._cache[key] = halfpel_planes(source) if index == 0 else np.pad(source, PAD, mode="edge")
        return self._cache[key]


@dataclass(frozen=True)
class ResidualOptions:
    """Ingredients of the estimate (all on = the default); switches exist for the ablation benchmark."""

    subpel: bool = True  # H.264 quarter-pel interpolation (off: whole-pel shifts)
    references: int = 3  # past anchors tried per block (1: the previous anchor only)
    drift: bool = True  # uncoded blocks copy the earlier patched picture (off: every block shows 128 + error)
    swap: bool = True  # luma with red and blue swapped (off: the Y plane)


class PatchedResidual:
    """Patched pictures of an H.264 stream fed in display order; `push` returns the wanted frames' residual luma.

    B-frames wait until the next anchor is decoded (they are predicted from it); unwanted B-frames are skipped.
    """

    def __init__(self, options: ResidualOptions | None = None):
        self.options = options or ResidualOptions()
        self.anchors: list[Picture] = []  # most recent last
        self.waiting: list[tuple[object, Picture, np.ndarray | None]] = []  # B-frames until the next anchor

    def push(self, key, planes, vectors: np.ndarray | None, kind: str, wanted: bool) -> list[tuple[object, np.ndarray]]:
        """Feed one frame (``kind`` "I", "P" or "B"); returns ``(key, |Y_patched - 128| float32)`` of wanted
        frames completed by it, in display order."""
        picture = Picture(tuple(np.asarray(p, dtype=np.int32) for p in planes))
        done: list[tuple[object, np.ndarray]] = []
        if kind == "B" and self.anchors:
            if wanted:
                self.waiting.append((key, picture, vectors))
            return done
        past = self.anchors
        self._emulate(picture, vectors, intra=kind == "I" or not past, past=past, future=None)
        pending, self.waiting = self.waiting, []
        self.anchors = [*past, picture][-self.options.references :]
        for b_key, b_picture, b_vectors in pending:
            self._emulate(b_picture, b_vectors, intra=False, past=past, future=picture)
            done.append((b_key, self.energy(b_picture)))
        if wanted:
            done.append((key, self.energy(picture)))
        return done

    def skip(self) -> list[tuple[object, np.ndarray]]:
        """A frame that is not fed: the chain of patched pictures breaks, so the next anchor starts afresh (as an
        intra picture). Returns the waiting wanted B-frames, finished from the past only."""
        done = self.flush()
        self.anchors = []
        return done

    def flush(self) -> list[tuple[object, np.ndarray]]:
        """Wanted B-frames still waiting at the end of the stream (predicted from the past only)."""
        done = []
        for key, picture, vectors in self.waiting:
            self._emulate(picture, vectors, intra=False, past=self.anchors, future=None)
            done.append((key, self.energy(picture)))
        self.waiting = []
        return done

    def energy(self, picture: Picture) -> np.ndarray:
        """``|Y - 128|`` of the patched picture's luma (swapped or plain): float32 [H, W]."""
        y, u, v = picture.patched
        if self.options.swap:
            luma = swapped_luma(np.clip(y, 0, 255), np.clip(u, 0, 255), np.clip(v, 0, 255)).astype(np.float32)
        else:
            luma = np.clip(y, 0, 255).astype(np.float32)
        return np.abs(luma - 128.0)

    def _emulate(self, picture: Picture, vectors, intra: bool, past: list[Picture], future: Picture | None) -> None:
        height, width = picture.planes[0].shape
        if intra:
            picture.patched = tuple(np.clip(128 + p - neighbour_dc(p), 0, 255).astype(np.int32) for p in picture.planes)
            return
        flow, past_covered = vector_grid(vectors, height, width, future=False)
        ahead, ahead_covered = vector_grid(vectors, height, width, future=True)
        if future is None:
            ahead_covered[:] = False
        predictions = self._predict(picture, past, flow, past_covered, ahead, ahead_covered, future)
        inter = expand(past_covered | ahead_covered, GRID, height, width)
        patched = []
        for index, (plane, (clean, drifted)) in enumerate(zip(picture.planes, predictions, strict=True)):
            mask = inter if index == 0 else inter[::2, ::2][: plane.shape[0], : plane.shape[1]]
            error = plane - clean
            if self.options.drift:
                coded = expand(block_mean(np.abs(error).astype(np.float32), 4) > CODED_LEVEL, 4, *plane.shape)
                inter_value = np.where(coded, 128 + error, drifted)
            else:
                inter_value = 128 + error
            intra_value = 128 + plane - neighbour_dc(plane)
            patched.append(np.clip(np.where(mask, inter_value, intra_value), 0, 255).astype(np.int32))
        picture.patched = tuple(patched)

    def _predict(self, picture, anchors, past, past_covered, ahead, ahead_covered, future):
        """Per plane (clean prediction, patched prediction), the past reference chosen per 8 x 8 block."""
        height, width = picture.planes[0].shape
        chroma_height, chroma_width = picture.planes[1].shape
        luma_past = Vectors(past, past_covered, height, width, 1, self.options.subpel)
        chroma_past = Vectors(past, past_covered, chroma_height, chroma_width, 2, self.options.subpel)
        candidates = list(reversed(anchors))  # most recent first
        luma_choice, latest = self._choose(picture.planes[0], candidates, luma_past)
        full = np.zeros(height * width, dtype=np.int64)
        full[luma_past.index] = luma_choice
        chroma_choice = full.reshape(height, width)[::2, ::2][:chroma_height, :chroma_width].reshape(-1)
        results = []
        for index in range(3):
            vectors, choice = (
                (luma_past, luma_choice) if index == 0 else (chroma_past, chroma_choice[chroma_past.index])
            )
            sample = luma_at if index == 0 else chroma_at
            pair = []
            for patched in (False, True):
                values = np.zeros(vectors.count, dtype=np.int32)
                for number, anchor in enumerate(candidates):
                    take = np.nonzero(choice == number)[0]
                    if not len(take):
                        continue
                    if index == 0 and not patched and number == 0 and latest is not None:
                        found = latest[take]  # computed while choosing the references
                    else:
                        found = sample(anchor.reference(index, patched), *vectors.at(take))
                    values.reshape(-1)[vectors.index[take]] = found
                pair.append(values.reshape(vectors.shape))
            results.append(pair)
        if future is not None and ahead_covered.any():
            self._add_future(picture, results, past_covered, ahead, ahead_covered, future)
        return [tuple(pair) for pair in results]

    def _add_future(self, picture, results, past_covered, ahead, ahead_covered, future) -> None:
        """Blend in the L1 (next anchor) prediction: averaged where both directions predict, alone where only L1."""
        for index in range(3):
            height, width = picture.planes[index].shape
            factor = 1 if index == 0 else 2
            vectors = Vectors(ahead, ahead_covered, height, width, factor, self.options.subpel)
            both = expand(past_covered, GRID // factor, height, width).reshape(-1)[vectors.index]
            sample = luma_at if index == 0 else chroma_at
            for which, patched in enumerate((False, True)):
                theirs = sample(future.reference(index, patched), *vectors.at())
                flat = results[index][which].reshape(-1)
                mine = flat[vectors.index]
                flat[vectors.index] = np.where(both, (mine + theirs + 1) >> 1, theirs)

    @staticmethod
    def _choose(y: np.ndarray, candidates: list[Picture], vectors: Vectors) -> tuple[np.ndarray, np.ndarray | None]:
        """Per covered luma pixel, the number of the candidate that best predicts its 8 x 8 block (most recent
        first; later candidates are tried only on blocks the first does not explain), and the first candidate's
        clean luma prediction of those pixels (None when there is nothing to choose)."""
        choice = np.zeros(len(vectors.index), dtype=np.int64)
        if len(candidates) == 1 or not len(vectors.index):
            return choice, None
        target = y.reshape(-1)[vectors.index]
        width = y.shape[1]
        rows, cols = vectors.index // width, vectors.index % width
        block = (rows // SELECT) * (-(-width // SELECT)) + cols // SELECT
        blocks = int(block.max()) + 1
        first = luma_at(candidates[0].reference(0, False), *vectors.at())
        best = np.bincount(block, weights=np.abs(target - first), minlength=blocks)
        pixels = np.bincount(block, minlength=blocks)
        unsure = np.nonzero(best[block] > EXPLAINED * pixels[block])[0]
        for number, anchor in enumerate(candidates[1:], start=1):
            if not len(unsure):
                break
            error = np.abs(target[unsure] - luma_at(anchor.reference(0, False), *vectors.at(unsure)))
            total = np.bincount(block[unsure], weights=error, minlength=blocks)
            better = np.zeros(blocks, dtype=bool)
            touched = np.bincount(block[unsure], minlength=blocks) > 0
            better[touched] = total[touched] < best[touched]
            best = np.where(better, total, best)
            choice[unsure[better[block[unsure]]]] = number
        return choice, first


@lru_cache(maxsize=16)
def _pixel_cells(height: int, width: int, cell: int, columns: int) -> np.ndarray:
    """Flat index of the motion cell (``columns`` per row) of every pixel of a ``height`` x ``width`` plane."""
    rows = np.arange(height) // cell
    cols = np.arange(width) // cell
    return (rows[:, None] * columns + cols[None, :]).reshape(-1)


class Vectors:
    """The covered pixels of one plane and their vectors (quarter pels), as flat arrays."""

    def __init__(self, grid, covered, height: int, width: int, factor: int, subpel: bool):
        cells = _pixel_cells(height, width, GRID // factor, covered.shape[1])
        self.shape = (height, width)
        self.index = np.nonzero(covered.reshape(-1).take(cells))[0]
        self.count = height * width
        flow = grid.reshape(-1, 2)[cells.take(self.index)]
        if not subpel:
            step = 4 if factor == 1 else 8
            flow = (flow // step) * step
        self.data = np.stack([self.index % width, self.index // width, flow[:, 0], flow[:, 1]])  # x, y, qx, qy

    def at(self, take: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(x, y, qx, qy) of all covered pixels or of the ``take`` subset."""
        return tuple(self.data if take is None else self.data[:, take])
