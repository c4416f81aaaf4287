"""Compiled (numba) kernels of the patched-decoder emulation in `residual`: one call per frame.

Planes are uint8 and padded to whole 8 x 8 luma blocks; every read is clamped into its plane, which is exactly
H.264's edge replication for motion compensation. Cells are 4 x 4 luma pixels (one vector per cell) and are
handled per 8 x 8 block: the reference frame is chosen per block, and a chroma 4 x 4 block lies under one block.
The kernels are compiled on first use and cached on disk, so the compile (about 30 s) is paid once per machine;
where no cache can be written (a read-only install and home), they are compiled in memory once per process.
Helpers that allocate nothing are compiled without reference counting (``_nrt=False``): in the per-block calls
it costs more than the arithmetic. The block loop (`_emulate_blocks`) has its helpers inlined (``inline="always"``):
a call passing a dozen arrays costs more than an 8 x 8 block's arithmetic; only the luma interpolation
(`luma_block`) and the B-frames' `_future` stay calls, since inlining them at every use multiplies the compile
time (to minutes). For the same reason each inlined helper has one call site per caller where a loop can take
the place of a second one (the candidate anchors, the two chroma planes).
"""

from __future__ import annotations

import functools
import sys

import numpy as np
from numba import njit as _numba_njit
from numba.core import cpu as _numba_cpu

# ``_nrt`` is a private numba option (numba's own helpers use it); where a release drops it, compile with
# reference counting (slower, same results) rather than failing at import
_NRT_OPTION = hasattr(getattr(_numba_cpu, "CPUTargetOptions", None), "_nrt")


def njit(**options):
    """``numba.njit`` with an on-disk cache when a cache location is writable, else compiled in memory."""
    if not _NRT_OPTION:
        options.pop("_nrt", None)

    def compile_(function):
        try:
            return _numba_njit(cache=True, **options)(function)
        except RuntimeError:  # numba found no writable cache location
            return _numba_njit(**options)(function)

    return compile_


COMPILE_NOTICE = "ov-vlm: compiling the codec kernels (first use on this machine, about 30 s) ..."


def cache_is_cold(function=None) -> bool:
    """Whether ``function`` (default: `emulate_inter`, the largest kernel) has no fresh copy in numba's on-disk
    cache, so that its first call compiles it: its cache index is missing or stale. False where nothing is
    cached (kernels compiled in memory) or numba's cache internals differ from what is read here."""
    cache_file = getattr(getattr(function or emulate_inter, "_cache", None), "_cache_file", None)
    if cache_file is None:
        return False
    try:
        return not cache_file._load_index()
    except Exception:  # a private numba API: any surprise means no notice, never a failure
        return False


@functools.cache
def announce_compile() -> bool:
    """Print `COMPILE_NOTICE` on stderr, once per process, when the kernels are about to be compiled (a cold
    cache); returns whether it did."""
    if not cache_is_cold():
        return False
    print(COMPILE_NOTICE, file=sys.stderr, flush=True)
    return True


CODED_SUM = 48  # 16 samples x 3 grey levels: sum of |error| of a 4 x 4 block above which it counts as coded
EXPLAINED_SUM = 16  # per covered cell: sum of |error| of a block under which the latest anchor is kept (1 level)
# quarter-pel luma position fy * 4 + fx -> the two samples (plane, dy, dx) averaged; plane 0 = G (integer),
# 1 = b (horizontal half), 2 = h (vertical half), 3 = j (centre)
QPEL = np.array(
    [
        [[0, 0, 0], [0, 0, 0]],  # (0, 0)
        [[0, 0, 0], [1, 0, 0]],  # (1, 0)
        [[1, 0, 0], [1, 0, 0]],  # (2, 0)
        [[1, 0, 0], [0, 0, 1]],  # (3, 0)
        [[0, 0, 0], [2, 0, 0]],  # (0, 1)
        [[1, 0, 0], [2, 0, 0]],  # (1, 1)
        [[1, 0, 0], [3, 0, 0]],  # (2, 1)
        [[1, 0, 0], [2, 0, 1]],  # (3, 1)
        [[2, 0, 0], [2, 0, 0]],  # (0, 2)
        [[2, 0, 0], [3, 0, 0]],  # (1, 2)
        [[3, 0, 0], [3, 0, 0]],  # (2, 2)
        [[3, 0, 0], [2, 0, 1]],  # (3, 2)
        [[2, 0, 0], [0, 1, 0]],  # (0, 3)
        [[2, 0, 0], [1, 1, 0]],  # (1, 3)
        [[3, 0, 0], [1, 1, 0]],  # (2, 3)
        [[1, 1, 0], [2, 0, 1]],  # (3, 3)
    ],
    dtype=np.int64,
)


@njit(inline="always")
def _clip255(value):
    return min(max(value, 0), 255)


@njit(inline="always")
def _tap(a, b, c, d, e, f):
    return a - 5 * b + 20 * c + 20 * d - 5 * e + f


@njit(inline="always")
def _u(index):
    """An index known to be >= 0, as unsigned: numba then drops its negative-index wrap-around, a select per
    access in the pixel loops (an isolated 8 x 8 interpolation about 6x faster, the whole emulation about 1.2x;
    the same values). Out-of-range reads are not checked either way: callers keep indices inside the planes."""
    return np.uint64(index)


@njit(_nrt=False, inline="always")
def _window(plane, x0, y0, span, win):
    """``win[i, j] = plane[y0 - 2 + i, x0 - 2 + j]`` for i, j < ``span``, coordinates clamped into the plane
    (H.264's edge replication)."""
    height, width = plane.shape
    for i in range(span):
        row, w = _u(min(max(y0 - 2 + i, 0), height - 1)), _u(i)
        for j in range(span):
            win[w, _u(j)] = plane[row, _u(min(max(x0 - 2 + j, 0), width - 1))]


@njit(_nrt=False, inline="always")
def _samples(src, top, left, kind, side, rows, out, oy, ox):
    """The ``side`` x ``side`` H.264 luma samples of kind G / b / h / j (integer, horizontal half, vertical half,
    centre) of the block whose integer sample (0, 0) is ``src[top, left]``, into ``out[oy:, ox:]`` (every index
    is >= 0: the caller keeps the 6-tap window inside ``src``)."""
    if kind == 0:
        for i in range(side):
            r, o = _u(top + i), _u(oy + i)
            for j in range(side):
                out[o, _u(ox + j)] = src[r, _u(left + j)]
    elif kind == 1:
        for i in range(side):
            r, o = _u(top + i), _u(oy + i)
            for j in range(side):
                c = left + j - 2
                total = _tap(
                    np.int32(src[r, _u(c)]), np.int32(src[r, _u(c + 1)]), np.int32(src[r, _u(c + 2)]),
                    np.int32(src[r, _u(c + 3)]), np.int32(src[r, _u(c + 4)]), np.int32(src[r, _u(c + 5)]),
                )  # fmt: skip
                out[o, _u(ox + j)] = _clip255((total + 16) >> 5)
    elif kind == 2:
        for i in range(side):
            r, o = top + i - 2, _u(oy + i)
            for j in range(side):
                c = _u(left + j)
                total = _tap(
                    np.int32(src[_u(r), c]), np.int32(src[_u(r + 1), c]), np.int32(src[_u(r + 2), c]),
                    np.int32(src[_u(r + 3), c]), np.int32(src[_u(r + 4), c]), np.int32(src[_u(r + 5), c]),
                )  # fmt: skip
                out[o, _u(ox + j)] = _clip255((total + 16) >> 5)
    else:  # the centre: 6-tap over the unrounded horizontal half samples of rows -2..+3
        for r in range(side + 5):
            y, w = _u(top + r - 2), _u(r)
            for j in range(side):
                c = left + j - 2
                rows[w, _u(j)] = _tap(
                    np.int32(src[y, _u(c)]), np.int32(src[y, _u(c + 1)]), np.int32(src[y, _u(c + 2)]),
                    np.int32(src[y, _u(c + 3)]), np.int32(src[y, _u(c + 4)]), np.int32(src[y, _u(c + 5)]),
                )  # fmt: skip
        for i in range(side):
            o = _u(oy + i)
            for j in range(side):
                k = _u(j)
                total = _tap(
                    rows[_u(i), k], rows[_u(i + 1), k], rows[_u(i + 2), k],
                    rows[_u(i + 3), k], rows[_u(i + 4), k], rows[_u(i + 5), k],
                )  # fmt: skip
                out[o, _u(ox + j)] = _clip255((total + 512) >> 10)


@njit(_nrt=False)
def luma_block(plane, px, py, side, scratch, out, oy, ox):
    """H.264 quarter-pel luma prediction of a ``side`` x ``side`` block whose top-left moves to (``px``, ``py``)
    quarter pels, from ``plane``, into ``out[oy:, ox:]``. ``scratch``: int32 [3, 13, 13] (the window, the centre
    rows, the second samples; one array: every argument of this hot call costs)."""
    win, rows, second = scratch[0], scratch[1], scratch[2]
    height, width = plane.shape
    x0, y0 = px >> 2, py >> 2
    code = (py & 3) * 4 + (px & 3)
    count = 1 if code in (0, 2, 8, 10) else 2  # whole- and half-pel positions: one sample, else the mean of two
    inside = x0 >= 2 and y0 >= 2 and x0 + side + 3 <= width and y0 + side + 3 <= height
    if not inside:  # near the border: from a copy of the window with clamped coordinates
        _window(plane, x0, y0, side + 5, win)
    for n in range(count):  # one loop, not two calls: half the code (each call site is inlined)
        target, ty, tx = (out, oy, ox) if n == 0 else (second, 0, 0)
        kind, dy, dx = QPEL[code, n, 0], QPEL[code, n, 1], QPEL[code, n, 2]
        if inside:
            _samples(plane, y0 + dy, x0 + dx, kind, side, rows, target, ty, tx)
        else:
            _samples(win, 2 + dy, 2 + dx, kind, side, rows, target, ty, tx)
    if count == 1:
        return
    for i in range(side):
        o, w = _u(oy + i), _u(i)
        for j in range(side):
            c = _u(ox + j)
            out[o, c] = (out[o, c] + second[w, _u(j)] + 1) >> 1


@njit(_nrt=False, inline="always")
def chroma_block(store, slot, which, plane, ex, ey, side, out, oy, ox):
    """H.264 eighth-pel bilinear chroma prediction of a ``side`` x ``side`` block whose top-left moves to
    (``ex``, ``ey``) eighth pels, from ``store[slot, which, plane]``, into ``out[oy:, ox:]``."""
    src = store[slot, which, plane]
    height, width = src.shape
    x0, y0, fx, fy = ex >> 3, ey >> 3, ex & 7, ey & 7
    if x0 >= 0 and y0 >= 0 and x0 + side < width and y0 + side < height:  # inside: no clamping
        if fx == 0 and fy == 0:
            for i in range(side):
                r, o = _u(y0 + i), _u(oy + i)
                for j in range(side):
                    out[o, _u(ox + j)] = src[r, _u(x0 + j)]
            return
        wa, wb = np.int32((8 - fy) * (8 - fx)), np.int32((8 - fy) * fx)  # the bilinear weights, expanded
        wc, wd = np.int32(fy * (8 - fx)), np.int32(fy * fx)  # (integer arithmetic: the same values)
        for i in range(side):
            r0, r1, o = _u(y0 + i), _u(y0 + i + 1), _u(oy + i)
            for j in range(side):
                c0, c1 = _u(x0 + j), _u(x0 + j + 1)
                a, b = np.int32(src[r0, c0]), np.int32(src[r0, c1])
                c, d = np.int32(src[r1, c0]), np.int32(src[r1, c1])
                out[o, _u(ox + j)] = (wa * a + wb * b + wc * c + wd * d + 32) >> 6
        return
    for i in range(side):
        r0, r1 = _u(min(max(y0 + i, 0), height - 1)), _u(min(max(y0 + i + 1, 0), height - 1))
        for j in range(side):
            c0, c1 = _u(min(max(x0 + j, 0), width - 1)), _u(min(max(x0 + j + 1, 0), width - 1))
            top = (8 - fx) * np.int32(src[r0, c0]) + fx * np.int32(src[r0, c1])
            bottom = (8 - fx) * np.int32(src[r1, c0]) + fx * np.int32(src[r1, c1])
            out[_u(oy + i), _u(ox + j)] = ((8 - fy) * top + fy * bottom + 32) >> 6


@njit(_nrt=False, inline="always")
def _dc(plane, top, left, side):
    """DC of the ``side`` x ``side`` block at (``top``, ``left``) from the row above and the column to its left,
    rounded up (128 at the picture's corner)."""
    above = 0
    beside = 0
    for k in range(side):
        if top > 0:
            above += plane[_u(top - 1), _u(left + k)]
        if left > 0:
            beside += plane[_u(top + k), _u(left - 1)]
    if top > 0 and left > 0:
        return (above + beside + 2 * side - 1) // (2 * side)
    if top > 0:
        return (above + side - 1) // side
    if left > 0:
        return (beside + side - 1) // side
    return 128


@njit()
def intra_plane(plane, out):
    """``clip(128 + plane - DC)`` per 4 x 4 block, DC from the block's upper and left neighbours."""
    height, width = plane.shape
    for top in range(0, height, 4):
        for left in range(0, width, 4):
            dc = _dc(plane, top, left, 4)
            for i in range(4):
                r = _u(top + i)
                for j in range(4):
                    c = _u(left + j)
                    out[r, c] = _clip255(128 + np.int32(plane[r, c]) - dc)


@njit()
def paint_blocks(grid, covered, w, h, dst_x, dst_y, values, keep):
    """Write ``values[n]`` over the 4 x 4 cells ``[c - half, c + max(half, 1))`` of each ``keep`` block (``c``
    its centre cell, ``half`` its side / 8), smaller blocks first (by half width, then half height), in the
    vectors' order among blocks of a size (a later vector wins): a counting sort on the size, then one pass."""
    rows, cols = covered.shape
    count = len(w)
    sizes = np.empty(count, np.int64)
    for n in range(count):
        sizes[n] = (np.int64(w[n]) // 8) * 64 + np.int64(h[n]) // 8
    tally = np.zeros(sizes.max() + 2 if count else 1, np.int64)
    for n in range(count):
        tally[sizes[n] + 1] += keep[n]
    for size in range(1, len(tally)):
        tally[size] += tally[size - 1]
    order = np.empty(tally[-1], np.int64)
    for n in range(count):  # stable: a size's vectors keep their order
        if keep[n]:
            order[tally[sizes[n]]] = n
            tally[sizes[n]] += 1
    for n in order:
        half_w, half_h = np.int64(w[n]) // 8, np.int64(h[n]) // 8
        cx, cy = np.int64(dst_x[n]) // 4, np.int64(dst_y[n]) // 4
        for y in range(max(cy - half_h, 0), min(cy + max(half_h, 1), rows)):
            for x in range(max(cx - half_w, 0), min(cx + max(half_w, 1), cols)):
                grid[y, x, 0] = values[n, 0]
                grid[y, x, 1] = values[n, 1]
                covered[y, x] = True


@njit()
def pad_into(source, out):
    """``out[r, c] = source[min(r, h - 1), min(c, w - 1)]``: a plane edge-padded at the bottom and right."""
    height, width = source.shape
    for r in range(out.shape[0]):
        row, target = source[min(r, height - 1)], out[r]
        for c in range(width):
            target[_u(c)] = row[_u(c)]
        for c in range(width, out.shape[1]):
            target[_u(c)] = row[width - 1]


@njit()
def swapped_levels(y, c, height, width):
    """``|L - 128|`` of the reference's luma of a 4:2:0 picture: limited-range BT.601 to RGB24, then OpenCV's
    BGR2YUV weights on RGB data (red and blue swapped), in float32 as numpy rounds it: uint8 [height, width]."""
    out = np.empty((height, width), dtype=np.uint8)
    k_y, k_rv, k_gu, k_gv = np.float32(1.164), np.float32(1.596), np.float32(0.391), np.float32(0.813)
    k_bu, w_b, w_g, w_r = np.float32(2.018), np.float32(0.299), np.float32(0.587), np.float32(0.114)
    zero, top, mid, black = np.float32(0.0), np.float32(255.0), np.float32(128.0), np.float32(16.0)
    terms = np.empty((4, width), dtype=np.float32)  # a chroma row's products, per column: contiguous rows let
    rv, gu, gv, bu = terms[0], terms[1], terms[2], terms[3]  # the compiler vectorise the per-pixel loop
    for r in range(height):
        if r % 2 == 0:
            row_u, row_v = c[0, r >> 1], c[1, r >> 1]
            for col in range(width):
                half, k = _u(col >> 1), _u(col)
                cu = np.float32(row_u[half]) - mid
                cv = np.float32(row_v[half]) - mid
                rv[k], gu[k], gv[k], bu[k] = k_rv * cv, k_gu * cu, k_gv * cv, k_bu * cu
        row_y, row_out = y[r], out[r]
        for col in range(width):
            k = _u(col)
            base = k_y * (np.float32(row_y[k]) - black)
            red = min(max(np.rint(base + rv[k]), zero), top)
            green = min(max(np.rint(base - gu[k] - gv[k]), zero), top)
            blue = min(max(np.rint(base + bu[k]), zero), top)
            luma = np.int32(min(max(np.rint(w_b * blue + w_g * green + w_r * red), zero), top))
            row_out[k] = abs(luma - 128)
    return out


@njit()
def plain_levels(y, height, width):
    """``|Y - 128|``: uint8 [height, width]."""
    out = np.empty((height, width), dtype=np.uint8)
    for r in range(height):
        for col in range(width):
            out[r, col] = abs(np.int32(y[r, col]) - 128)
    return out


@njit()
def histogram(levels):
    """Counts of each uint8 level: int64 [256]."""
    counts = np.zeros(256, dtype=np.int64)
    for r in range(levels.shape[0]):
        line = levels[r]
        for col in range(levels.shape[1]):
            counts[_u(line[_u(col)])] += 1
    return counts


@njit(inline="always")
def _fused(levels, motion, r, col, scale32, w_mv, w_res, total):
    """One pixel of `fuse_levels`."""
    zero, one = np.float32(0.0), np.float32(1.0)
    res = min(max(np.float32(levels[r, col]) / scale32, zero), one)
    return min(max((w_mv * motion[r >> 2, col >> 2] + w_res * res) / total, zero), one)


@njit()
def fuse_levels(levels, motion, scale, mv_weight, residual_weight):
    """``clip((w_mv * motion_up + w_res * clip(levels / scale, 0, 1)) / (w_mv + w_res), 0, 1)`` per pixel in
    float32, as numpy evaluates it (``motion`` float32 on the 4 x 4 grid, upsampled by repetition)."""
    height, width = levels.shape
    out = np.empty((height, width), dtype=np.float32)
    scale32, w_mv, w_res = np.float32(scale), np.float32(mv_weight), np.float32(residual_weight)
    total = np.float32(mv_weight + residual_weight)
    for r in range(height):
        for col in range(width):
            out[r, col] = _fused(levels, motion, r, col, scale32, w_mv, w_res, total)
    return out


@njit()
def fused_resized(levels, motion, scale, mv_weight, residual_weight, xtaps, ytaps):
    """`fuse_levels` resized as `reference.linear_resize` does it (``xtaps`` / ``ytaps``: its `linear_taps`),
    evaluating the fused map only at the pixels the taps read: float32 [len(y0), len(x0)]."""
    x0, x1, wx0, wx1 = xtaps
    y0, y1, wy0, wy1 = ytaps
    zero, one = np.float32(0.0), np.float32(1.0)
    scale32, w_mv, w_res = np.float32(scale), np.float32(mv_weight), np.float32(residual_weight)
    total = np.float32(mv_weight + residual_weight)
    weighted = np.empty(256, dtype=np.float32)  # w_res * clip(level / scale, 0, 1) of each level
    for level in range(256):
        weighted[level] = w_res * min(max(np.float32(level) / scale32, zero), one)
    rows = np.zeros((levels.shape[0], len(x0)), dtype=np.float32)
    done = np.zeros(levels.shape[0], dtype=np.bool_)
    out = np.empty((len(y0), len(x0)), dtype=np.float32)
    fused = np.empty(levels.shape[1], dtype=np.float32)  # a whole fused row, when the taps read most of it
    whole = 2 * len(x0) > levels.shape[1]
    for i in range(len(y0)):
        for r in (y0[i], y1[i]):
            if not done[r]:
                done[r] = True
                line, cells, target = levels[r], motion[r >> 2], rows[r]
                if whole:
                    for col in range(levels.shape[1]):
                        k = _u(col)
                        fused[k] = min(max((w_mv * cells[_u(col >> 2)] + weighted[_u(line[k])]) / total, zero), one)
                    for j in range(len(x0)):
                        k = _u(j)
                        target[k] = fused[_u(x0[k])] * wx0[k] + fused[_u(x1[k])] * wx1[k]
                    continue
                for j in range(len(x0)):
                    k, a, b = _u(j), _u(x0[j]), _u(x1[j])
                    first = min(max((w_mv * cells[a >> np.uint64(2)] + weighted[_u(line[a])]) / total, zero), one)
                    second = min(max((w_mv * cells[b >> np.uint64(2)] + weighted[_u(line[b])]) / total, zero), one)
                    target[k] = first * wx0[k] + second * wx1[k]
        upper, lower, target = rows[y0[i]], rows[y1[i]], out[i]
        for j in range(len(x0)):
            k = _u(j)
            target[k] = upper[k] * wy0[i] + lower[k] * wy1[i]
    return out


@njit()
def moving_cells(levels, rows, cols, threshold):
    """Cells of 4 x 4 pixels (bool [rows, cols]) holding a level >= ``threshold``."""
    out = np.zeros((rows, cols), dtype=np.bool_)
    height, width = levels.shape
    for r in range(height):
        line, source = out[r >> 2], levels[r]
        for col in range(width):
            line[_u(col >> 2)] |= source[_u(col)] >= threshold
    return out


@njit(_nrt=False, inline="always")
def _cells(cov, br, bc):
    """Which of the 4 cells of block (br, bc) are covered (bit n = cell n, raster order)."""
    y0, y1, x0, x1 = _u(2 * br), _u(2 * br + 1), _u(2 * bc), _u(2 * bc + 1)
    return cov[y0, x0] + 2 * cov[y0, x1] + 4 * cov[y1, x0] + 8 * cov[y1, x1]


@njit(_nrt=False, inline="always")
def _uniform(flow, br, bc):
    """Whether the 4 cells of block (br, bc) share one vector (then predicted as one 8 x 8 block)."""
    y, x = _u(2 * br), _u(2 * bc)
    first, second = flow[y, x, 0], flow[y, x, 1]
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        cy, cx = y + np.uint64(dy), x + np.uint64(dx)
        if flow[cy, cx, 0] != first or flow[cy, cx, 1] != second:
            return False
    return True


@njit(_nrt=False, inline="always")
def _predict_luma(store_y, slot, which, br, bc, flow, cells, scratch, out):
    """Luma predictions ``out`` [8, 8] of the cells of block (br, bc) set in ``cells`` (bit n = cell n) from
    anchor ``slot`` (which: 0 its decoded, 1 its patched picture); one 8 x 8 block when they share a vector."""
    y, x = 2 * br, 2 * bc
    plane = store_y[slot, which]
    if cells == 15 and _uniform(flow, br, bc):
        luma_block(plane, x * 16 + flow[y, x, 0], y * 16 + flow[y, x, 1], 8, scratch, out, 0, 0)
        return
    for n in range(4):
        if (cells >> n) & 1:
            cy, cx = y + (n >> 1), x + (n & 1)
            px, py = cx * 16 + flow[cy, cx, 0], cy * 16 + flow[cy, cx, 1]
            luma_block(plane, px, py, 4, scratch, out, 4 * (n >> 1), 4 * (n & 1))


@njit(_nrt=False, inline="always")
def _predict_chroma(store_c, slot, which, br, bc, flow, cells, out):
    """`_predict_luma` for the two chroma planes: ``out`` [2, 4, 4]."""
    y, x = 2 * br, 2 * bc
    whole = cells == 15 and _uniform(flow, br, bc)
    parts, side = (1, 4) if whole else (4, 2)  # one 4 x 4 block, or a 2 x 2 one per covered cell
    for p in range(2):
        for n in range(parts):  # one call site: chroma_block is inlined, each copy costs compile time
            if whole or (cells >> n) & 1:
                cy, cx = y + (n >> 1), x + (n & 1)
                ex, ey = cx * 16 + flow[cy, cx, 0], cy * 16 + flow[cy, cx, 1]
                chroma_block(store_c, slot, which, p, ex, ey, side, out[p], 2 * (n >> 1), 2 * (n & 1))


@njit(_nrt=False)
def _trunc_div(a, b):
    """C integer division (rounds toward zero)."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


@njit(_nrt=False)
def implicit_weight(current, first, second):
    """``w1`` of H.264 implicit weighted bi-prediction (``w0 = 64 - w1``; 32 is the plain average) for the
    picture at display position ``current`` predicted from pictures at ``first`` (L0) and ``second`` (L1);
    picture order counts are taken as twice the display positions."""
    tb = min(max(2 * (current - first), -128), 127)
    td = min(max(2 * (second - first), -128), 127)
    if td == 0:
        return 32
    tx = _trunc_div(16384 + abs(_trunc_div(td, 2)), td)
    scale = min(max((tb * tx + 32) >> 6, -1024), 1023)
    if (scale >> 2) < -64 or (scale >> 2) > 128:
        return 32
    return scale >> 2


@njit(inline="always")
def _bipred(a, b, w1):
    return (a * (64 - w1) + b * w1 + 32) >> 6


@njit(_nrt=False, inline="always")
def _block_error(cur_y, br, bc, cells, predicted, future, future_cells, w1, sums):
    """Sum of |decoded - prediction| over the cells of block (br, bc) set in ``cells`` (per cell into ``sums``
    [4]); the prediction is ``predicted``, bi-predicted with ``future`` (weight ``w1``) on the ``future_cells``."""
    total = 0
    for n in range(4):
        if (cells >> n) & 1:
            oy, ox = 4 * (n >> 1), 4 * (n & 1)
            cell = 0
            if (future_cells >> n) & 1:
                for i in range(oy, oy + 4):
                    r, w = _u(8 * br + i), _u(i)
                    for j in range(ox, ox + 4):
                        k = _u(j)
                        value = _bipred(predicted[w, k], future[w, k], w1)
                        cell += abs(np.int32(cur_y[r, _u(8 * bc + j)]) - value)
            else:
                for i in range(oy, oy + 4):
                    r, w = _u(8 * br + i), _u(i)
                    for j in range(ox, ox + 4):
                        cell += abs(np.int32(cur_y[r, _u(8 * bc + j)]) - predicted[w, _u(j)])
            sums[n] = cell
            total += cell
    return total


@njit(_nrt=False, inline="always")
def _choose(cur_y, store_y, past, br, bc, flow, cells, scratch, clean, trial, future, future_cells, weights, sums):
    """The past anchor (index into ``past``, most recent first) that best predicts the covered cells of block
    (br, bc), bi-predicted with ``future`` on ``future_cells`` (weight ``weights[k]`` for candidate k): the
    latest, unless its mean |error| exceeds one grey level and an older one does better. Leaves the chosen
    anchor's clean luma prediction in ``clean`` and its per-cell |error| sums in ``sums[0]`` (``sums`` [2, 4])."""
    count = (cells & 1) + ((cells >> 1) & 1) + ((cells >> 2) & 1) + ((cells >> 3) & 1)
    best, choice = 0, 0
    for k in range(len(past)):  # one call site of each inlined helper: every copy costs compile time
        target, tally = (clean, sums[0]) if k == 0 else (trial, sums[1])
        _predict_luma(store_y, past[k], 0, br, bc, flow, cells, scratch, target)
        total = _block_error(cur_y, br, bc, cells, target, future, future_cells, weights[k], tally)
        if k == 0:
            best = total
            if best <= EXPLAINED_SUM * count:
                return choice
        elif total < best:
            best, choice = total, k
            for n in range(4):
                sums[0, n] = sums[1, n]
            for i in range(8):
                for j in range(8):
                    clean[_u(i), _u(j)] = trial[_u(i), _u(j)]
    return choice


@njit(_nrt=False, inline="always")
def _blend(mine, theirs, past_cells, future_cells, scale, w1):
    """Bi-prediction over the cells of a block: the rounded mean where both directions predict a cell, the future
    one alone where only it does (``scale`` 4 for luma [8, 8], 2 for a chroma plane [4, 4])."""
    for n in range(4):
        if not (future_cells >> n) & 1:
            continue
        both = (past_cells >> n) & 1
        oy, ox = scale * (n >> 1), scale * (n & 1)
        for i in range(oy, oy + scale):
            w = _u(i)
            for j in range(ox, ox + scale):
                k = _u(j)
                mine[w, k] = _bipred(mine[w, k], theirs[w, k], w1) if both else theirs[w, k]


@njit(_nrt=False, inline="always")
def _uncoded_luma(plane, top, left, inter, clean, known, sums):
    """The inter cells of a luma block (bit n = cell n) whose mean |decoded - prediction| is at most 3 levels,
    i.e. taken as having no coded residual; the sums of the ``known`` cells are ``sums`` (from `_choose`)."""
    found = 0
    for n in range(4):
        if (inter >> n) & 1:
            oy, ox = 4 * (n >> 1), 4 * (n & 1)
            total = sums[n] if (known >> n) & 1 else 0
            if not (known >> n) & 1:
                for i in range(4):
                    r, w = _u(top + oy + i), _u(oy + i)
                    for j in range(4):
                        total += abs(np.int32(plane[r, _u(left + ox + j)]) - clean[w, _u(ox + j)])
            if total <= CODED_SUM:
                found |= 1 << n
    return found


@njit(_nrt=False, inline="always")
def _uncoded_chroma(plane, top, left, inter, clean):
    """``inter`` if the 4 x 4 chroma block under a luma block has no coded residual (mean |error| at most 3
    levels, the cells outside ``inter`` counting with a zero prediction), else 0."""
    if not inter:
        return 0
    total = 0
    for i in range(4):
        r, w = _u(top + i), _u(i)
        for j in range(4):
            predicted = clean[w, _u(j)] if (inter >> ((i >> 1) * 2 + (j >> 1))) & 1 else 0
            total += abs(np.int32(plane[r, _u(left + j)]) - predicted)
    return inter if total <= CODED_SUM else 0


@njit(_nrt=False, inline="always")
def _write_luma(plane, top, left, inter, uncoded, clean, drifted, out):
    """The patched luma of one 8 x 8 block: coded inter cells show 128 + error, ``uncoded`` ones the drifted
    prediction, intra cells 128 + the sample minus the DC of the cell."""
    for n in range(4):
        oy, ox = 4 * (n >> 1), 4 * (n & 1)
        y, x = top + oy, left + ox
        if not (inter >> n) & 1:
            dc = _dc(plane, y, x, 4)
            for i in range(4):
                r = _u(y + i)
                for j in range(4):
                    c = _u(x + j)
                    out[r, c] = _clip255(128 + np.int32(plane[r, c]) - dc)
        elif (uncoded >> n) & 1:
            for i in range(4):
                r, w = _u(y + i), _u(oy + i)
                for j in range(4):
                    out[r, _u(x + j)] = drifted[w, _u(ox + j)]
        else:
            for i in range(4):
                r, w = _u(y + i), _u(oy + i)
                for j in range(4):
                    c = _u(x + j)
                    out[r, c] = _clip255(128 + np.int32(plane[r, c]) - clean[w, _u(ox + j)])


@njit(_nrt=False, inline="always")
def _write_chroma(plane, top, left, inter, uncoded, clean, drifted, out):
    """`_write_luma` for the 4 x 4 chroma block under a luma block (one DC for the block)."""
    dc = _dc(plane, top, left, 4) if inter != 15 else 0
    for i in range(4):
        r, w = _u(top + i), _u(i)
        for j in range(4):
            n = (i >> 1) * 2 + (j >> 1)
            c, k = _u(left + j), _u(j)
            value = np.int32(plane[r, c])
            if not (inter >> n) & 1:
                out[r, c] = _clip255(128 + value - dc)
            elif (uncoded >> n) & 1:
                out[r, c] = drifted[w, k]
            else:
                out[r, c] = _clip255(128 + value - clean[w, k])


@njit()
def emulate_inter(
    cur_y, cur_c, flows, cflows, covs, store_y, store_c, past, weights, future, chroma, drift, out_y, out_c
):
    """The patched picture of an inter frame into ``out_y`` [H, W] and, with ``chroma``, ``out_c`` [2, H/2, W/2].

    ``flows`` int64 [2, rows, cols, 2] quarter-pel L0 / L1 vectors per 4 x 4 cell (``cflows``: the chroma ones),
    ``covs`` bool [2, rows, cols] their coverage; ``store_y`` uint8 [slots, 2, H, W] and ``store_c``
    [slots, 2, 2, H/2, W/2] the anchors' decoded (0) and patched (1) pictures; ``past`` the slots of the past
    anchors tried (most recent first) and ``weights`` their bi-prediction weights ``w1`` (`implicit_weight`);
    ``future`` the slot of the next anchor for B-frames (-1: none). Patched
    (drifted) predictions are made only for the cells that show them (inter cells without a coded residual).
    """
    scratch = np.empty((3, 13, 13), np.int32)
    luma = np.zeros((5, 8, 8), dtype=np.int32)  # clean, patched, trial, future clean, future patched
    colour = np.zeros((4, 2, 4, 4), dtype=np.int32)  # clean, patched, future clean, future patched
    sums = np.zeros((2, 4), dtype=np.int64)  # per-cell |error| of the chosen and of the trial anchor
    frame = (cur_y, cur_c, flows, cflows, covs, store_y, store_c, past, weights, out_y, out_c)
    _emulate_blocks(frame, future, chroma, drift, scratch, luma, colour, sums)


@njit(_nrt=False)
def _emulate_blocks(frame, future, chroma, drift, scratch, luma, colour, sums):
    """The block loop of `emulate_inter` (``frame``: its arrays), without reference counting: the helpers it calls
    are inlined and make views freely."""
    cur_y, cur_c, flows, cflows, covs, store_y, store_c, past, weights, out_y, out_c = frame
    rows, cols = covs.shape[1], covs.shape[2]
    clean, drifted, trial, ahead, clean_c, drifted_c = luma[0], luma[1], luma[2], luma[3], colour[0], colour[1]
    chosen_sums = sums[0]
    flow0, flow1, cflow0, cflow1 = flows[0], flows[1], cflows[0], cflows[1]
    cov0, cov1 = covs[0], covs[1]
    for br in range(rows // 2):
        for bc in range(cols // 2):
            past_cells = _cells(cov0, br, bc) if len(past) else 0
            future_cells = _cells(cov1, br, bc) if future >= 0 else 0
            inter = past_cells | future_cells  # cells with a prediction; the others are intra
            slot, w1 = -1, 32
            if future_cells:  # first the next anchor's prediction: the past reference is chosen bi-predicted
                _predict_luma(store_y, future, 0, br, bc, flow1, future_cells, scratch, ahead)
            if past_cells:
                k = _choose(cur_y, store_y, past, br, bc, flow0, past_cells, scratch, clean, trial, ahead,
                            future_cells, weights, sums)  # fmt: skip
                slot, w1 = past[k], weights[k]
                if chroma:
                    _predict_chroma(store_c, slot, 0, br, bc, cflow0, past_cells, clean_c)
            if future_cells:
                _blend(clean, ahead, past_cells, future_cells, 4, w1)
                _future(store_y, store_c, future, 0, br, bc, flow1, cflow1, past_cells, 0,
                        future_cells if chroma else 0, scratch, luma, colour, w1)  # fmt: skip
            need = _uncoded_luma(cur_y, 8 * br, 8 * bc, inter, clean, past_cells, chosen_sums) if drift else 0
            need_u, need_v = 0, 0
            if chroma and drift:
                for p in range(2):  # one call site of each inlined helper: every copy costs compile time
                    found = _uncoded_chroma(cur_c[p], 4 * br, 4 * bc, inter, colour[0, p])
                    need_u, need_v = (need_u, found) if p else (found, need_v)
            need_c = need_u | need_v
            if slot >= 0 and past_cells & need:
                _predict_luma(store_y, slot, 1, br, bc, flow0, past_cells & need, scratch, drifted)
            if slot >= 0 and past_cells & need_c:
                _predict_chroma(store_c, slot, 1, br, bc, cflow0, past_cells & need_c, drifted_c)
            if future_cells & (need | need_c):
                _future(store_y, store_c, future, 1, br, bc, flow1, cflow1, past_cells, future_cells & need,
                        future_cells & need_c, scratch, luma, colour, w1)  # fmt: skip
            _write_luma(cur_y, 8 * br, 8 * bc, inter, need, clean, drifted, out_y)
            for p in range(2 if chroma else 0):
                _write_chroma(cur_c[p], 4 * br, 4 * bc, inter, need_v if p else need_u, colour[0, p], colour[1, p],
                              out_c[p])  # fmt: skip


@njit(_nrt=False)
def _future(store_y, store_c, future, which, br, bc, flow, cflow, past_cells, luma_cells, chroma_cells, scratch,
            luma, colour, w1):  # fmt: skip
    """Blend the next anchor's prediction (``which``: 0 clean, 1 patched) into ``luma[which]`` over
    ``luma_cells`` and into ``colour[which]`` over ``chroma_cells`` (bit masks; 0: none)."""
    if luma_cells:
        _predict_luma(store_y, future, which, br, bc, flow, luma_cells, scratch, luma[3 + which])
        _blend(luma[which], luma[3 + which], past_cells, luma_cells, 4, w1)
    if chroma_cells:
        _predict_chroma(store_c, future, which, br, bc, cflow, chroma_cells, colour[2 + which])
        for p in range(2):
            _blend(colour[which, p], colour[2 + which, p], past_cells, chroma_cells, 2, w1)


PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE: longer runs are summed in recursive halves (not emulated here)


@njit(inline="always")
def _pairwise(line, x0, n):
    """``line[x0 : x0 + n].sum()`` in float32 as numpy's add reduction computes it for n <= `PAIRWISE_BLOCK`
    (its pairwise sum: below 8 in order, else 8 running sums combined as a tree, then the rest in order)."""
    if n < 8:
        total = np.float32(-0.0)
        for k in range(x0, x0 + n):
            total += line[_u(k)]
        return total
    r0, r1, r2, r3 = line[_u(x0)], line[_u(x0 + 1)], line[_u(x0 + 2)], line[_u(x0 + 3)]
    r4, r5, r6, r7 = line[_u(x0 + 4)], line[_u(x0 + 5)], line[_u(x0 + 6)], line[_u(x0 + 7)]
    whole = n - n % 8
    for b in range(x0 + 8, x0 + whole, 8):
        r0, r1, r2, r3 = r0 + line[_u(b)], r1 + line[_u(b + 1)], r2 + line[_u(b + 2)], r3 + line[_u(b + 3)]
        r4, r5, r6, r7 = r4 + line[_u(b + 4)], r5 + line[_u(b + 5)], r6 + line[_u(b + 6)], r7 + line[_u(b + 7)]
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for k in range(x0 + whole, x0 + n):
        total += line[_u(k)]
    return total


@njit()
def patch_sums(image, top, left, patch, out):
    """Per-patch sums ``out`` float32 [cells, cells] of ``image`` (float32, >= 0) placed at (``top``, ``left``) on
    a zero canvas of ``cells * patch`` pixels: the same float32 values as numpy's
    ``canvas.reshape(cells, patch, cells, patch).sum(axis=(1, 3))`` (each patch row summed pairwise, the rows added
    in order; zero rows and columns add nothing) for ``patch`` <= `PAIRWISE_BLOCK`, without building the canvas."""
    height, width = image.shape
    out[:] = np.float32(0.0)
    edge = np.zeros(patch, dtype=np.float32)  # a patch row across the image's left or right edge
    for y in range(height):
        sums, line = out[(y + top) // patch], image[y]
        for k in range(out.shape[1]):
            x0 = k * patch - left
            if x0 >= 0 and x0 + patch <= width:  # the default patch as a constant: its loops unrolled
                sums[k] += _pairwise(line, x0, 16) if patch == 16 else _pairwise(line, x0, patch)
            elif x0 + patch > 0 and x0 < width:
                for m in range(patch):
                    edge[m] = line[x0 + m] if 0 <= x0 + m < width else np.float32(0.0)
                sums[k] += _pairwise(edge, 0, patch)
    return out


@njit(_nrt=False, inline="always")
def _resized_row(src, sy, x0, x1, a0, a1, row):
    """One source row resized horizontally: 11-bit fixed-point sums per output value (channels interleaved)."""
    r = _u(sy)
    for i in range(x0.shape[0]):
        k = _u(i)
        row[k] = np.int32(src[r, _u(x0[k])]) * a0[k] + np.int32(src[r, _u(x1[k])]) * a1[k]


@njit()
def linear_resize_u8(src, out, x0, x1, a0, a1, y0, y1, b0, b1):
    """``cv2.resize(..., interpolation=cv2.INTER_LINEAR)`` of a uint8 image with interleaved channels, [H, W * C]
    into ``out`` [h, w * C], in OpenCV's fixed-point arithmetic (11-bit weights, a horizontal pass to integer sums,
    then the vertical pass and rounding of its vectorised code). Taps per output value (channels interleaved) come
    from `ov_vlm.codec.reference.fixed_linear_taps`; two resized source rows are kept."""
    rows = np.empty((2, x0.shape[0]), dtype=np.int32)
    held0, held1 = -1, -1
    for oy in range(y0.shape[0]):
        first, second = y0[oy], y1[oy]
        if held0 == first:
            s0 = 0
        elif held1 == first:
            s0 = 1
        else:
            s0 = 1 if held0 == second else 0
            _resized_row(src, first, x0, x1, a0, a1, rows[s0])
            if s0 == 0:
                held0 = first
            else:
                held1 = first
        if held0 == second:
            s1 = 0
        elif held1 == second:
            s1 = 1
        else:
            s1 = 1 - s0
            _resized_row(src, second, x0, x1, a0, a1, rows[s1])
            if s1 == 0:
                held0 = second
            else:
                held1 = second
        w0, w1 = b0[oy], b1[oy]
        top, bottom, target = rows[s0], rows[s1], out[oy]
        for i in range(x0.shape[0]):
            k = _u(i)
            value = ((((top[k] >> 4) * w0) >> 16) + (((bottom[k] >> 4) * w1) >> 16) + 2) >> 2
            target[k] = min(max(value, 0), 255)
