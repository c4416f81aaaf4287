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

Layout, for speed: every plane is edge-padded to whole 8 x 8 luma blocks and handled as 4 x 4 luma cells (one
vector per cell), stored sample-major (``[16, cells]`` luma, ``[4, cells]`` chroma, int16) so that each prediction
is one gather per cell and every per-cell test runs over contiguous rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

CODED_LEVEL = 3.0  # mean |error| per 4 x 4 block above which a block counts as coded
PAD = 16  # edge replication around reference planes (>= 9); cells pointing further out are clamped into it
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
    """The integer, horizontal-half, vertical-half and centre samples of H.264 luma: int16 [4, H + 2P, W + 2P]."""
    full = np.pad(plane.astype(np.int16), PAD, mode="edge")
    horizontal, vertical = _six_tap(full, 1, np.int16), _six_tap(full, 0, np.int16)  # within -2550..10710
    centre = _six_tap(horizontal.astype(np.int32), 0, np.int32)
    out = np.empty((4, *full.shape), dtype=np.int16)
    out[0] = full
    np.clip((horizontal + 16) >> 5, 0, 255, out=out[1])
    np.clip((vertical + 16) >> 5, 0, 255, out=out[2])
    np.clip((centre + 512) >> 10, 0, 255, out=out[3])
    return out


def _six_tap(values: np.ndarray, axis: int, dtype) -> np.ndarray:
    """out[i] = sum_k tap_k * values[i + k - 2] along ``axis`` (the outermost 3 samples, deep in the padding,
    stay 0), accumulated in place in ``dtype``."""
    out = np.zeros(values.shape, dtype=dtype)
    n = values.shape[axis]

    def span(start: int, stop: int) -> tuple[slice, ...]:
        return (slice(None),) * axis + (slice(start, stop),)

    total = out[span(2, n - 3)]
    for k, tap in enumerate(TAPS):
        term = values[span(k, n - 5 + k)]
        total += term if tap == 1 else tap * term
    return out


@lru_cache(maxsize=16)
def _window(stride: int, side: int) -> np.ndarray:
    """Flat offsets of a ``side`` x ``side`` window in a plane of row ``stride``: int64 [side * side]."""
    return (np.arange(side)[:, None] * stride + np.arange(side)[None, :]).reshape(-1)


@lru_cache(maxsize=8)
def _qpel_offsets(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat offsets of the two averaged samples for each quarter-pel code, for planes of ``shape``."""
    stride_plane, stride_row = shape[1] * shape[2], shape[2]
    steps = np.array([stride_plane, stride_row, 1], dtype=np.int64)
    return QPEL_TABLE[:, 0] @ steps, QPEL_TABLE[:, 1] @ steps


def _clamp(values: np.ndarray, low: int, high: int) -> np.ndarray:
    """``np.clip`` without its per-call overhead (many small arrays)."""
    return np.minimum(np.maximum(values, low), high)


def luma_cells(planes: np.ndarray, cx: np.ndarray, cy: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """H.264 quarter-pel luma motion compensation of the 4 x 4 cells (``cx``, ``cy``) moved by (``qx``, ``qy``)
    quarter pels (one vector per cell), from `halfpel_planes` output: int16 [16, n] (sample-major)."""
    px, py = cx * (4 * GRID) + qx, cy * (4 * GRID) + qy
    # clamped into the filtered part of the padding: a block moved further out reads the same replicated samples
    ix = _clamp((px >> 2) + PAD, 2, planes.shape[2] - GRID - 4)
    iy = _clamp((py >> 2) + PAD, 2, planes.shape[1] - GRID - 4)
    code = (py & 3) * 4 + (px & 3)
    base = iy * planes.shape[2] + ix
    first, second = (offsets.take(code) for offsets in _qpel_offsets(planes.shape))
    window = _window(planes.shape[2], GRID)[:, None]
    flat = planes.reshape(-1)
    a = flat.take(window + (base + first)[None, :])
    split = first != second  # half-pel and whole-pel positions need one sample only
    if split.all():
        return (a + flat.take(window + (base + second)[None, :]) + 1) >> 1
    cells = np.nonzero(split)[0]
    b = flat.take(window + (base[cells] + second[cells])[None, :])
    a[:, cells] = (a[:, cells] + b + 1) >> 1
    return a


def chroma_cells(padded: np.ndarray, cx: np.ndarray, cy: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """H.264 eighth-pel bilinear chroma motion compensation of the 2 x 2 chroma cells under the luma cells
    (``cx``, ``cy``); the vectors are luma quarter pels (= chroma eighth pels); ``padded`` is the int16 plane
    padded by ``PAD``: int16 [4, n] (sample-major)."""
    side = GRID // 2
    ex, ey = cx * (8 * side) + qx, cy * (8 * side) + qy
    ix = _clamp((ex >> 3) + PAD, 0, padded.shape[1] - side - 1)
    iy = _clamp((ey >> 3) + PAD, 0, padded.shape[0] - side - 1)
    fx, fy = (ex & 7).astype(np.int16), (ey & 7).astype(np.int16)
    window = _window(padded.shape[1], side + 1)[:, None]  # sample-major: inner loops run over the cells
    around = padded.reshape(-1).take(window + (iy * padded.shape[1] + ix)[None, :]).reshape(side + 1, side + 1, -1)
    rows = (8 - fx) * around[:, :side] + fx * around[:, 1:]  # separable: the same sums as H.264's formula
    return (((8 - fy) * rows[:side] + fy * rows[1:] + 32) >> 6).reshape(side * side, -1)


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
        order = np.repeat(pick, cells.shape[1])  # ascending: later vectors are written last and win
        cells = cells.ravel()
        keep = cells >= 0
        cells, order = cells[keep], order[keep]
        grid.reshape(-1, grid.shape[-1])[cells] = values[order]
        covered.reshape(-1)[cells] = True


def expand(grid: np.ndarray, factor: int, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a cell grid to ``height`` x ``width``."""
    return np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)[:height, :width]


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


def to_cells(plane: np.ndarray, side: int) -> np.ndarray:
    """A plane (dimensions multiples of ``side``) in sample-major cell layout: [side * side, cells], column c the
    pixels of cell c (raster order of cells and of pixels within a cell)."""
    height, width = plane.shape
    rows, cols = height // side, width // side
    return plane.reshape(rows, side, cols, side).transpose(1, 3, 0, 2).reshape(side * side, rows * cols)


def from_cells(cells: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Inverse of `to_cells` for a grid of ``rows`` x ``cols`` cells."""
    side = round(cells.shape[0] ** 0.5)
    return cells.reshape(side, side, rows, cols).transpose(2, 0, 3, 1).reshape(rows * side, cols * side)


def neighbour_dc_grid(plane: np.ndarray, cell: int = 4) -> np.ndarray:
    """Intra DC prediction per ``cell`` block (dimensions multiples of ``cell``) from the row above and the column
    to its left (128 at the border): float32 [rows, cols]."""
    height, width = plane.shape
    rows, cols = height // cell, width // cell
    above = plane[cell - 1 : -1 : cell].reshape(rows - 1, cols, cell).sum(axis=2, dtype=np.int32)
    left = plane[:, cell - 1 : -1 : cell].reshape(rows, cell, cols - 1).sum(axis=1, dtype=np.int32)
    dc = np.full((rows, cols), 128.0, dtype=np.float32)
    dc[1:, 1:] = (above[:, 1:] + left[1:]) / np.float32(2 * cell)
    dc[1:, 0] = above[:, 0] / np.float32(cell)
    dc[0, 1:] = left[0] / np.float32(cell)
    return dc


def _padded(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """``plane`` as int16, edge-padded at the bottom and right to ``height`` x ``width``."""
    plane = np.asarray(plane, dtype=np.int16)
    if plane.shape == (height, width):
        return plane
    return np.pad(plane, ((0, height - plane.shape[0]), (0, width - plane.shape[1])), mode="edge")


@dataclass
class Picture:
    """One decoded frame's planes (int16, padded to whole 8 x 8 blocks) and, once emulated, its patched picture."""

    planes: tuple[np.ndarray, np.ndarray, np.ndarray]
    size: tuple[int, int]  # luma height, width before padding
    patched: tuple[np.ndarray, ...] | None = None  # Y, U, V (Y alone when only the plain luma is needed)
    _cache: dict = field(default_factory=dict)

    @classmethod
    def of(cls, planes) -> Picture:
        """Pad the Y, U, V planes of a 4:2:0 frame to whole 8 x 8 luma blocks."""
        height, width = np.shape(planes[0])
        rows, cols = -(-height // SELECT) * SELECT, -(-width // SELECT) * SELECT
        y = _padded(planes[0], rows, cols)
        u, v = (_padded(p, rows // 2, cols // 2) for p in planes[1:3])
        return cls((y, u, v), (height, width))

    def reference(self, index: int, patched: bool) -> np.ndarray:
        """Plane ``index`` of the decoded or patched picture prepared for motion compensation (computed once):
        half-pel planes for luma, an edge-padded plane for chroma."""
        key = (index, patched)
        if key not in self._cache:
            source = (self.patched if patched else self.planes)[index]
            self._cache[key] = halfpel_planes(source) if index == 0 else np.pad(source, PAD, mode="edge")
        return self._cache[key]

    def cells(self, index: int) -> np.ndarray:
        """Plane ``index`` of the decoded picture in cell layout (`to_cells`, 4 x 4 luma cells), computed once."""
        key = ("cells", index)
        if key not in self._cache:
            self._cache[key] = to_cells(self.planes[index], GRID if index == 0 else GRID // 2)
        return self._cache[key]


@dataclass(frozen=True)
class ResidualOptions:
    """Ingredients of the estimate (all on = the default); switches exist for the ablation benchmark."""

    subpel: bool = True  # H.264 quarter-pel interpolation (off: whole-pel shifts)
    references: int = 3  # past anchors tried per block (1: the previous anchor only)
    drift: bool = True  # uncoded blocks copy the earlier patched picture (off: every block shows 128 + error)
    swap: bool = True  # luma with red and blue swapped (off: the Y plane)


class CellVectors:
    """The covered 4 x 4 cells of one direction and their vectors (quarter pels), per plane."""

    def __init__(self, grid: np.ndarray, covered: np.ndarray, subpel: bool):
        self.index = np.nonzero(covered.reshape(-1))[0]
        cols = covered.shape[1]
        self.cx, self.cy = self.index % cols, self.index // cols
        flow = grid.reshape(-1, 2)[self.index]
        self.flow = [flow[:, 0], flow[:, 1]]
        self.chroma_flow = self.flow
        if not subpel:
            self.flow = [(f // 4) * 4 for f in self.flow]
            self.chroma_flow = [(f // 8) * 8 for f in self.chroma_flow]

    def sample(self, reference: np.ndarray, index: int, take: np.ndarray | None = None) -> np.ndarray:
        """Prediction of plane ``index`` from ``reference`` (`Picture.reference`) for all or the ``take`` cells."""
        sampler, (qx, qy) = (luma_cells, self.flow) if index == 0 else (chroma_cells, self.chroma_flow)
        if take is None:
            return sampler(reference, self.cx, self.cy, qx, qy)
        return sampler(reference, self.cx[take], self.cy[take], qx[take], qy[take])


class PatchedResidual:
    """Patched pictures of an H.264 stream fed in display order; `push` returns the wanted frames' residual luma.

    B-frames wait until the next anchor is decoded (they are predicted from it); unwanted B-frames are skipped.
    """

    def __init__(self, options: ResidualOptions | None = None):
        self.options = options or ResidualOptions()
        self.anchors: list[Picture] = []  # most recent last
        self.waiting: list[tuple[object, Picture, np.ndarray | None]] = []  # B-frames until the next anchor

    @property
    def _planes(self) -> int:
        """Planes emulated: Y, U and V for the swapped luma, Y alone for the plain one."""
        return 3 if self.options.swap else 1

    def push(self, key, planes, vectors: np.ndarray | None, kind: str, wanted: bool) -> list[tuple[object, np.ndarray]]:
        """Feed one frame (``kind`` "I", "P" or "B"); returns ``(key, |Y_patched - 128| float32)`` of wanted
        frames completed by it, in display order."""
        done: list[tuple[object, np.ndarray]] = []
        if kind == "B" and self.anchors:
            if wanted:
                self.waiting.append((key, Picture.of(planes), vectors))
            return done
        picture = Picture.of(planes)
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
        height, width = picture.size
        luma = (swapped_luma(*picture.patched) if self.options.swap else picture.patched[0]).astype(np.float32)
        return np.abs(luma[:height, :width] - 128.0)

    def _emulate(self, picture: Picture, vectors, intra: bool, past: list[Picture], future: Picture | None) -> None:
        height, width = picture.planes[0].shape
        if intra:
            planes = picture.planes[: self._planes]
            picture.patched = tuple(_intra(p, expand(neighbour_dc_grid(p), 4, *p.shape)) for p in planes)
            return
        flow, past_covered = vector_grid(vectors, height, width, future=False)
        ahead, ahead_covered = vector_grid(vectors, height, width, future=True)
        if future is None:
            ahead_covered[:] = False
        predictions = self._predict(picture, past, flow, past_covered, ahead, ahead_covered, future)
        inter = (past_covered | ahead_covered).reshape(1, -1)
        rows, cols = past_covered.shape
        picture.patched = tuple(
            self._patched_plane(picture, index, clean, drifted, inter, rows, cols)
            for index, (clean, drifted) in enumerate(predictions)
        )

    def _patched_plane(self, picture, index, clean, drifted, inter, rows, cols) -> np.ndarray:
        """One plane of the patched picture (image layout, int16) from its cell-layout predictions."""
        plane = picture.cells(index)
        error = plane - clean
        if self.options.drift:
            inter_value = np.where(_coded(error, index, rows, cols), 128 + error, drifted)
        else:
            inter_value = 128 + error
        dc = neighbour_dc_grid(picture.planes[index])
        if index > 0:  # 4 x 4 chroma blocks = 2 x 2 luma cells
            dc = np.repeat(np.repeat(dc, 2, axis=0), 2, axis=1)
        intra_value = _intra(plane, dc.reshape(1, -1))
        patched = np.where(inter, np.clip(inter_value, 0, 255), intra_value)
        return from_cells(patched, rows, cols)

    def _predict(self, picture, anchors, past, past_covered, ahead, ahead_covered, future):
        """Per plane (clean prediction, patched prediction) in cell layout (zero where not covered), the past
        reference chosen per 8 x 8 block."""
        cells = past_covered.size
        vectors = CellVectors(past, past_covered, self.options.subpel)
        candidates = list(reversed(anchors))  # most recent first
        choice, clean_luma = self._choose(picture.cells(0), candidates, vectors, past_covered.shape[1])
        groups = [np.nonzero(choice == number)[0] for number in range(len(candidates))]
        results = []
        for index in range(self._planes):
            pair = []
            for patched in (False, True):
                values = np.zeros((16 if index == 0 else 4, cells), dtype=np.int16)
                if index == 0 and not patched and clean_luma is not None:
                    values[:, vectors.index] = clean_luma  # computed while choosing the references
                else:
                    for anchor, take in zip(candidates, groups, strict=True):
                        if len(take):
                            found = vectors.sample(anchor.reference(index, patched), index, take)
                            values[:, vectors.index[take]] = found
                pair.append(values)
            results.append(pair)
        if future is not None and ahead_covered.any():
            self._add_future(results, past_covered, ahead, ahead_covered, future)
        return [tuple(pair) for pair in results]

    def _add_future(self, results, past_covered, ahead, ahead_covered, future) -> None:
        """Blend in the L1 (next anchor) prediction: averaged where both directions predict, alone where only L1."""
        vectors = CellVectors(ahead, ahead_covered, self.options.subpel)
        both = past_covered.reshape(-1)[vectors.index][None, :]
        for index in range(self._planes):
            for which, patched in enumerate((False, True)):
                theirs = vectors.sample(future.reference(index, patched), index)
                values = results[index][which]
                mine = values[:, vectors.index]
                values[:, vectors.index] = np.where(both, (mine + theirs + 1) >> 1, theirs)

    @staticmethod
    def _choose(y: np.ndarray, candidates: list[Picture], vectors: CellVectors, cols: int):
        """Per covered cell, the number of the candidate that best predicts its 8 x 8 block (most recent first;
        later candidates are tried only on blocks the first does not explain), and the chosen candidates' clean
        luma prediction of those cells (None when there are no candidates)."""
        count = len(vectors.index)
        choice = np.zeros(count, dtype=np.int64)
        if not candidates or not count:
            return choice, None
        first = vectors.sample(candidates[0].reference(0, False), 0)
        if len(candidates) == 1:
            return choice, first
        target = y[:, vectors.index]
        block = (vectors.cy // 2) * (-(-cols // 2)) + vectors.cx // 2
        blocks = int(block.max()) + 1
        best = np.bincount(block, weights=_abs_sum(target - first), minlength=blocks)
        pixels = 16 * np.bincount(block, minlength=blocks)
        unsure = np.nonzero(best[block] > EXPLAINED * pixels[block])[0]
        if not len(unsure):
            return choice, first
        touched = np.bincount(block[unsure], minlength=blocks) > 0
        found = []
        for number, anchor in enumerate(candidates[1:], start=1):
            predicted = vectors.sample(anchor.reference(0, False), 0, unsure)
            found.append(predicted)
            total = np.bincount(block[unsure], weights=_abs_sum(target[:, unsure] - predicted), minlength=blocks)
            better = touched & (total < best)
            best = np.where(better, total, best)
            choice[unsure[better[block[unsure]]]] = number
        clean = first
        for number, predicted in enumerate(found, start=1):
            mine = choice[unsure] == number
            clean[:, unsure[mine]] = predicted[:, mine]
        return choice, clean


def _abs_sum(error: np.ndarray) -> np.ndarray:
    """Per cell, the sum of |error| over its samples (sample-major layout): int32 [cells]."""
    return np.abs(error).sum(axis=0, dtype=np.int32)


def _intra(plane: np.ndarray, dc: np.ndarray) -> np.ndarray:
    """``clip(int(128 + plane - dc), 0, 255)`` for a DC in eighths (``int`` truncates: 128 + plane - ceil(dc))."""
    return np.clip(128 + plane - np.ceil(dc).astype(np.int16), 0, 255).astype(np.int16)


def _coded(error: np.ndarray, index: int, rows: int, cols: int) -> np.ndarray:
    """Per cell (row vector), whether its 4 x 4 block's mean |error| exceeds ``CODED_LEVEL`` (chroma: the 4 x 4
    chroma block of 2 x 2 luma cells)."""
    sums = _abs_sum(error)
    if index == 0:
        return (sums > CODED_LEVEL * 16).reshape(1, -1)
    blocks = sums.reshape(rows // 2, 2, cols // 2, 2).sum(axis=(1, 3)) > CODED_LEVEL * 16
    return np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1).reshape(1, -1)
