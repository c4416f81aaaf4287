"""`select_patches`: video -> sampled frames -> motion signals -> saliency -> top-K -> mosaics and positions.

Streaming: frames are decoded once in display order (one decoding thread, so the picks never depend on
threading); what is kept per sampled frame is its patch scores and its letterboxed RGB (`letterbox`), never the
decoded video. The ``reference`` profile (default) scores as the reference stage 1 does, with the patched-decoder
residual estimated on every anchor frame (`residual`, `reference`); the ``robust`` profile analyses only the
sampled frames with the motion grid and residual proxy of `motion`.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ov_vlm.media import SparseDecodeError, VideoSource, sample_frame_ids, time_slots

from . import kernels, reference
from .errors import CodecError
from .letterbox import Letterboxes
from .motion import MOVING_MV, MOVING_RESIDUAL, motion_field, residual_proxy
from .packing import pack
from .residual import PatchedResidual, ResidualOptions
from .result import CodecSelection
from .saliency import CanvasGeometry, fuse, normalise, patch_scores
from .selection import select
from .settings import CodecSettings

EIGHT_BIT_LUMA_FIRST = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "nv12", "nv21", "gray"}
)
B_FRAME = 3
PICTURE_KINDS = {1: "I", 2: "P", 3: "B"}
PLANAR_420 = frozenset({"yuv420p", "yuvj420p"})


def luma(frame: av.VideoFrame) -> np.ndarray:
    """Y plane as uint8 [H, W]: a view of the frame's own buffer for 8-bit planar formats (valid while the frame
    object lives), a converted copy otherwise."""
    if frame.format.name in EIGHT_BIT_LUMA_FIRST:
        plane = frame.planes[0]
        data = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        return data[: frame.height, : frame.width]
    return frame.to_ndarray(format="gray")


@dataclass
class FrameAnalysis:
    scores: np.ndarray  # float32 [G, G]
    moving_share: float  # share of motion-grid cells showing motion (static-clip detection)
    has_vectors: bool


@dataclass
class SampledFrames:
    """What the selection needs of the sampled frames, filled while streaming."""

    scores: np.ndarray  # float32 [T, G, G]
    letterboxes: Letterboxes  # the letterboxed RGB
    moving: np.ndarray  # float [T]
    frame_ids: np.ndarray  # int [T] (slots past a truncated stream's end point at its last frame)
    decoded: int
    missing: int
    with_vectors: int


def analyse_frame(
    frame: av.VideoFrame, references: list[av.VideoFrame], geometry: CanvasGeometry, settings: CodecSettings
) -> FrameAnalysis:
    """Saliency of one sampled frame: MV energy (camera-compensated) fused with the residual proxy.

    ``references`` are the candidate past reference frames (recent frames and anchors, display order).
    """
    side = frame.side_data.get("MOTION_VECTORS")
    vectors = side.to_ndarray() if side is not None else None
    motion = motion_field(vectors, frame.height, frame.width, settings.compensation)
    current, candidates = luma(frame), [luma(ref) for ref in references]
    residual = residual_proxy(current, candidates, motion.prediction)
    # The exported vectors carry no reference index: during a pan, a block that chose another reference frame gets
    # the camera motion scaled, and its own-vector prediction from our candidate frames can miss. So a cell counts
    # as changed only if the camera motion alone does not predict it either, and a vector along the camera motion
    # is dropped when the camera motion alone predicts the cell.
    if float(motion.camera @ motion.camera) > 0:
        camera_shift = np.broadcast_to(motion.camera, motion.prediction.shape)
        camera_residual = residual_proxy(current, candidates, camera_shift)
        residual = np.minimum(residual, camera_residual)
        ambiguous = motion.along_camera & (camera_residual < MOVING_RESIDUAL)
    else:
        ambiguous = np.zeros_like(motion.entering)
    residual = np.maximum(residual - np.median(residual), 0.0)  # the frame's typical residual is coding noise
    magnitude = np.where(motion.entering | ambiguous, 0.0, motion.magnitude).astype(np.float32)
    residual = np.where(motion.entering, 0.0, residual).astype(np.float32)
    fused = fuse(
        normalise(magnitude, settings.mv_percentile, settings.mv_floor),
        normalise(residual, settings.residual_percentile, settings.residual_floor),
        settings.mv_weight,
        settings.residual_weight,
    )
    moving = float(((magnitude >= MOVING_MV) | (residual >= MOVING_RESIDUAL)).mean())
    return FrameAnalysis(
        scores=patch_scores(fused, geometry), moving_share=moving, has_vectors=bool(motion.covered.any())
    )


def select_patches(
    video: str | Path,
    settings: CodecSettings | None = None,
    *,
    residual_options: ResidualOptions | None = None,
    **overrides,
) -> CodecSelection:
    """Codec-salient patches of ``video`` as mosaics + (t, h, w) positions, all in memory.

    ``settings`` is a `CodecSettings`; keyword ``overrides`` replace single fields (unknown names raise).
    ``residual_options`` switches ingredients of the reference profile's residual estimate (ablations).
    Raises `CodecError` (one line naming the file and the reason) when the video cannot be used.
    """
    settings = (settings or CodecSettings()).replace(**overrides) if overrides else (settings or CodecSettings())
    path = Path(video)
    started = time.perf_counter()
    with VideoSource(path, max_side=settings.canvas, threads=settings.threads) as source:
        info = source.info
        geometry = CanvasGeometry.fit(info.height, info.width, settings.canvas, settings.patch)
        frame_ids = sample_frame_ids(info.num_frames, settings.frames)
        sampled = _analyse(source, frame_ids, geometry, settings, residual_options)
        decode_errors, skipped = list(source.decode_errors), len(source.skipped_frames)
    if sampled is None:
        raise CodecError(path, "no decodable video frames" + (f" ({decode_errors[0]})" if decode_errors else ""))
    decoded_seconds = time.perf_counter() - started

    count = settings.frames
    frame_ids, scores, letterboxes = sampled.frame_ids, sampled.scores, sampled.letterboxes
    distinct = np.ones(count, dtype=bool)
    distinct[1:] = frame_ids[1:] != frame_ids[:-1]
    later = sampled.moving[1:][distinct[1:]]
    motion_share = float(later.mean()) if len(later) else 0.0
    static = motion_share < settings.static_threshold

    try:
        chosen = select(scores, geometry.valid_cells(), distinct, settings, static)
    except ValueError as error:
        raise CodecError(path, str(error)) from None
    mosaics, cells = pack(chosen.kept, letterboxes, settings.patch, settings.block)
    slots = time_slots(count)
    positions = np.column_stack([slots[cells[:, 0]], cells[:, 1], cells[:, 2]]).astype(np.int32)
    order = np.column_stack([slots[chosen.kept[:, 0]], chosen.kept[:, 1], chosen.kept[:, 2]]).astype(np.int32)

    meta = {
        "video": info.to_dict(),
        "settings": settings.to_dict(),
        "frame_ids": frame_ids.tolist(),
        "t_slots": slots.tolist(),
        "distinct_frames": int(distinct.sum()),
        "missing_frames": sampled.missing,
        "decoded_frames": sampled.decoded,
        "skipped_frames": skipped,
        "decode_errors": decode_errors[:20],
        "canvas": geometry.to_dict(),
        "K": len(positions),
        "budget": chosen.budget,
        "ratio": len(positions) / settings.total_cells,
        "num_mosaics": len(mosaics),
        "cells_per_mosaic": settings.cells_per_frame,
        "mandatory": chosen.mandatory,
        "static": static,
        "motion_share": motion_share,
        "fallback_frames": chosen.fallback_frames,
        "repeated_units": chosen.repeated_units,
        "frames_with_motion_vectors": sampled.with_vectors,
        "seconds": {"decode_and_score": decoded_seconds, "total": time.perf_counter() - started},
    }
    return CodecSelection(
        positions=positions,
        frame_ids=frame_ids.astype(np.int32),
        scores=scores.astype(np.float32),
        mosaics=mosaics,
        selection_order=order,
        meta=meta,
        letterboxes=letterboxes,
    )


def _analyse(
    source: VideoSource,
    frame_ids: np.ndarray,
    geometry: CanvasGeometry,
    settings: CodecSettings,
    options: ResidualOptions | None,
) -> SampledFrames | None:
    """The profile's analysis of the sampled frames, decoding sparsely (`ov_vlm.media.sparse`: the same frames come
    out, the unneeded non-reference B-pictures are not decoded), or every frame where the stream's timestamps do
    not allow it."""
    for sparse in (True, False):
        try:
            if settings.profile == "robust":
                return _analyse_sampled(source, frame_ids, geometry, settings, sparse)
            return _analyse_reference(source, frame_ids, geometry, settings, options, sparse)
        except SparseDecodeError:
            continue
    raise AssertionError("a full decode does not raise SparseDecodeError")


def _empty_slots(frame_ids: np.ndarray, geometry: CanvasGeometry):
    """Per-slot outputs to fill while decoding: scores [T, G, G], `Letterboxes`, moving [T], filled [T]."""
    count, cells = len(frame_ids), geometry.cells
    return (
        np.zeros((count, cells, cells), dtype=np.float32),
        Letterboxes(count, geometry),
        np.zeros(count, dtype=np.float64),
        np.zeros(count, dtype=bool),
    )


def _slots_by_frame(frame_ids: np.ndarray) -> dict[int, list[int]]:
    """Frame id -> the slots that show it (a frame id repeats in short clips)."""
    wanted: dict[int, list[int]] = defaultdict(list)
    for t, frame_id in enumerate(frame_ids.tolist()):
        wanted[frame_id].append(t)
    return wanted


def _analyse_sampled(
    source: VideoSource, frame_ids: np.ndarray, geometry: CanvasGeometry, settings: CodecSettings, sparse: bool
) -> SampledFrames | None:
    """Decode once, analysing the sampled frame ids (None if no frame decodes).

    Residual reference candidates for a frame: the frame before it and the last three anchors (I/P frames)
    before it, in display order; this covers B-frames, B-pyramids, P-frames after B-frames and multi-reference
    P-frames. Slots that repeat a
    frame id copy its results; slots past the end of a truncated stream reuse the last decoded frame.
    """
    scores, letterboxes, moving, filled = _empty_slots(frame_ids, geometry)
    wanted = _slots_by_frame(frame_ids)
    last_wanted = max(wanted)
    recent: deque[av.VideoFrame] = deque(maxlen=1)
    anchors: deque[av.VideoFrame] = deque(maxlen=3)
    decoded = with_vectors = 0
    last: tuple[int, av.VideoFrame, list[av.VideoFrame]] | None = None
    final = source.info.num_frames - 1  # a stream that ends early fills the rest from its last frame

    def needed(index: int) -> bool:
        """A sampled frame, the frame before one (a residual candidate) or the last one."""
        return index in wanted or index + 1 in wanted or index == final

    frames = source.indexed_frames(needed if sparse else None)
    try:
        for index, frame in frames:
            decoded = index + 1
            candidates = list({id(f): f for f in (*recent, *anchors)}.values())
            if index in wanted:
                slots = wanted[index]
                result = analyse_frame(frame, candidates, geometry, settings)
                letterboxes.put(slots[0], frame)
                for t in slots:
                    scores[t], moving[t], filled[t] = result.scores, result.moving_share, True
                    if t != slots[0]:
                        letterboxes.share(t, slots[0])
                with_vectors += result.has_vectors
            last = (index, frame, candidates)
            recent.append(frame)
            if int(frame.pict_type) != B_FRAME:
                anchors.append(frame)
            if index >= last_wanted:
                break
    finally:
        frames.close()
    if last is None:
        return None
    frame_ids = frame_ids.copy()
    missing = np.nonzero(~filled)[0]
    index, frame, candidates = last
    beyond = missing[frame_ids[missing] > index]
    if len(beyond):  # the stream holds fewer frames than its packets promised: use its last frame
        result = analyse_frame(frame, candidates, geometry, settings)
        letterboxes.put(beyond[0], frame)
        for t in beyond:
            scores[t], moving[t], frame_ids[t], filled[t] = result.scores, result.moving_share, index, True
            letterboxes.share(t, beyond[0])
    _fill_lost(filled, scores, moving, letterboxes, frame_ids)
    return SampledFrames(scores, letterboxes, moving, frame_ids, decoded, len(missing), with_vectors)


def _fill_lost(filled: np.ndarray, scores, moving, letterboxes: Letterboxes, frame_ids: np.ndarray) -> None:
    """Slots whose frame did not come out (dropped by the decoder, or past a truncated stream's end) take the
    results and frame id of the nearest earlier filled slot (the first filled one where none is earlier)."""
    done = np.nonzero(filled)[0]
    if not len(done):
        return
    for t in np.nonzero(~filled)[0]:
        source = done[max(np.searchsorted(done, t) - 1, 0)]
        for values in (scores, moving, frame_ids):
            values[t] = values[source]
        letterboxes.share(t, source)


def yuv420_planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Y, U, V of an 8-bit 4:2:0 frame (converted from any other format): uint8 views / copies."""
    if frame.format.name not in PLANAR_420:
        frame = frame.reformat(format="yuv420p")
    sizes = ((frame.height, frame.width), ((frame.height + 1) // 2, (frame.width + 1) // 2))
    planes = []
    for index, plane in enumerate(frame.planes[:3]):
        height, width = sizes[min(index, 1)]
        data = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        planes.append(data[:height, :width])
    return planes


def reference_scores(
    grid: np.ndarray, levels: np.ndarray | None, geometry: CanvasGeometry, settings: CodecSettings
) -> np.ndarray:
    """Patch scores of one frame from its whole-pel MV grid and residual levels ``|Y_res - 128|`` (uint8; None:
    motion only), codec.md §2.3-§2.6."""
    motion = reference.motion_energy(grid, settings.compensation, settings.mv_percentile, settings.mv_floor)
    height, width = geometry.content_height, geometry.content_width
    if levels is None:
        resized = reference.motion_resized(motion, settings, height, width)
    else:
        resized = reference.residual_resized(motion, levels, settings, height, width)
    return reference.padded_sums(resized, geometry)


def _moving_vectors(grid: np.ndarray) -> np.ndarray:
    """The 4 x 4 cells with a compensated vector >= MOVING_MV: bool [H/4, W/4]."""
    vx, vy = grid[..., 0] - np.median(grid[..., 0]), grid[..., 1] - np.median(grid[..., 1])
    return np.hypot(vx, vy) >= MOVING_MV


def _moving_share(moving: np.ndarray, levels: np.ndarray | None) -> float:
    """Share of 4 x 4 cells ``moving`` (`_moving_vectors`) or with a residual level >= MOVING_RESIDUAL."""
    if levels is not None:
        moving = moving | kernels.moving_cells(levels, *moving.shape, int(np.ceil(MOVING_RESIDUAL)))
    return float(moving.mean())


def _analyse_reference(
    source: VideoSource,
    frame_ids: np.ndarray,
    geometry: CanvasGeometry,
    settings: CodecSettings,
    options: ResidualOptions | None,
    sparse: bool,
) -> SampledFrames | None:
    """Decode once in display order, emulating the patched decoder on every anchor and on the sampled frames.

    Slots that repeat a frame id copy its results; slots past the end of a truncated stream reuse the last frame.
    """
    kernels.announce_compile()
    scores, letterboxes, moving, filled = _empty_slots(frame_ids, geometry)
    wanted = _slots_by_frame(frame_ids)
    last_wanted = max(wanted)
    use_residual = settings.residual_weight > 0
    emulator = PatchedResidual(options) if use_residual else None
    grids: dict[int, np.ndarray] = {}  # sampled frames' MV grids until their residual is ready
    movers: dict[int, np.ndarray] = {}  # their cells moving by the vectors alone
    decoded = with_vectors = 0
    last_index = -1

    def finish(index: int, residual: np.ndarray | None, residual_moves: bool = True) -> None:
        """Score a sampled frame once its residual is known and fill its slots (its moving share counts the
        residual's cells unless ``residual_moves`` is false)."""
        slots = wanted[index]
        result = reference_scores(grids.pop(index), residual, geometry, settings)
        share = _moving_share(movers.pop(index), residual if residual_moves else None)
        for t in slots:
            scores[t], moving[t], filled[t] = result, share, True
            if t != slots[0]:
                letterboxes.share(t, slots[0])

    window = settings.residual_window
    starts = np.array(sorted(wanted), dtype=np.int64)

    def in_window(index: int) -> bool:
        """Whether a sampled frame follows ``index`` within ``residual_window`` frames (always, without one)."""
        if window is None:
            return True
        after = np.searchsorted(starts, index)
        return after < len(starts) and starts[after] - index <= window

    def needed(index: int) -> bool:
        """A sampled frame, or any before the first anchor (with no anchor yet the emulator takes a B-frame as one)."""
        return index in wanted or (emulator is not None and not emulator.anchors)

    # sparse decoding leaves out unsampled non-reference B-frames, which the emulator only counts (`pass_over`),
    # and what an IDR period decodes after its last sampled frame: the chain restarts at the next IDR picture;
    # with a residual window it restarts after any gap instead
    idr_frames = source.idr_frames
    sparse = sparse and (emulator is None or window is None)
    frames = source.indexed_frames(needed if sparse else None, wanted=wanted)
    try:
        for index, frame in frames:
            gap = range(last_index + 1, index)
            if emulator is not None and gap:
                lost = [i for i in gap if i not in source.skipped_frames]  # frames the decoder dropped (corrupt)
                if set(lost) - source.disposable_frames or (lost and not emulator.anchors):
                    for key, residual in emulator.skip(len(gap)):  # a reference picture lost: the chain breaks
                        finish(key, residual)
                elif index in idr_frames and emulator.waiting:  # its anchor was left out: decode everything
                    raise SparseDecodeError(f"a B-frame before frame {index} waits for an anchor not decoded")
                else:
                    emulator.pass_over(len(gap), before_idr=index in idr_frames)
            decoded, last_index = index + 1, index
            side = frame.side_data.get("MOTION_VECTORS")
            vectors = side.to_ndarray() if side is not None else None
            is_wanted = index in wanted
            if is_wanted:
                grids[index] = reference.whole_pel_grid(vectors, frame.height, frame.width)
                movers[index] = _moving_vectors(grids[index])
                with_vectors += vectors is not None and len(vectors) > 0
                letterboxes.put(wanted[index][0], frame)
            if emulator is None:
                if is_wanted:
                    finish(index, None)
            elif not is_wanted and not emulator.waiting and not in_window(index):
                for key, residual in emulator.skip():
                    finish(key, residual)
            else:
                kind = PICTURE_KINDS.get(int(frame.pict_type), "P")
                planes, idr = yuv420_planes(frame), index in idr_frames
                for key, residual in emulator.push(index, planes, vectors, kind, is_wanted, idr=idr):
                    finish(key, residual)
            if index >= last_wanted:
                break
    finally:
        frames.close()
    if emulator is not None:
        for key, residual in emulator.flush():
            finish(key, residual, residual_moves=False)  # as before: the stream's last B-frames count vectors only
    if last_index < 0:
        return None
    frame_ids = frame_ids.copy()
    missing = np.count_nonzero(~filled)
    _fill_lost(filled, scores, moving, letterboxes, frame_ids)
    return SampledFrames(scores, letterboxes, moving, frame_ids, decoded, missing, with_vectors)
