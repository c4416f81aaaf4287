"""Sparse decoding: H.264 non-reference B-pictures that the caller does not need are not decoded, and neither is
what an IDR period decodes after the last picture wanted in it (nothing after an IDR picture is predicted from
before it, so the decoder resumes at the next one exactly as a full decode would be there).

No other picture is predicted from a non-reference picture, so leaving one out changes no other decoded frame, no
exported motion vector and no output order: the frames that do come out are those of a full decode. The decoder
itself skips them (``skip_frame = NONREF``, set per packet). Which packets qualify, and the display index of each,
are read when the stream is probed (`OrderScan`): the slice headers give each picture's reference flag, slice type
and picture order count (`h264`), the container gives its timestamp, and sparse decoding applies only where the
two orders agree (an AVI, say, stores decode-order timestamps: it decodes in full); FFmpeg's decoder outputs
pictures in order-count order (its reorder buffer sized from the stream's VUI or, without one, from its level),
which is where a skipped picture would have come out. As it goes, the iterator also
checks that what comes out is exactly the full decode less the frames it chose to skip, and raises
`SparseDecodeError` otherwise (frames the decoder dropped, say), so that the caller can decode everything instead.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import av

from .h264 import (
    B_SLICE,
    CODED_SLICE_EXTENSION,
    IDR_SLICE,
    PARTITION_A,
    PARTITION_C,
    PPS,
    SLICE,
    SPS,
    PictureOrder,
    PictureParameters,
    SequenceParameters,
    SliceHeader,
    UnsupportedStream,
    avcc_parameter_sets,
    nal_units,
    parse_pps,
    parse_slice,
    parse_sps,
)


class SparseDecodeError(RuntimeError):
    """The decoder's output does not match the stream's display order: decode every frame instead."""


@dataclass(frozen=True)
class DisplayOrder:
    """Display index of each packet timestamp of an H.264 stream, the timestamps of its non-reference B-pictures
    (those that may be left undecoded), and per packet in decode order its display index and whether it is an IDR
    picture (nothing after one is predicted from before it)."""

    ranks: dict[int, int]
    disposable: frozenset[int]
    decode_ranks: tuple[int, ...]
    idr: tuple[bool, ...]

    def disposable_frames(self) -> frozenset[int]:
        """Display indices of the non-reference B-pictures."""
        return frozenset(self.ranks[pts] for pts in self.disposable)

    def undecoded(self, wanted: Iterable[int]) -> frozenset[int]:
        """Display indices that a decode for the ``wanted`` ones need not decode at all: in each IDR period, the
        pictures decoded after every one displayed up to its last wanted picture (a B-picture's references, the
        anchor after it included, are decoded before it); all of a period with no wanted picture."""
        wanted = sorted(set(wanted))
        starts = [packet for packet, idr in enumerate(self.idr) if idr] + [len(self.idr)]
        left_out: set[int] = set()
        for begin, end in itertools.pairwise(starts):
            ranks = self.decode_ranks[begin:end]
            low, high = min(ranks), max(ranks)  # a period shows a run of display indices of its own
            after = bisect.bisect_right(wanted, high) - 1
            if after < 0 or wanted[after] < low:
                left_out.update(ranks)
                continue
            last = max(packet for packet, rank in enumerate(ranks) if rank <= wanted[after])
            left_out.update(ranks[last + 1 :])
        return frozenset(left_out)


class OrderScan:
    """The packets' headers, read as the stream is probed (`feed`, in decode order), give its `DisplayOrder`."""

    def __init__(self, extradata: bytes | None):
        self.sps: dict[int, SequenceParameters] = {}
        self.pps: dict[int, PictureParameters] = {}
        self.counter = PictureOrder()
        self.timestamps: list[int | None] = []
        self.keys: list[tuple[int, int]] = []
        self.disposable: set[int] = set()
        self.idr: list[bool] = []
        self.failure: str | None = None
        self.length_size: int | None = None
        try:
            units = nal_units(extradata or b"", None)
            if extradata and extradata[0] == 1:
                self.length_size, units = avcc_parameter_sets(extradata)
            for unit in units:
                self._parameter_set(unit)
        except UnsupportedStream as error:
            self.failure = str(error)

    def feed(self, pts: int | None, data: bytes) -> None:
        """One non-empty packet, in demux (decode) order."""
        if self.failure is None:
            try:
                self._feed(pts, data)
            except UnsupportedStream as error:
                self.failure = str(error)

    def order(self) -> DisplayOrder | None:
        """The display order, or None where the timestamps and the picture order counts disagree (or a header was
        outside what `h264` reads)."""
        timestamps, keys = self.timestamps, self.keys
        if self.failure is not None or not keys or len(set(timestamps)) < len(keys) or len(set(keys)) < len(keys):
            return None
        by_time = sorted(range(len(keys)), key=timestamps.__getitem__)
        if by_time != sorted(range(len(keys)), key=keys.__getitem__):
            return None
        ranks = {timestamps[index]: rank for rank, index in enumerate(by_time)}
        decode_ranks = tuple(ranks[pts] for pts in timestamps)
        return DisplayOrder(ranks, frozenset(self.disposable), decode_ranks, tuple(self.idr))

    def idr_frames(self) -> frozenset[int]:
        """Display indices of the IDR pictures (an IDR picture shows after everything decoded before it and before
        everything decoded after it, so its display index is its decode index); empty when a header was outside
        what `h264` reads."""
        if self.failure is not None:
            return frozenset()
        return frozenset(packet for packet, idr in enumerate(self.idr) if idr)

    def _parameter_set(self, unit: bytes) -> None:
        kind = unit[0] & 0x1F if unit else 0
        if kind == SPS:
            key, sequence = parse_sps(unit)
            self.sps[key] = sequence
        elif kind == PPS:
            key, picture = parse_pps(unit)
            self.pps[key] = picture

    def _feed(self, pts: int | None, data: bytes) -> None:
        slices: list[SliceHeader] = []
        for unit in nal_units(data, self.length_size):
            kind = unit[0] & 0x1F
            if kind in (SPS, PPS):
                self._parameter_set(unit)
            elif PARTITION_A <= kind <= PARTITION_C or kind == CODED_SLICE_EXTENSION:
                raise UnsupportedStream("data partitioning or SVC/MVC slices")
            elif kind in (SLICE, IDR_SLICE):
                slices.append(parse_slice(unit, self.sps, self.pps))
        if pts is None:
            raise UnsupportedStream("a packet without a timestamp")
        if not slices or sum(header.first_mb == 0 for header in slices) > 1:
            raise UnsupportedStream("a packet that is not one picture")
        self.timestamps.append(pts)
        self.keys.append(self.counter.key(slices[0]))
        self.idr.append(slices[0].idr)
        if all(not header.reference and header.slice_type == B_SLICE for header in slices):
            self.disposable.add(pts)


def sparse_frames(
    packets: Iterator[av.Packet],
    context: av.CodecContext,
    order: DisplayOrder,
    needed: Callable[[int], bool],
    decode: Callable[[av.Packet], list[av.VideoFrame]],
    skipped: set[int],
    undecoded: frozenset[int] = frozenset(),
) -> Iterator[tuple[int, av.VideoFrame]]:
    """``(display index, frame)`` in display order, leaving out the pictures of ``undecoded`` (not sent to the
    decoder: `DisplayOrder.undecoded`) and the non-reference B-pictures whose index ``needed`` rejects when their
    packet is sent; the indices that do not come out are exactly those, added to ``skipped`` as they are left
    out."""
    expected = 0  # the first display index not yet accounted for
    try:
        for packet in packets:
            rank = order.ranks.get(packet.pts) if packet.size else None
            if rank is not None and rank in undecoded:
                skipped.add(rank)
                continue
            skip = rank is not None and packet.pts in order.disposable and not needed(rank)
            if skip:
                skipped.add(rank)
            context.skip_frame = "NONREF" if skip else "DEFAULT"
            for frame in decode(packet):
                index = order.ranks.get(frame.pts)
                if index is None or index < expected or any(gap not in skipped for gap in range(expected, index)):
                    raise SparseDecodeError(f"frame at pts {frame.pts} is not the next one expected")
                expected = index + 1
                yield index, frame
        if any(gap not in skipped for gap in range(expected, len(order.ranks))):
            raise SparseDecodeError("the stream ended before all its packets' frames came out")
    finally:
        context.skip_frame = "DEFAULT"
