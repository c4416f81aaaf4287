"""Just enough of an H.264 bitstream to order its pictures without decoding them (ITU-T H.264 7.3, 8.2.1): NAL
units, the parameter-set fields that shape a slice header, the slice header up to the picture order count, and
the order count itself. PyAV exposes none of this before decoding; hand-written because it is about a hundred lines
and the parsers that exist (FFmpeg's, behind PyAV) are not reachable from Python.

Anything outside what is read here (field pictures, order count type 1, truncated headers, unknown parameter
sets) raises `UnsupportedStream`: the caller then decodes every picture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

SLICE, IDR_SLICE, SPS, PPS = 1, 5, 7, 8
PARTITION_A, PARTITION_C, CODED_SLICE_EXTENSION = 2, 4, 20
B_SLICE = 1  # slice_type % 5: 0 P, 1 B, 2 I, 3 SP, 4 SI
HIGH_PROFILES = frozenset({44, 83, 86, 100, 110, 118, 122, 128, 134, 135, 138, 139, 244})
SLICE_HEAD_BYTES = 48  # more than the fields read from a slice header can span


class UnsupportedStream(ValueError):
    """A stream or header outside what this reader handles."""


class BitReader:
    """MSB-first reading of an RBSP (emulation-prevention bytes removed)."""

    def __init__(self, nal: bytes):
        payload = bytes(nal).replace(b"\x00\x00\x03", b"\x00\x00")
        self.value, self.length, self.position = int.from_bytes(payload, "big"), 8 * len(payload), 0

    def bits(self, count: int) -> int:
        end = self.position + count
        if end > self.length:
            raise UnsupportedStream("truncated header")
        self.position = end
        return (self.value >> (self.length - end)) & ((1 << count) - 1)

    def ue(self) -> int:
        """An unsigned Exp-Golomb value."""
        zeros = 0
        while not self.bits(1):
            zeros += 1
            if zeros > 31:
                raise UnsupportedStream("invalid Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        """A signed Exp-Golomb value."""
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


@dataclass(frozen=True)
class SequenceParameters:
    separate_colour_plane: bool
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    frame_mbs_only: bool


@dataclass(frozen=True)
class PictureParameters:
    sps_id: int
    bottom_field_poc_present: bool


@dataclass(frozen=True)
class SliceHeader:
    sequence: SequenceParameters
    first_mb: int
    idr: bool
    reference: bool  # nal_ref_idc != 0: other pictures may be predicted from this one
    slice_type: int  # % 5
    poc_lsb: int
    delta_poc_bottom: int


def nal_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    """The NAL units of one packet (length-prefixed, or Annex B start codes when ``length_size`` is None); slices
    are cut to their first `SLICE_HEAD_BYTES`."""
    for start, end in _nal_spans(data, length_size):
        if start < end:
            kind = data[start] & 0x1F
            yield data[start : end if kind in (SPS, PPS) else min(end, start + SLICE_HEAD_BYTES)]


def _nal_spans(data: bytes, length_size: int | None) -> Iterator[tuple[int, int]]:
    if length_size is not None:
        position = 0
        while position + length_size <= len(data):
            start = position + length_size
            position = start + int.from_bytes(data[position:start], "big")
            yield start, min(position, len(data))
        return
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        start += 3
        end = data.find(b"\x00\x00\x01", start)
        yield start, len(data) if end < 0 else end
        start = end


def _skip_scaling_list(reader: BitReader, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + reader.se() + 256) % 256
        last = following or last


def parse_sps(nal: bytes) -> tuple[int, SequenceParameters]:
    """``(seq_parameter_set_id, fields)`` of a sequence parameter set NAL unit."""
    reader = BitReader(nal[1:])
    profile = reader.bits(8)
    reader.bits(16)  # constraint flags, level
    sps_id = reader.ue()
    separate = False
    if profile in HIGH_PROFILES:
        chroma_format = reader.ue()
        if chroma_format == 3:
            separate = bool(reader.bits(1))
        reader.ue(), reader.ue(), reader.bits(1)  # bit depths, qpprime_y_zero_transform_bypass
        if reader.bits(1):  # seq_scaling_matrix_present
            for index in range(12 if chroma_format == 3 else 8):
                if reader.bits(1):
                    _skip_scaling_list(reader, 16 if index < 6 else 64)
    log2_max_frame_num = reader.ue() + 4
    poc_type = reader.ue()
    log2_max_poc_lsb = 0
    if poc_type == 0:
        log2_max_poc_lsb = reader.ue() + 4
    elif poc_type == 1:
        raise UnsupportedStream("picture order count type 1")
    reader.ue(), reader.bits(1), reader.ue(), reader.ue()  # max refs, gaps allowed, width, height in macroblocks
    frame_mbs_only = bool(reader.bits(1))
    return sps_id, SequenceParameters(separate, log2_max_frame_num, poc_type, log2_max_poc_lsb, frame_mbs_only)


def parse_pps(nal: bytes) -> tuple[int, PictureParameters]:
    """``(pic_parameter_set_id, fields)`` of a picture parameter set NAL unit."""
    reader = BitReader(nal[1:])
    pps_id, sps_id = reader.ue(), reader.ue()
    reader.bits(1)  # entropy_coding_mode
    return pps_id, PictureParameters(sps_id, bool(reader.bits(1)))


def parse_slice(nal: bytes, sps: dict[int, SequenceParameters], pps: dict[int, PictureParameters]) -> SliceHeader:
    """The start of a slice header, up to the picture order count, with the parameter sets it refers to."""
    kind, reference = nal[0] & 0x1F, nal[0] >> 5 & 3
    reader = BitReader(nal[1:])
    first_mb = reader.ue()
    slice_type = reader.ue() % 5
    try:
        picture = pps[reader.ue()]
        sequence = sps[picture.sps_id]
    except KeyError:
        raise UnsupportedStream("a slice refers to a parameter set not seen") from None
    if sequence.separate_colour_plane:
        reader.bits(2)
    reader.bits(sequence.log2_max_frame_num)  # frame_num
    if not sequence.frame_mbs_only and reader.bits(1):
        raise UnsupportedStream("field pictures")
    if kind == IDR_SLICE:
        reader.ue()  # idr_pic_id
    poc_lsb = delta = 0
    if sequence.poc_type == 0:
        poc_lsb = reader.bits(sequence.log2_max_poc_lsb)
        if picture.bottom_field_poc_present:
            delta = reader.se()
    return SliceHeader(sequence, first_mb, kind == IDR_SLICE, bool(reference), slice_type, poc_lsb, delta)


def avcc_parameter_sets(extradata: bytes) -> tuple[int, list[bytes]]:
    """``(NAL length size, SPS and PPS NAL units)`` of an MP4/MKV ``avcC`` record."""
    if len(extradata) < 7 or extradata[0] != 1:
        raise UnsupportedStream("not an avcC record")
    units, position = [], 6
    for count in (extradata[5] & 0x1F, None):  # the SPS count, then the PPS count (the byte after the SPSs)
        if count is None:
            if position >= len(extradata):
                raise UnsupportedStream("truncated avcC record")
            count, position = extradata[position], position + 1
        for _ in range(count):
            size = int.from_bytes(extradata[position : position + 2], "big")
            units.append(extradata[position + 2 : position + 2 + size])
            position += 2 + size
    return (extradata[4] & 3) + 1, units


class PictureOrder:
    """The display key of each picture fed in decode order: (coded video sequence, picture order count). Pictures
    come out sorted by it: an IDR picture starts a new sequence, output after all before it."""

    def __init__(self):
        self.sequence = -1
        self.previous = (0, 0)  # (msb, lsb) of the latest reference picture
        self.decoded = 0

    def key(self, header: SliceHeader) -> tuple[int, int]:
        """The display key of the next picture in decode order, from its first slice's header."""
        sequence = header.sequence
        self.decoded += 1
        if header.idr:
            self.sequence, self.previous = self.sequence + 1, (0, 0)
        if self.sequence < 0:
            raise UnsupportedStream("the stream does not start with an IDR picture")
        if sequence.poc_type == 2:  # display order is decode order
            return self.sequence, self.decoded
        half = 1 << (sequence.log2_max_poc_lsb - 1)
        msb, lsb = self.previous
        if header.poc_lsb < lsb and lsb - header.poc_lsb >= half:
            msb += 2 * half
        elif header.poc_lsb > lsb and header.poc_lsb - lsb > half:
            msb -= 2 * half
        if header.reference:
            self.previous = (msb, header.poc_lsb)
        top = msb + header.poc_lsb
        return self.sequence, min(top, top + header.delta_poc_bottom)
