"""Compiled (numba) kernels of the patched-decoder emulation in `residual`: one call per frame.

Planes are uint8 and padded to whole 8 x 8 luma blocks; every read is clamped into its plane, which is exactly
H.264's edge replication for motion compensation. Cells are 4 x 4 luma pixels (one vector per cell); the
reference frame is chosen per 8 x 8 block, and a chroma 4 x 4 block lies under one block.
`emulate_inter` works in passes: the predictions per block into whole planes, then the bi-prediction, the
errors, the coded test and the writes over whole rows, which the compiler vectorises (8 x 8 block loops it does
not vectorise). The luma predictions read each anchor's half-sample planes (`half_planes`, made once per
picture in row passes), so a block's quarter-pel prediction is a copy or the mean of two planes; only blocks that
reach past the picture are filtered per block. The kernels are compiled on first use and cached on disk, so the
compile (about 30 s) is paid once per machine; where no cache can be written (a read-only install and home),
they are compiled in memory once per process. Per-block helpers that allocate nothing are compiled without
reference counting (``_nrt=False``): in the per-block calls it costs more than the arithmetic; the small ones are
inlined (``inline="always"``), with one call site per caller where a loop can take the place of a second one
(numba copies an inlined helper at every call site, and the compile time grows with the code).
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


@njit()
def half_planes(plane, out):
    """The H.264 half-sample planes of a picture ``plane`` [H, W]: ``out`` uint8 [3, H, W] holds at each integer
    position the sample half a pel to the right (b), below (h) and both (j), edges replicated. Computed once per
    anchor picture in row passes (vectorised; int16 taps, which cannot overflow), so that a block's prediction
    reads them instead of filtering per block."""
    height, width = plane.shape
    line = np.empty(width + 5, np.int16)  # a source row, edge-padded by 2 and 3
    ring = np.empty((6, width), np.int16)  # unrounded horizontal taps of the last six (clamped) rows
    for rr in range(height + 5):
        source = plane[min(max(rr - 2, 0), height - 1)]
        first, last = np.int16(source[0]), np.int16(source[width - 1])
        line[0], line[1], line[width + 2], line[width + 3], line[width + 4] = first, first, last, last, last
        for x in range(width):
            line[_u(x + 2)] = source[_u(x)]
        taps = ring[rr % 6]
        for x in range(width):
            k = _u(x)
            taps[k] = _tap(line[k], line[k + _u(1)], line[k + _u(2)], line[k + _u(3)], line[k + _u(4)],
                           line[k + _u(5)])  # fmt: skip
        if 2 <= rr < height + 2:
            target = out[0, rr - 2]
            for x in range(width):
                target[_u(x)] = _clip255((np.int32(taps[_u(x)]) + 16) >> 5)
        if rr >= 5:
            y = rr - 5
            r0, r1, r2 = ring[y % 6], ring[(y + 1) % 6], ring[(y + 2) % 6]
            r3, r4, r5 = ring[(y + 3) % 6], ring[(y + 4) % 6], ring[(y + 5) % 6]
            target = out[2, y]
            for x in range(width):
                k = _u(x)
                total = _tap(np.int32(r0[k]), np.int32(r1[k]), np.int32(r2[k]), np.int32(r3[k]), np.int32(r4[k]),
                             np.int32(r5[k]))  # fmt: skip
                target[k] = _clip255((total + 512) >> 10)
    for y in range(height):
        s0, s1, s2 = plane[max(y - 2, 0)], plane[max(y - 1, 0)], plane[y]
        s3, s4, s5 = plane[min(y + 1, height - 1)], plane[min(y + 2, height - 1)], plane[min(y + 3, height - 1)]
        target = out[1, y]
        for x in range(width):
            k = _u(x)
            total = _tap(np.int16(s0[k]), np.int16(s1[k]), np.int16(s2[k]), np.int16(s3[k]), np.int16(s4[k]),
                         np.int16(s5[k]))  # fmt: skip
            target[k] = _clip255((np.int32(total) + 16) >> 5)


@njit(_nrt=False, inline="always")
def _gathered(plane, halves, px, py, side, out, oy, ox):
    """`luma_block` of a block whose samples lie in the picture, from the integer and half-sample planes: one
    sample each, or the rounded mean of two. Returns False (and does nothing) for a block that reaches past it."""
    height, width = plane.shape
    x0, y0 = px >> 2, py >> 2
    if not (x0 >= 0 and y0 >= 0 and x0 + side + 1 <= width and y0 + side + 1 <= height):
        return False
    code = (py & 3) * 4 + (px & 3)
    kind, dy, dx = QPEL[code, 0, 0], QPEL[code, 0, 1], QPEL[code, 0, 2]
    first = plane if kind == 0 else halves[kind - 1]
    top, left = y0 + dy, x0 + dx
    if code in (0, 2, 8, 10):  # whole- and half-pel positions: one sample
        for i in range(side):
            source, target = first[_u(top + i)], out[_u(oy + i)]
            for j in range(side):
                target[_u(ox + j)] = source[_u(left + j)]
        return True
    kind, dy, dx = QPEL[code, 1, 0], QPEL[code, 1, 1], QPEL[code, 1, 2]
    second = plane if kind == 0 else halves[kind - 1]
    top2, left2 = y0 + dy, x0 + dx
    for i in range(side):
        a, b, target = first[_u(top + i)], second[_u(top2 + i)], out[_u(oy + i)]
        for j in range(side):
            target[_u(ox + j)] = (np.int32(a[_u(left + j)]) + np.int32(b[_u(left2 + j)]) + 1) >> 1
    return True


@njit(_nrt=False)
def luma_block(plane, halves, px, py, side, scratch, out, oy, ox):
    """H.264 quarter-pel luma prediction of a ``side`` x ``side`` block whose top-left moves to (``px``, ``py``)
    quarter pels, from ``plane`` and its `half_planes` ``halves``, into ``out[oy:, ox:]``. ``scratch``: int32
    [4, 13, 13], for blocks that reach past the picture (filtered from a window of clamped coordinates: H.264's
    edge replication)."""
    if _gathered(plane, halves, px, py, side, out, oy, ox):
        return
    x0, y0 = px >> 2, py >> 2
    code = (py & 3) * 4 + (px & 3)
    count = 1 if code in (0, 2, 8, 10) else 2  # whole- and half-pel positions: one sample, else the mean of two
    win, rows = scratch[0], scratch[1]
    _window(plane, x0, y0, side + 5, win)
    for n in range(count):  # one loop, not two calls: half the code (each call site is inlined)
        kind, dy, dx = QPEL[code, n, 0], QPEL[code, n, 1], QPEL[code, n, 2]
        _samples(win, 2 + dy, 2 + dx, kind, side, rows, scratch[2 + n], 0, 0)
    first, second = scratch[2], scratch[3]
    for i in range(side):
        o, w = _u(oy + i), _u(i)
        if count == 1:
            for j in range(side):
                out[o, _u(ox + j)] = first[w, _u(j)]
        else:
            for j in range(side):
                out[o, _u(ox + j)] = (first[w, _u(j)] + second[w, _u(j)] + 1) >> 1


@njit(_nrt=False, inline="always")
def chroma_block(store, slot, which, ex, ey, side, out, oy, ox):
    """H.264 eighth-pel bilinear chroma prediction of a ``side`` x ``side`` block whose top-left moves to
    (``ex``, ``ey``) eighth pels, from both planes of ``store[slot, which]``, into ``out[p, oy:, ox:]`` (the two
    planes in one loop: they share the positions and weights)."""
    first, second = store[slot, which, 0], store[slot, which, 1]
    height, width = first.shape
    x0, y0, fx, fy = ex >> 3, ey >> 3, ex & 7, ey & 7
    out_u, out_v = out[0], out[1]
    if x0 >= 0 and y0 >= 0 and x0 + side < width and y0 + side < height:  # inside: no clamping
        if fx == 0 and fy == 0:
            for i in range(side):
                r, o = _u(y0 + i), _u(oy + i)
                for j in range(side):
                    c, k = _u(x0 + j), _u(ox + j)
                    out_u[o, k], out_v[o, k] = first[r, c], second[r, c]
            return
        wa, wb = np.int32((8 - fy) * (8 - fx)), np.int32((8 - fy) * fx)  # the bilinear weights, expanded
        wc, wd = np.int32(fy * (8 - fx)), np.int32(fy * fx)  # (integer arithmetic: the same values)
        for i in range(side):
            r0, r1, o = _u(y0 + i), _u(y0 + i + 1), _u(oy + i)
            for j in range(side):
                c0, c1, k = _u(x0 + j), _u(x0 + j + 1), _u(ox + j)
                a, b = np.int32(first[r0, c0]), np.int32(first[r0, c1])
                c, d = np.int32(first[r1, c0]), np.int32(first[r1, c1])
                out_u[o, k] = (wa * a + wb * b + wc * c + wd * d + 32) >> 6
                a, b = np.int32(second[r0, c0]), np.int32(second[r0, c1])
                c, d = np.int32(second[r1, c0]), np.int32(second[r1, c1])
                out_v[o, k] = (wa * a + wb * b + wc * c + wd * d + 32) >> 6
        return
    for i in range(side):
        r0, r1 = _u(min(max(y0 + i, 0), height - 1)), _u(min(max(y0 + i + 1, 0), height - 1))
        for j in range(side):
            c0, c1 = _u(min(max(x0 + j, 0), width - 1)), _u(min(max(x0 + j + 1, 0), width - 1))
            k = _u(ox + j)
            for src, target in ((first, out_u), (second, out_v)):
                top = (8 - fx) * np.int32(src[r0, c0]) + fx * np.int32(src[r0, c1])
                bottom = (8 - fx) * np.int32(src[r1, c0]) + fx * np.int32(src[r1, c1])
                target[_u(oy + i), k] = ((8 - fy) * top + fy * bottom + 32) >> 6


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
def _predict_luma(store_y, store_h, slot, which, br, bc, flow, cells, scratch, out, oy, ox):
    """Luma predictions of the cells of block (br, bc) set in ``cells`` (bit n = cell n) from anchor ``slot``
    (which: 0 its decoded, 1 its patched picture) into ``out[oy:oy + 8, ox:ox + 8]``; one 8 x 8 block when they
    share a vector (the same samples: the interpolation is per sample). The blocks inside the picture are
    gathered inline; the rest call `luma_block`."""
    y, x = 2 * br, 2 * bc
    plane, halves = store_y[slot, which], store_h[slot, which]
    whole = cells == 15 and _uniform(flow, br, bc)
    parts, side = (1, 8) if whole else (4, 4)
    for n in range(parts):  # one call site of each: the inlined code is copied at every one
        if whole or (cells >> n) & 1:
            cy, cx = y + (n >> 1), x + (n & 1)
            px, py = cx * 16 + flow[cy, cx, 0], cy * 16 + flow[cy, cx, 1]
            ty, tx = oy + 4 * (n >> 1), ox + 4 * (n & 1)
            if not _gathered(plane, halves, px, py, side, out, ty, tx):
                luma_block(plane, halves, px, py, side, scratch, out, ty, tx)


@njit(_nrt=False, inline="always")
def _predict_chroma(store_c, slot, which, br, bc, flow, cells, out, oy, ox):
    """`_predict_luma` for the two chroma planes: into ``out[p, oy:oy + 4, ox:ox + 4]``."""
    y, x = 2 * br, 2 * bc
    whole = cells == 15 and _uniform(flow, br, bc)
    parts, side = (1, 4) if whole else (4, 2)  # one 4 x 4 block, or a 2 x 2 one per covered cell
    for n in range(parts):  # one call site: chroma_block is inlined, each copy costs compile time
        if whole or (cells >> n) & 1:
            cy, cx = y + (n >> 1), x + (n & 1)
            ex, ey = cx * 16 + flow[cy, cx, 0], cy * 16 + flow[cy, cx, 1]
            chroma_block(store_c, slot, which, ex, ey, side, out, oy + 2 * (n >> 1), ox + 2 * (n & 1))


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


@njit(inline="always")
def _blended(a, b, kind, w1):
    """A sample's prediction from the past one ``a`` and the future one ``b`` (``kind``: bit 0 past, bit 1
    future): their weighted mean where both predict, else the one that does (unclipped, as the callers keep it)."""
    both = _bipred(a, b, w1)
    return (both if kind & 1 else b) if kind & 2 else a


# rows of the per-block state of `emulate_inter`: bit masks of the cells (bit n = cell n, raster order of the
# 2 x 2 cells of an 8 x 8 block) predicted from the past and from the future anchor, the past anchor's slot (-1:
# none), its bi-prediction weight w1, and the cells without a coded residual (luma, U, V)
PAST, FUTURE, SLOT, WEIGHT, NEED, NEED_U, NEED_V = range(7)


@njit(_nrt=False)
def _block_state(covs, past, weights, future, state):
    """Fill `PAST`, `FUTURE`, `SLOT` and `WEIGHT` of ``state`` [7, rows / 2, cols / 2] for the most recent past
    anchor, the first candidate (`_rechoose` may replace it)."""
    for br in range(state.shape[1]):
        for bc in range(state.shape[2]):
            past_cells = _cells(covs[0], br, bc) if len(past) else 0
            state[PAST, br, bc] = past_cells
            state[FUTURE, br, bc] = _cells(covs[1], br, bc) if future >= 0 else 0
            state[SLOT, br, bc] = past[0] if past_cells else -1
            state[WEIGHT, br, bc] = weights[0] if past_cells else 32
            state[NEED, br, bc], state[NEED_U, br, bc], state[NEED_V, br, bc] = 0, 0, 0


@njit(_nrt=False)
def _predict_pass(stores, flows, cflows, state, future, which, luma, colour, do_luma, do_chroma, scratch):
    """Per block, the predictions from the chosen past anchor and from the next one into ``luma`` [2, H, W] and
    ``colour`` [2, 2, H / 2, W / 2] (index 0 past, 1 future): ``which`` 0 the clean predictions of the covered
    cells from the decoded anchors, 1 the drifted ones from the patched anchors, of the cells without a coded
    residual only (the only ones that show them). ``stores``: the anchors' luma, half-sample and chroma planes."""
    store_y, store_h, store_c = stores
    for br in range(state.shape[1]):
        for bc in range(state.shape[2]):
            need, need_c = 15, 15
            if which:
                need, need_c = state[NEED, br, bc], state[NEED_U, br, bc] | state[NEED_V, br, bc]
            for d in range(2):  # one call site of each inlined helper: every copy costs compile time
                cells = state[PAST + d, br, bc]
                anchor = future if d else state[SLOT, br, bc]
                if do_luma and cells & need:
                    _predict_luma(store_y, store_h, anchor, which, br, bc, flows[d], cells & need, scratch, luma[d],
                                  8 * br, 8 * bc)  # fmt: skip
                if do_chroma and cells & need_c:
                    _predict_chroma(store_c, anchor, which, br, bc, cflows[d], cells & need_c, colour[d], 4 * br,
                                    4 * bc)  # fmt: skip


@njit(inline="always")
def _cell_sums(diff, line, count):
    """``line[k] += diff[4k : 4k + 4].sum()`` for k < ``count``."""
    for k in range(count):
        c = _u(4 * k)
        line[_u(k)] += diff[c] + diff[c + np.uint64(1)] + diff[c + np.uint64(2)] + diff[c + np.uint64(3)]


@njit()
def _luma_clean_rows(cur_y, predicted, state, w1, clean, sums):
    """Row pass: the clean luma prediction ``clean`` (int16) of every covered cell, bi-predicted with weight
    ``w1`` (the first past candidate's), and the per-cell sums of |decoded - prediction| into ``sums``."""
    height, width = cur_y.shape
    kinds, weights = np.empty(width, np.int32), np.empty(width, np.int32)  # per sample of the current cell row
    diff = np.empty(width, np.int32)
    weight = np.int32(w1)
    for r in range(height):
        if r & 3 == 0:
            _cell_kinds(state, r >> 2, 4, kinds, weights)
        past, ahead, cur, out = predicted[0, r], predicted[1, r], cur_y[r], clean[r]
        for col in range(width):
            c = _u(col)
            value = _blended(np.int32(past[c]), np.int32(ahead[c]), kinds[c], weight)
            out[c] = value
            diff[c] = abs(np.int32(cur[c]) - value)
        _cell_sums(diff, sums[r >> 2], width >> 2)


@njit(_nrt=False, inline="always")
def _cell_kinds(state, cell_row, repeat, kinds, weights):
    """Per sample of a row of cell row ``cell_row`` (``repeat`` samples per cell: 4 luma, 2 chroma): ``kinds`` bit
    0: predicted from the past, bit 1: from the future, bit 2: no coded luma residual, bits 3 and 4: no coded U and
    V residual; ``weights`` the block's bi-prediction weight."""
    br, bit = cell_row >> 1, 2 * (cell_row & 1)
    for cell in range(len(kinds) // repeat):
        bc = cell >> 1
        n = bit + (cell & 1)
        kind = (state[PAST, br, bc] >> n) & 1 | ((state[FUTURE, br, bc] >> n) & 1) << 1
        kind |= ((state[NEED, br, bc] >> n) & 1) << 2
        kind |= ((state[NEED_U, br, bc] >> n) & 1) << 3 | ((state[NEED_V, br, bc] >> n) & 1) << 4
        for j in range(repeat):
            kinds[_u(cell * repeat + j)] = kind
            weights[_u(cell * repeat + j)] = state[WEIGHT, br, bc]


@njit(_nrt=False)
def _rechoose(cur_y, stores, flow, past, weights, ahead, clean, sums, state, scratch, trial, blended, tallies):
    """Where the most recent past anchor leaves a block's covered cells more than one grey level off on average,
    the older anchor in ``past`` that predicts them best, if one does better: its slot and weight into ``state``,
    its bi-predicted prediction into ``clean`` and its per-cell sums into ``sums``."""
    store_y, store_h = stores[0], stores[1]
    for br in range(state.shape[1]):
        for bc in range(state.shape[2]):
            cells, future_cells = state[PAST, br, bc], state[FUTURE, br, bc]
            if not cells:
                continue
            count, best = 0, 0
            for n in range(4):
                if (cells >> n) & 1:
                    count += 1
                    best += sums[2 * br + (n >> 1), 2 * bc + (n & 1)]
            if best <= EXPLAINED_SUM * count:
                continue
            choice = 0
            for k in range(1, len(past)):
                _predict_luma(store_y, store_h, past[k], 0, br, bc, flow, cells, scratch, trial, 0, 0)
                total = 0
                for n in range(4):
                    if not (cells >> n) & 1:
                        continue
                    kind = 1 | ((future_cells >> n) & 1) << 1
                    oy, ox = 4 * (n >> 1), 4 * (n & 1)
                    cell = 0
                    for i in range(oy, oy + 4):
                        r, w = _u(8 * br + i), _u(i)
                        for j in range(ox, ox + 4):
                            c, m = _u(8 * bc + j), _u(j)
                            value = _blended(np.int32(trial[w, m]), np.int32(ahead[r, c]), kind, weights[k])
                            blended[0, w, m] = value
                            cell += abs(np.int32(cur_y[r, c]) - value)
                    tallies[0, n] = cell
                    total += cell
                    if total >= best:  # this candidate cannot do better any more
                        break
                if total < best:
                    best, choice = total, k
                    for n in range(4):
                        tallies[1, n] = tallies[0, n]
                    for i in range(8):
                        for j in range(8):
                            blended[1, _u(i), _u(j)] = blended[0, _u(i), _u(j)]
            if not choice:
                continue
            state[SLOT, br, bc], state[WEIGHT, br, bc] = past[choice], weights[choice]
            for n in range(4):
                if (cells >> n) & 1:
                    oy, ox = 4 * (n >> 1), 4 * (n & 1)
                    sums[2 * br + (n >> 1), 2 * bc + (n & 1)] = tallies[1, n]
                    for i in range(oy, oy + 4):
                        for j in range(ox, ox + 4):
                            clean[_u(8 * br + i), _u(8 * bc + j)] = blended[1, _u(i), _u(j)]


@njit()
def _chroma_clean_rows(cur_c, predicted, state, clean, sums):
    """`_luma_clean_rows` for the chroma planes, each block with its chosen weight; ``sums`` [2, rows / 2,
    cols / 2]: per 4 x 4 chroma block the sum of |decoded - prediction|, the uncovered cells' prediction 0."""
    height, width = cur_c.shape[1], cur_c.shape[2]
    kinds, weights = np.empty(width, np.int32), np.empty(width, np.int32)
    diff = np.empty(width, np.int32)
    for r in range(height):
        if r & 1 == 0:
            _cell_kinds(state, r >> 1, 2, kinds, weights)
        for p in range(2):
            past, ahead, cur, out = predicted[0, p, r], predicted[1, p, r], cur_c[p, r], clean[p, r]
            for col in range(width):
                c = _u(col)
                kind = kinds[c] & 3
                value = _blended(np.int32(past[c]), np.int32(ahead[c]), kind, weights[c])
                out[c] = value
                diff[c] = abs(np.int32(cur[c]) - (value if kind else 0))
            _cell_sums(diff, sums[p, r >> 2], width >> 2)


@njit(_nrt=False)
def _uncoded(state, sums, chroma_sums, chroma):
    """`NEED`, `NEED_U` and `NEED_V` of ``state``: the covered cells whose mean |decoded - prediction| is at most
    3 levels, i.e. taken as having no coded residual (chroma: all the block's covered cells, or none)."""
    for br in range(state.shape[1]):
        for bc in range(state.shape[2]):
            inter = state[PAST, br, bc] | state[FUTURE, br, bc]
            found = 0
            for n in range(4):
                if (inter >> n) & 1 and sums[2 * br + (n >> 1), 2 * bc + (n & 1)] <= CODED_SUM:
                    found |= 1 << n
            state[NEED, br, bc] = found
            for p in range(2):
                state[NEED_U + p, br, bc] = inter if chroma and chroma_sums[p, br, bc] <= CODED_SUM else 0


@njit(inline="always")
def _write_row(cur, prediction, past, ahead, dcs, kinds, weights, shown, line):
    """One patched row: coded covered samples show 128 + error, uncoded ones (kind bit ``shown``) the drifted
    prediction, the others (intra) 128 + the sample minus the DC of their block."""
    for col in range(len(line)):
        c = _u(col)
        kind, sample = kinds[c], np.int32(cur[c])
        intra = _clip255(128 + sample - dcs[c])
        coded = _clip255(128 + sample - np.int32(prediction[c]))
        uncoded = _blended(np.int32(past[c]), np.int32(ahead[c]), kind, weights[c])
        line[c] = ((uncoded if kind & shown else coded) if kind & 3 else intra) & 255


@njit()
def _write_luma_rows(cur_y, clean, drifted, state, out):
    """Row pass: the patched luma: coded covered cells show 128 + error, uncoded ones the drifted prediction,
    the others (intra) 128 + the sample minus the DC of the cell."""
    height, width = cur_y.shape
    kinds, weights = np.empty(width, np.int32), np.empty(width, np.int32)
    dcs = np.empty(width, np.int32)
    for r in range(height):
        if r & 3 == 0:
            _cell_kinds(state, r >> 2, 4, kinds, weights)
            for cell in range(width >> 2):
                c = _u(4 * cell)
                dc = _dc(cur_y, r, 4 * cell, 4) if not kinds[c] & 3 else 0
                for j in range(4):
                    dcs[c + np.uint64(j)] = dc
        _write_row(cur_y[r], clean[r], drifted[0, r], drifted[1, r], dcs, kinds, weights, 4, out[r])


@njit()
def _write_chroma_rows(cur_c, clean, drifted, state, out):
    """`_write_luma_rows` for the chroma planes (one DC per 4 x 4 chroma block)."""
    height, width = cur_c.shape[1], cur_c.shape[2]
    kinds, weights = np.empty(width, np.int32), np.empty(width, np.int32)
    dcs = np.empty((2, width), np.int32)
    for r in range(height):
        if r & 1 == 0:
            _cell_kinds(state, r >> 1, 2, kinds, weights)
        if r & 3 == 0:
            for bc in range(width >> 2):
                inter = state[PAST, r >> 2, bc] | state[FUTURE, r >> 2, bc]
                for p in range(2):
                    dc = _dc(cur_c[p], r, 4 * bc, 4) if inter != 15 else 0
                    for j in range(4):
                        dcs[p, _u(4 * bc + j)] = dc
        for p in range(2):  # the kind bit of a chroma plane's uncoded cells: 8 (U), 16 (V)
            _write_row(cur_c[p, r], clean[p, r], drifted[0, p, r], drifted[1, p, r], dcs[p], kinds, weights, 8 << p,
                       out[p, r])  # fmt: skip


@njit()
def emulate_inter(
    cur_y, cur_c, flows, cflows, covs, store_y, store_h, store_c, past, weights, future, chroma, drift, out_y, out_c
):
    """The patched picture of an inter frame into ``out_y`` [H, W] and, with ``chroma``, ``out_c`` [2, H/2, W/2].

    ``flows`` int64 [2, rows, cols, 2] quarter-pel L0 / L1 vectors per 4 x 4 cell (``cflows``: the chroma ones),
    ``covs`` bool [2, rows, cols] their coverage; ``store_y`` uint8 [slots, 2, H, W] and ``store_c``
    [slots, 2, 2, H/2, W/2] the anchors' decoded (0) and patched (1) pictures; ``past`` the slots of the past
    anchors tried (most recent first) and ``weights`` their bi-prediction weights ``w1`` (`implicit_weight`);
    ``future`` the slot of the next anchor for B-frames (-1: none).

    In passes: the predictions per block into whole planes, then the bi-prediction, the errors per cell, the
    coded test and the writes over whole rows (loops the compiler vectorises); only the choice of an older
    anchor, where the most recent one does not explain a block, stays per block. Drifted predictions are made
    only for the cells that show them (covered cells without a coded residual).
    """
    height, width = cur_y.shape
    rows, cols = covs.shape[1], covs.shape[2]
    stores = (store_y, store_h, store_c)
    state = np.empty((7, rows // 2, cols // 2), np.int64)
    _block_state(covs, past, weights, future, state)
    scratch = np.empty((4, 13, 13), np.int32)
    luma = np.empty((2, height, width), np.uint8)  # predictions from the past and the future anchor
    colour = np.empty((2, 2, height // 2, width // 2), np.uint8)
    clean = np.empty((height, width), np.int16)  # bi-predicted (unclipped, as H.264's weighted prediction is not)
    clean_c = np.empty((2, height // 2, width // 2), np.int16)
    sums = np.zeros((rows, cols), np.int64)
    chroma_sums = np.zeros((2, rows // 2, cols // 2), np.int64)
    _predict_pass(stores, flows, cflows, state, future, 0, luma, colour, True, False, scratch)
    _luma_clean_rows(cur_y, luma, state, weights[0] if len(past) else 32, clean, sums)
    if len(past) > 1:
        trial = np.empty((8, 8), np.uint8)
        _rechoose(cur_y, stores, flows[0], past, weights, luma[1], clean, sums, state, scratch, trial,
                  np.empty((2, 8, 8), np.int32), np.empty((2, 4), np.int64))  # fmt: skip
    if chroma:
        _predict_pass(stores, flows, cflows, state, future, 0, luma, colour, False, True, scratch)
        _chroma_clean_rows(cur_c, colour, state, clean_c, chroma_sums)
    if drift:
        _uncoded(state, sums, chroma_sums, chroma)
        _predict_pass(stores, flows, cflows, state, future, 1, luma, colour, True, chroma, scratch)
    _write_luma_rows(cur_y, clean, luma, state, out_y)
    if chroma:
        _write_chroma_rows(cur_c, clean_c, colour, state, out_c)


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


@njit()
def linear_resize_cells_u8(src, rows, cols, x0, x1, a0, a1, y0, y1, b0, b1, top, left, patch, channels, out, targets):
    """Cells of `linear_resize_u8`'s output placed at (``top``, ``left``) on a zero canvas, computed for those
    cells only (the same values): cell (``rows[k]``, ``cols[k]``) is written to cell (``targets[k, 1]``,
    ``targets[k, 2]``) of ``out[targets[k, 0]]`` (uint8 [M, C, C * channels], zero where the cell lies in the
    padding), the cells sorted by row. ``x0`` ... ``b1`` are `linear_resize_u8`'s taps of the whole content box;
    the source rows a cell row reads are resized horizontally once for all its cells."""
    height, values = y0.shape[0], x0.shape[0]
    span = patch * channels
    start = 0
    while start < len(rows):
        stop = start
        while stop < len(rows) and rows[stop] == rows[start]:
            stop += 1
        lo, hi = max(rows[start] * patch - top, 0), min((rows[start] + 1) * patch - top, height)
        if lo < hi:
            first_row, last_row = y0[lo], y1[hi - 1]
            resized = np.empty((last_row - first_row + 1, (stop - start) * span), np.int32)
            for s in range(first_row, last_row + 1):
                line, target = src[_u(s)], resized[_u(s - first_row)]
                for k in range(start, stop):
                    base = (cols[k] * patch - left) * channels  # the cell's first value in a content row
                    offset = (k - start) * span - base
                    for j in range(max(base, 0), min(base + span, values)):
                        i = _u(j)
                        target[_u(offset + j)] = np.int32(line[_u(x0[i])]) * a0[i] + np.int32(line[_u(x1[i])]) * a1[i]
            for oy in range(lo, hi):
                upper, lower = resized[_u(y0[oy] - first_row)], resized[_u(y1[oy] - first_row)]
                w0, w1, r = b0[oy], b1[oy], oy + top - rows[start] * patch
                for k in range(start, stop):
                    base = (cols[k] * patch - left) * channels
                    offset = (k - start) * span - base
                    line = out[targets[k, 0], targets[k, 1] * patch + r]
                    shift = targets[k, 2] * span - base
                    for j in range(max(base, 0), min(base + span, values)):
                        m = _u(offset + j)
                        value = ((((upper[m] >> 4) * w0) >> 16) + (((lower[m] >> 4) * w1) >> 16) + 2) >> 2
                        line[_u(shift + j)] = min(max(value, 0), 255)
        start = stop
