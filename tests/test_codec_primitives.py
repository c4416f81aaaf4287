"""The codec primitives on synthetic inputs: vector painting, normalisation, letterboxing, H.264 interpolation,
bi-prediction weights and the patched-picture kernels."""

from __future__ import annotations

import itertools
import pickle
import subprocess
import sys

import numba
import numpy as np
import pytest
from media import moving_object_clip

from ov_vlm.codec import CodecSettings, kernels, reference, selection
from ov_vlm.codec.letterbox import Letterboxes, paste_cells, reference_letterboxed_rgb
from ov_vlm.codec.packing import pack
from ov_vlm.codec.residual import vector_grid
from ov_vlm.codec.saliency import CanvasGeometry
from ov_vlm.media import VideoSource

MV_DTYPE = np.dtype(
    [
        ("source", "i4"), ("w", "u1"), ("h", "u1"), ("src_x", "i2"), ("src_y", "i2"), ("dst_x", "i2"),
        ("dst_y", "i2"), ("flags", "u8"), ("motion_x", "i4"), ("motion_y", "i4"), ("motion_scale", "u2"),
    ]
)  # fmt: skip


def vectors(*rows) -> np.ndarray:
    """Motion vectors as PyAV exports them: (source, w, h, dst_x, dst_y, motion_x, motion_y, motion_scale)."""
    out = np.zeros(len(rows), dtype=MV_DTYPE)
    for row, (source, w, h, dst_x, dst_y, mx, my, scale) in zip(out, rows, strict=True):
        row["source"], row["w"], row["h"], row["dst_x"], row["dst_y"] = source, w, h, dst_x, dst_y
        row["motion_x"], row["motion_y"], row["motion_scale"] = mx, my, scale
        row["src_x"], row["src_y"] = dst_x + mx // scale, dst_y + my // scale
    return out


def test_vector_grid_paints_each_block_over_its_cells():
    mvs = vectors(
        (-1, 16, 16, 8, 8, 5, -3, 4),  # top-left macroblock: 4 x 4 cells
        (-1, 8, 8, 28, 4, 2, 2, 2),  # an 8 x 8 block, half-pel units (MPEG-4): 2 x 2 cells, x2 to quarter pels
        (1, 8, 8, 28, 4, 7, 7, 4),  # a future (L1) vector is not an L0 one
    )
    flow, covered = vector_grid(mvs, 16, 32, future=False)
    assert flow.shape == (4, 8, 2) and covered.sum() == 16 + 4
    assert covered[:4, :4].all() and (flow[:4, :4] == [5, -3]).all()
    assert covered[:2, 6:8].all() and (flow[:2, 6:8] == [4, 4]).all()
    assert not covered[2:, 4:].any()
    ahead, ahead_covered = vector_grid(mvs, 16, 32, future=True)
    assert ahead_covered.sum() == 4 and (ahead[:2, 6:8] == [7, 7]).all()


def test_vector_grid_clips_blocks_at_the_border_and_later_vectors_win():
    mvs = vectors((-1, 16, 16, 2, 2, 4, 0, 4), (-1, 16, 16, 2, 2, 8, 0, 4))
    flow, covered = vector_grid(mvs, 16, 16, future=False)
    assert covered.sum() == 4 and covered[:2, :2].all()  # [0 - 2, 0 + 2) clipped to [0, 2)
    assert (flow[covered][:, 0] == 8).all()
    empty, nothing = vector_grid(None, 16, 16, future=False)
    assert not nothing.any() and not empty.any()


def test_vector_grid_paints_smaller_blocks_first_whatever_their_order():
    mvs = vectors((-1, 16, 16, 8, 8, 4, 0, 4), (-1, 8, 8, 4, 4, 12, 0, 4), (-1, 4, 4, 2, 2, 20, 0, 4))
    flow, covered = vector_grid(mvs, 16, 16, future=False)
    assert covered.sum() == 16 and (flow[..., 0] == 4).all()  # the macroblock, painted last, covers both
    reordered, _ = vector_grid(mvs[::-1], 16, 16, future=False)
    assert np.array_equal(reordered, flow)
    small_last = vectors((-1, 16, 16, 24, 8, 4, 0, 4), (-1, 8, 8, 4, 4, 12, 0, 4))  # apart: both painted
    apart, covered = vector_grid(small_last, 16, 32, future=False)
    assert (apart[:2, :2, 0] == 12).all() and (apart[:4, 4:, 0] == 4).all() and covered.sum() == 4 + 16


def test_median_compensation_removes_camera_motion():
    grid = np.zeros((10, 12, 2), dtype=np.float32)
    grid[...] = [3.0, -2.0]  # a pan
    assert not reference.motion_energy(grid, "median", 95, 1e-6).any()
    grid[4, 5] = [7.0, 1.0]  # one object moving against it
    energy = reference.motion_energy(grid, "median", 95, 1e-6)
    assert energy[4, 5] == 1.0 and energy.sum() == 1.0


def test_normalise_divides_by_the_percentile_with_a_floor():
    values = np.arange(101, dtype=np.float32)
    assert np.allclose(reference.normalise(values, 95, 1.0), np.clip(values / 95.0, 0, 1))
    assert np.array_equal(reference.normalise(np.full(8, 0.5, np.float32), 95, 1.0), np.full(8, 0.5, np.float32))


@pytest.mark.parametrize("size", [1, 2, 7, 100, 2048 + 3])
def test_level_percentile_is_numpys(size):
    rng = np.random.default_rng(size)
    for high in (2, 40, 129):
        levels = rng.integers(0, high, size=(1, size), dtype=np.uint8)
        for q in (50.0, 95.0, 99.5):
            assert reference.level_percentile(levels, q) == float(np.percentile(levels.astype(np.float32), q))


def test_patch_scores_sum_the_content_box():
    geometry = CanvasGeometry.fit(144, 176, 576, 16)  # upscaled to 471 x 576, padded above and below
    box = geometry.content_height, geometry.content_width
    resized = reference.linear_resize(np.ones((144, 176), dtype=np.float32), *box)
    scores = reference.padded_sums(resized, geometry)
    assert scores.shape == (36, 36)
    assert np.isclose(scores.sum(), geometry.content_height * geometry.content_width, rtol=1e-6)
    valid = geometry.valid_cells()
    assert np.allclose(scores[valid], 256.0) and scores[0].sum() == 0


def opencv_linear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """OpenCV's INTER_LINEAR written per pixel (half-pixel centres, clamped borders)."""
    out = np.zeros((height, width), dtype=np.float64)
    for y in range(height):
        for x in range(width):
            fy, fx = (y + 0.5) * image.shape[0] / height - 0.5, (x + 0.5) * image.shape[1] / width - 0.5
            y0, x0 = int(np.floor(fy)), int(np.floor(fx))
            wy, wx = fy - y0, fx - x0
            if y0 < 0 or y0 >= image.shape[0] - 1:
                wy = 0.0
            if x0 < 0 or x0 >= image.shape[1] - 1:
                wx = 0.0
            ys = [min(max(y0, 0), image.shape[0] - 1), min(max(y0 + 1, 0), image.shape[0] - 1)]
            xs = [min(max(x0, 0), image.shape[1] - 1), min(max(x0 + 1, 0), image.shape[1] - 1)]
            top = image[ys[0], xs[0]] * (1 - wx) + image[ys[0], xs[1]] * wx
            bottom = image[ys[1], xs[0]] * (1 - wx) + image[ys[1], xs[1]] * wx
            out[y, x] = top * (1 - wy) + bottom * wy
    return out


@pytest.mark.parametrize("shape", [(9, 7), (5, 13), (6, 6)])
def test_linear_resize_is_opencvs_bilinear(shape):
    image = np.random.default_rng(0).random((8, 10)).astype(np.float32)
    assert np.allclose(reference.linear_resize(image, *shape), opencv_linear(image, *shape), atol=1e-5)
    assert np.array_equal(reference.linear_resize(image, 8, 10), image)


@pytest.mark.parametrize("target", [(471, 576), (324, 576), (90, 60)])
def test_resized_maps_are_the_numpy_fusion_resized(target):
    """The compiled fusion + resize, evaluated only at the pixels the resize reads, gives the float32 bits of the
    numpy formulas: motion only (`fused_map` without residual) and with the residual levels."""
    rng = np.random.default_rng(target[0])
    motion = rng.random((36, 44)).astype(np.float32)
    motion[rng.random(motion.shape) < 0.4] = 0.0
    levels = rng.integers(0, 90, size=(144, 176), dtype=np.uint8)
    settings = CodecSettings(mv_weight=0.7, residual_weight=0.3)
    expected = reference.linear_resize(reference.fused_map(motion, None, 0.7, 0.3), *target)
    assert np.array_equal(reference.motion_resized(motion, settings, *target), expected)
    fused = reference.residual_fused(motion, levels, settings.residual_percentile, settings.residual_floor, 0.7, 0.3)
    expected = reference.linear_resize(fused, *target)
    assert np.array_equal(reference.residual_resized(motion, levels, settings, *target), expected)


def opencv_linear_u8(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """OpenCV's 8-bit INTER_LINEAR written out per pixel: weights rounded to 1/2048 each, a horizontal pass to
    integer sums, then the vertical pass of its vectorised code (``>> 4``, high half of the product, ``+ 2 >> 2``)."""

    def taps(source: int, target: int):
        scale = 1.0 / (target / source)
        out = []
        for d in range(target):
            f = np.float32((d + 0.5) * scale - 0.5)
            s = int(np.floor(f))
            f = np.float32(f - np.float32(s))
            if s < 0:
                s, f = 0, np.float32(0)
            if s >= source - 1:
                s, f = source - 1, np.float32(0)
            w0 = int(np.rint((np.float32(1) - f) * np.float32(2048)))
            w1 = int(np.rint(f * np.float32(2048)))
            out.append((s, min(s + 1, source - 1), w0, w1))
        return out

    columns, rows = taps(image.shape[1], width), taps(image.shape[0], height)
    out = np.zeros((height, width, image.shape[2]), dtype=np.uint8)
    for y, (y0, y1, b0, b1) in enumerate(rows):
        for x, (x0, x1, a0, a1) in enumerate(columns):
            for c in range(image.shape[2]):
                s0 = int(image[y0, x0, c]) * a0 + int(image[y0, x1, c]) * a1
                s1 = int(image[y1, x0, c]) * a0 + int(image[y1, x1, c]) * a1
                out[y, x, c] = min(max(((((s0 >> 4) * b0) >> 16) + (((s1 >> 4) * b1) >> 16) + 2) >> 2, 0), 255)
    return out


@pytest.mark.parametrize("shape", [(23, 17), (5, 13), (12, 10), (40, 31)])
def test_letterbox_resize_is_opencvs_fixed_point_bilinear(shape):
    """Shrinking and enlarging a uint8 RGB image; the fixture's mosaics check the same against the reference."""
    image = np.random.default_rng(1).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    geometry = CanvasGeometry(12, 10, 48, 16, 1.0, *shape, 3, 5)
    canvas = reference.letterbox_rgb(image, geometry, np.zeros((48, 48, 3), dtype=np.uint8))
    height, width = shape
    assert np.array_equal(canvas[3 : 3 + height, 5 : 5 + width], opencv_linear_u8(image, height, width))
    assert canvas.sum() == canvas[3 : 3 + height, 5 : 5 + width].sum()  # the padding stays black
    assert np.array_equal(
        reference.letterbox_rgb(
            image, CanvasGeometry(12, 10, 48, 16, 1.0, 12, 10, 0, 0), np.zeros((48, 48, 3), dtype=np.uint8)
        )[:12, :10],
        image,
    )


@pytest.mark.parametrize(
    "source, content, pad",
    [
        ((12, 10), (40, 31), (3, 5)),
        ((23, 17), (19, 14), (0, 9)),
        ((30, 44), (48, 48), (0, 0)),
        ((7, 9), (5, 13), (21, 30)),
    ],
)
def test_the_kept_cells_alone_are_resized_to_the_same_pixels_as_the_whole_canvas(source, content, pad):
    """Enlarging and shrinking, cells across the content's edges and wholly in the padding, in any order."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (*source, 3), dtype=np.uint8)
    geometry = CanvasGeometry(*source, 48, 8, 1.0, *content, *pad)
    canvas = reference.letterbox_rgb(image, geometry, np.zeros((48, 48, 3), dtype=np.uint8))
    rows, cols = rng.integers(0, 6, 40), rng.integers(0, 6, 40)
    targets = np.stack([np.arange(40) % 3, np.arange(40) // 3 % 4, np.arange(40) // 12], axis=1)  # each cell once
    mosaics = np.zeros((3, 32, 32, 3), dtype=np.uint8)
    paste_cells(image, geometry, rows, cols, mosaics, targets)
    expected = np.zeros_like(mosaics)
    expected.reshape(3, 4, 8, 4, 8, 3)[targets[:, 0], targets[:, 1], :, targets[:, 2]] = canvas.reshape(6, 8, 6, 8, 3)[
        rows, :, cols
    ]
    assert np.array_equal(mosaics, expected) and mosaics.any()


def test_letterboxes_kept_small_give_the_pixels_of_the_reference_letterbox(tmp_path):
    """A clip smaller than the canvas is kept at its own size (only a larger one is resized when put); its
    mosaics and canvases are the reference letterbox's pixels, a shared slot shows its source's frame."""
    path = moving_object_clip(tmp_path / "small.mp4", count=6, size=(40, 56), side=8, start=(4, 4)).path
    geometry = CanvasGeometry.fit(40, 56, 64, 16)
    letterboxes = Letterboxes(4, geometry)
    expected = np.zeros((4, 64, 64, 3), dtype=np.uint8)
    with VideoSource(path) as video:
        for slot, frame in zip((0, 1, 3), video.frames(), strict=False):
            letterboxes.put(slot, frame)
            reference_letterboxed_rgb(frame, geometry, expected[slot])
    letterboxes.share(2, 1)
    expected[2] = expected[1]
    assert letterboxes.lazy and not Letterboxes(1, CanvasGeometry.fit(80, 112, 64, 16)).lazy
    kept = np.array([[3, 1, 0], [0, 2, 3], [2, 0, 1], [1, 3, 2], [3, 2, 2]])
    mosaics, _ = pack(kept, letterboxes, 16, 1)
    assert np.array_equal(mosaics, pack(kept, expected, 16, 1)[0])
    assert np.array_equal(letterboxes.canvases(), expected) and expected[3].any()
    assert np.array_equal(pickle.loads(pickle.dumps(letterboxes)).canvases(), expected)  # a selection pickles


def h264_luma_sample(plane: np.ndarray, xq: int, yq: int) -> int:
    """One H.264 luma sample at quarter-pel position (xq, yq), written from the standard's equations (8-241 ff.)."""
    height, width = plane.shape

    def g(x, y):
        return int(plane[min(max(y, 0), height - 1), min(max(x, 0), width - 1)])

    def clip(v):
        return min(max(v, 0), 255)

    def tap(v):
        return v[0] - 5 * v[1] + 20 * v[2] + 20 * v[3] - 5 * v[4] + v[5]

    def b1(x, y):
        return tap([g(x + k, y) for k in range(-2, 4)])

    def h1(x, y):
        return tap([g(x, y + k) for k in range(-2, 4)])

    def b(x, y):
        return clip((b1(x, y) + 16) >> 5)

    def h(x, y):
        return clip((h1(x, y) + 16) >> 5)

    def j(x, y):
        return clip((tap([b1(x, y + k) for k in range(-2, 4)]) + 512) >> 10)

    x, y, fx, fy = xq >> 2, yq >> 2, xq & 3, yq & 3
    full = {(0, 0): g(x, y), (2, 0): b(x, y), (0, 2): h(x, y), (2, 2): j(x, y)}
    if (fx, fy) in full:
        return full[(fx, fy)]
    pairs = {
        (1, 0): (g(x, y), b(x, y)), (3, 0): (b(x, y), g(x + 1, y)),
        (0, 1): (g(x, y), h(x, y)), (0, 3): (h(x, y), g(x, y + 1)),
        (1, 1): (b(x, y), h(x, y)), (3, 1): (b(x, y), h(x + 1, y)),
        (1, 3): (h(x, y), b(x, y + 1)), (3, 3): (b(x, y + 1), h(x + 1, y)),
        (2, 1): (b(x, y), j(x, y)), (2, 3): (j(x, y), b(x, y + 1)),
        (1, 2): (h(x, y), j(x, y)), (3, 2): (j(x, y), h(x + 1, y)),
    }  # fmt: skip
    first, second = pairs[(fx, fy)]
    return (first + second + 1) >> 1


QPEL_VECTORS = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 3), (2, 2), (1, 3), (3, 1), (3, 3), (-7, 5), (6, -9), (-90, 3)]


@pytest.mark.parametrize("side", [4, 8])
@pytest.mark.parametrize("vector", QPEL_VECTORS)
def test_luma_prediction_is_h264_quarter_pel(side, vector):
    rng = np.random.default_rng(side)
    store = rng.integers(0, 256, size=(2, 2, 24, 32), dtype=np.uint8)
    halves = np.empty((3, 24, 32), np.uint8)
    kernels.half_planes(store[1, 0], halves)
    scratch = np.empty((4, 13, 13), np.int32)
    for left, top in ((8, 8), (0, 0), (24, 16)):  # inside and on the borders (edge replication)
        out = np.zeros((8, 8), dtype=np.uint8)
        px, py = left * 4 + vector[0], top * 4 + vector[1]
        kernels.luma_block(store[1, 0], halves, px, py, side, scratch, out, 0, 0)
        expected = [[h264_luma_sample(store[1, 0], px + 4 * j, py + 4 * i) for j in range(side)] for i in range(side)]
        assert out[:side, :side].tolist() == expected


@pytest.mark.parametrize("shape", [(24, 32), (8, 8), (5, 3)])
def test_half_planes_are_the_h264_half_samples(shape):
    plane = np.random.default_rng(shape[1]).integers(0, 256, size=shape, dtype=np.uint8)
    halves = np.empty((3, *shape), np.uint8)
    kernels.half_planes(plane, halves)
    for kind, (fx, fy) in enumerate(((2, 0), (0, 2), (2, 2))):  # b, h, j
        expected = [[h264_luma_sample(plane, 4 * x + fx, 4 * y + fy) for x in range(shape[1])] for y in range(shape[0])]
        assert halves[kind].tolist() == expected


@pytest.mark.parametrize("vector", [(0, 0), (3, 5), (8, -8), (-13, 7), (70, 1)])
def test_chroma_prediction_is_h264_eighth_pel(vector):
    store = np.random.default_rng(1).integers(0, 256, size=(1, 2, 2, 12, 16), dtype=np.uint8)

    def at(p, x, y):
        return int(store[0, 1, p, min(max(y, 0), 11), min(max(x, 0), 15)])

    for left, top in ((4, 4), (0, 0), (12, 8)):
        out = np.zeros((2, 4, 4), dtype=np.int32)
        ex, ey = left * 8 + vector[0], top * 8 + vector[1]
        kernels.chroma_block(store, 0, 1, ex, ey, 4, out, 0, 0)
        for p, i, j in itertools.product(range(2), range(4), range(4)):  # both planes, from the patched picture
            x, y, fx, fy = (ex >> 3) + j, (ey >> 3) + i, ex & 7, ey & 7
            value = (8 - fx) * (8 - fy) * at(p, x, y) + fx * (8 - fy) * at(p, x + 1, y)
            value += (8 - fx) * fy * at(p, x, y + 1) + fx * fy * at(p, x + 1, y + 1)
            assert out[p, i, j] == (value + 32) >> 6


@pytest.mark.parametrize("patch", [1, 3, 7, 8, 12, 16, 18, 48, 96])
def test_patch_sums_are_numpys_sums_of_the_padded_canvas(patch):
    """`kernels.patch_sums` gives the float32 bits of numpy's sum over each patch of the zero-padded canvas
    (its pairwise order), for content boxes at any offset, including boxes narrower than a patch."""
    rng = np.random.default_rng(patch)
    canvas = 288 if 288 % patch == 0 else 12 * patch
    cells = canvas // patch
    for _ in range(6):
        height, width = (int(rng.integers(1, canvas + 1)) for _ in range(2))
        top, left = int(rng.integers(0, canvas - height + 1)), int(rng.integers(0, canvas - width + 1))
        image = rng.random((height, width), dtype=np.float32) * np.float32(rng.choice([1e-3, 1.0, 239.0]))
        padded = np.zeros((canvas, canvas), dtype=np.float32)
        padded[top : top + height, left : left + width] = image
        expected = padded.reshape(cells, patch, cells, patch).sum(axis=(1, 3))
        out = np.empty((cells, cells), dtype=np.float32)
        assert np.array_equal(kernels.patch_sums(image, top, left, patch, out), expected)


def test_implicit_bi_prediction_weights():
    assert kernels.implicit_weight(5, 4, 6) == 32  # half way: the plain average
    assert kernels.implicit_weight(5, 4, 7) == 21  # a third of the way: w0 = 43, w1 = 21
    assert kernels.implicit_weight(6, 4, 7) == 42
    assert kernels.implicit_weight(5, 5, 5) == 32  # same picture order: default weights


def test_intra_plane_is_128_plus_the_sample_minus_the_neighbour_dc():
    plane = np.full((8, 12), 90, dtype=np.uint8)
    out = np.empty_like(plane)
    kernels.intra_plane(plane, out)
    assert (out[:4, :4] == 90).all()  # the corner block has no neighbours: DC 128
    assert (out[4:] == 128).all() and (out[:, 4:] == 128).all()


def numpy_swapped_luma(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """BT.601 limited range to RGB, then luma weights on RGB read as BGR, in numpy float32."""
    cu = np.repeat(np.repeat(u.astype(np.float32), 2, axis=0), 2, axis=1) - 128.0
    cv = np.repeat(np.repeat(v.astype(np.float32), 2, axis=0), 2, axis=1) - 128.0
    base = 1.164 * (y.astype(np.float32) - 16.0)
    red = np.clip(np.rint(base + 1.596 * cv), 0, 255)
    green = np.clip(np.rint(base - 0.391 * cu - 0.813 * cv), 0, 255)
    blue = np.clip(np.rint(base + 2.018 * cu), 0, 255)
    return np.clip(np.rint(0.299 * blue + 0.587 * green + 0.114 * red), 0, 255).astype(np.uint8)


def test_swapped_levels_match_the_numpy_formula():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 256, size=(16, 20), dtype=np.uint8)
    c = rng.integers(0, 256, size=(2, 8, 10), dtype=np.uint8)
    luma = numpy_swapped_luma(y, c[0], c[1]).astype(np.int32)
    assert np.array_equal(kernels.swapped_levels(y, c, 16, 20), np.abs(luma - 128).astype(np.uint8))


def emulate(cur_y: np.ndarray, anchor_y: np.ndarray, anchor_patched: np.ndarray) -> np.ndarray:
    """One P-frame predicted with zero vectors everywhere from one anchor (luma only)."""
    height, width = cur_y.shape
    store_y = np.stack([anchor_y, anchor_patched])[None]
    store_h = np.empty((1, 2, 3, height, width), dtype=np.uint8)
    for which in range(2):
        kernels.half_planes(store_y[0, which], store_h[0, which])
    store_c = np.zeros((1, 2, 2, height // 2, width // 2), dtype=np.uint8)
    flows = np.zeros((2, height // 4, width // 4, 2), dtype=np.int64)
    covs = np.zeros((2, height // 4, width // 4), dtype=bool)
    covs[0] = True
    cur_c, out_c = (np.zeros((2, height // 2, width // 2), dtype=np.uint8) for _ in range(2))
    out_y, past, weights = np.empty_like(cur_y), np.zeros(1, np.int64), np.full(1, 32, np.int64)
    kernels.emulate_inter(
        cur_y, cur_c, flows, flows, covs, store_y, store_h, store_c, past, weights, -1, False, True, out_y, out_c
    )
    return out_y


def test_uncoded_blocks_drift_and_coded_blocks_show_the_residual():
    rng = np.random.default_rng(4)
    anchor = rng.integers(40, 200, size=(16, 16), dtype=np.uint8)
    patched = rng.integers(100, 156, size=(16, 16), dtype=np.uint8)
    current = anchor.copy()
    current[8:, 8:] += 20  # one 8 x 8 block changed: coded
    out = emulate(current, anchor, patched)
    assert np.array_equal(out[:8], patched[:8]) and np.array_equal(out[8:, :8], patched[8:, :8])
    assert (out[8:, 8:] == 148).all()  # 128 + the error


def test_kernels_work_without_a_writable_cache():
    """A read-only install: numba finds no cache location; the kernels compile in memory, without warnings."""
    script = (
        "import numba.core.caching as caching\n"
        "def refuse(self): raise OSError('read-only')\n"
        "caching._CacheLocator.ensure_cache_path = refuse\n"
        "import numpy as np\n"
        "from ov_vlm.codec import kernels\n"
        "out = np.empty((8, 8), np.uint8)\n"
        "kernels.intra_plane(np.full((8, 8), 7, np.uint8), out)\n"
        "assert out[0, 0] == 7 and type(kernels.intra_plane._cache).__name__ == 'NullCache'\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_cold_kernel_cache_is_detected(tmp_path, monkeypatch):
    """The compile notice's test: a kernel without a cache index is cold, and warm once its first call saved it."""
    source = "from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n"
    (tmp_path / "cold_kernel.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    import cold_kernel

    assert kernels.cache_is_cold(cold_kernel.twice)
    assert cold_kernel.twice(3) == 6
    assert not kernels.cache_is_cold(cold_kernel.twice)
    assert not kernels.cache_is_cold(numba.njit(lambda x: x))  # compiled in memory: nothing to say


def test_the_compile_notice_is_printed_only_for_a_cold_cache(monkeypatch, capsys):
    for cold in (False, True):
        monkeypatch.setattr(kernels, "cache_is_cold", lambda cold=cold: cold)
        assert kernels.announce_compile.__wrapped__() is cold
        assert capsys.readouterr().err == (kernels.COMPILE_NOTICE + "\n" if cold else "")


@pytest.mark.parametrize("limit", [0, 1, 7, 50, 95, 96, 500])
def test_the_top_picks_sort_only_what_can_be_picked_and_agree_with_a_whole_sort(limit):
    """Many ties (zeros and repeated levels) and cells already taken (-inf): the prefix of the full order."""
    rng = np.random.default_rng(3)
    values = rng.choice(np.array([0.0, 0.5, 1.0, 2.0, 3.0], dtype=np.float32), size=(8, 4, 4))
    values[rng.random(values.shape) < 0.25] = -np.inf
    flat = values.ravel()
    finite = np.nonzero(np.isfinite(flat))[0]
    ranks = selection.spread_ranks(8)[finite // 16]
    whole = finite[np.lexsort((finite % 16, ranks, -flat[finite]))]
    assert np.array_equal(selection._order(values, limit), whole[:limit])
