"""Opening videos with stock PyAV: validation, frame counting, transcoding to an MV-friendly H.264, and a streaming
decode that exports motion vectors.

H.264, MPEG-4 Part 2 and MPEG-1/2 decoders export motion vectors directly. Anything else (HEVC, VP9, AV1, ...) is
transcoded first to H.264 with a fixed GOP of 16, no B-frames and one reference frame (so every MV points at the
previous frame), into a temporary file that is removed afterwards; the metadata records it. So is MPEG-4 Part 2
with B-VOPs: FFmpeg's decoder exports only zero vectors for its B-frames (measured: every block of every B-frame
of a clip with a moving object), which would leave two frames in three without motion.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

from .errors import VideoError
from .sparse import DisplayOrder, OrderScan, sparse_frames

DIRECT_MV_CODECS = frozenset({"h264", "mpeg4", "mpeg1video", "mpeg2video"})
VOP_START = b"\x00\x00\x01\xb6"  # an MPEG-4 Part 2 video object plane; its next 2 bits: 0 I, 1 P, 2 B, 3 S
B_VOP = 2
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp", ".hevc", ".h264"}
)
TRANSCODE_OPTIONS = {
    "preset": "veryfast",
    "crf": "18",
    "g": "16",
    "keyint_min": "16",
    "sc_threshold": "0",
    "bf": "0",
    "refs": "1",
    "x264-params": "ref=1:scenecut=0",
}


@dataclass(frozen=True)
class VideoInfo:
    """What was decoded: the stream actually analysed (after any transcode) and where it came from."""

    path: str
    codec: str
    source_codec: str
    transcoded: bool
    width: int
    height: int
    num_frames: int
    fps: float | None
    duration: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise VideoError(path, "no such file")
    if path.is_dir():
        raise VideoError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise VideoError(
            path, f"cannot open as a video: corrupt, truncated or not a video file (FFmpeg: {_ffmpeg_reason(error)})"
        ) from None


def _ffmpeg_reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        kinds = sorted({stream.type for stream in container.streams})
        has = f" (it has {', '.join(kinds)} streams)" if kinds else ""
        raise VideoError(path, f"no video stream{has}")
    return container.streams.video[0]


def count_frames(path: str | Path) -> int:
    """Number of video frames, by demuxing packets (no decoding); metadata counts are not trusted."""
    path = Path(path)
    with contextlib.closing(_open(path)) as container:
        return _count_packets(container, _video_stream(container, path), path)


def _count_packets(
    container: av.container.InputContainer, stream, path: Path, scan: OrderScan | VopScan | None = None
) -> int:
    """The number of non-empty packets of ``stream``, each also fed to ``scan`` (`OrderScan` or `VopScan`, in
    demux order)."""
    count = 0
    try:
        for packet in container.demux(stream):
            if packet.size:
                count += 1
                if scan is not None:
                    scan.feed(packet.pts, bytes(packet))
        return count
    except av.error.FFmpegError as error:
        raise VideoError(path, f"cannot read packets ({_ffmpeg_reason(error)})") from None


class VopScan:
    """Whether an MPEG-4 Part 2 stream holds B-VOPs (a packed-bitstream packet may hold two VOPs)."""

    def __init__(self):
        self.b_vops = False

    def feed(self, pts: int | None, data: bytes) -> None:
        """One packet (as `OrderScan.feed`; the timestamp is not needed)."""
        start = -1 if self.b_vops else data.find(VOP_START)
        while not self.b_vops and 0 <= start < len(data) - 4:
            self.b_vops = data[start + 4] >> 6 == B_VOP
            start = data.find(VOP_START, start + 4)


def _probe(path: Path) -> tuple[str, int, int, int, OrderScan | VopScan | None]:
    """(codec, width, height, frames, header scan) of the video stream of ``path``, from one opening."""
    with contextlib.closing(_open(path)) as container:
        return _probe_stream(container, _video_stream(container, path), path)


def _probe_stream(container, stream, path: Path) -> tuple[str, int, int, int, OrderScan | VopScan | None]:
    """`_probe` of an opened stream; H.264 packets' headers are read on the way (`OrderScan`), MPEG-4 Part 2
    ones for B-VOPs (`VopScan`)."""
    context = stream.codec_context
    scan = OrderScan(context.extradata) if context.name == "h264" else VopScan() if context.name == "mpeg4" else None
    return context.name, context.width, context.height, _count_packets(container, stream, path, scan), scan


def transcode_to_h264(
    source: Path, target: Path, max_side: int | None = None, threads: int = 0, errors: list[str] | None = None
) -> int:
    """Re-encode ``source`` to MV-friendly H.264 at ``target`` (GOP 16, no B-frames, 1 reference); returns frames.

    With ``max_side``, frames larger than that are scaled down (aspect kept, even sizes): the analysis runs on a
    canvas of that size anyway, so full resolution would only cost time.
    """
    written = muxed = 0
    with contextlib.closing(_open(source)) as container:
        stream = _video_stream(container, source)
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise VideoError(source, "video stream has no frame size")
        scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
        out_w, out_h = max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
        with av.open(str(target), mode="w") as output:
            rate = _frame_rate(stream)
            encoder = output.add_stream("libx264", rate=rate)
            encoder.width, encoder.height, encoder.pix_fmt = out_w, out_h, "yuv420p"
            encoder.time_base = 1 / rate
            encoder.options = dict(TRANSCODE_OPTIONS)
            encoder.codec_context.thread_count = threads
            for frame in _decode_frames(container, stream, source, errors):
                frame = frame.reformat(width=out_w, height=out_h, format="yuv420p")
                # frames renumbered 0, 1, 2... in the encoder's 1/rate time base: source timestamps (VP9 WebM at
                # 1/1000, AV1 MKV, edit lists) need not map to strictly increasing encoder ticks
                frame.pts, frame.time_base = written, encoder.time_base
                muxed = _mux_in_order(output, encoder, encoder.encode(frame), muxed)
                written += 1
            _mux_in_order(output, encoder, encoder.encode(), muxed)
    if written == 0:
        raise VideoError(source, "no decodable video frames")
    return written


def _mux_in_order(output, encoder, packets, muxed: int) -> int:
    """Mux packets numbered 0, 1, 2... (no B-frames: decode order is display order), whatever timestamps the
    threaded encoder gave them; returns the next number."""
    for packet in packets:
        packet.pts = packet.dts = muxed
        packet.time_base = encoder.time_base
        output.mux(packet)
        muxed += 1
    return muxed


def _frame_rate(stream) -> Fraction:
    """A plausible constant frame rate for the transcode (25 when the stream does not say)."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 1 <= float(rate) <= 240:
            return Fraction(rate).limit_denominator(1001)
    return Fraction(25)


def _decode_frames(container, stream, path: Path, errors: list[str] | None = None) -> Iterator[av.VideoFrame]:
    """Decode ``stream`` packet by packet; corrupt packets are skipped and recorded in ``errors``."""
    for packet in _packets(container, stream, errors):
        yield from _decode(packet, path, errors)


def _packets(container, stream, errors: list[str] | None) -> Iterator[av.Packet]:
    """The packets of ``stream``; unreadable data ends them (recorded in ``errors``), keeping what came before."""
    packets = container.demux(stream)
    while True:
        try:
            yield next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as error:
            if errors is not None:
                errors.append(f"demux: {_ffmpeg_reason(error)}")
            return


def _decode(packet: av.Packet, path: Path, errors: list[str] | None) -> list[av.VideoFrame]:
    """The frames one packet completes; a corrupt packet gives none (recorded in ``errors``, raised without)."""
    try:
        return packet.decode()
    except av.error.FFmpegError as error:
        if errors is None:
            raise VideoError(path, f"decode error ({_ffmpeg_reason(error)})") from None
        errors.append(f"decode: {_ffmpeg_reason(error)}")
        return []


def numbered(frames: Iterable[av.VideoFrame], order: DisplayOrder | None) -> Iterator[tuple[int, av.VideoFrame]]:
    """``(display index, frame)`` of a full decode: the index the stream's display order gives the frame's
    timestamp, so that a frame the decoder drops (a corrupt packet) leaves its own index out instead of shifting
    every later one; counted where there is no such order (or it does not know the timestamp)."""
    expected = 0  # the first index not yet given
    for frame in frames:
        rank = order.ranks.get(frame.pts) if order is not None else None
        index = rank if rank is not None and rank >= expected else expected
        yield index, frame
        expected = index + 1


class VideoSource:
    """A video opened for reading: ``info`` plus a streaming ``frames()`` iterator (motion vectors exported by default).

    Use as a context manager; a temporary transcode (if any) is deleted on exit. ``transcode=False`` decodes any
    codec as it is (for plain frame reading, where no motion vectors are needed).
    """

    def __init__(self, path: str | Path, max_side: int | None = None, threads: int = 0, transcode: bool = True):
        self.path = Path(path)
        self.threads = threads
        self.decode_errors: list[str] = []
        self.skipped_frames: set[int] = set()  # display indices that sparse decoding left out (`indexed_frames`)
        self._tempdir: tempfile.TemporaryDirectory | None = None
        self._order: DisplayOrder | None = None  # display index by pts, for sparse decoding (H.264 only)
        with contextlib.closing(_open(self.path)) as container:
            stream = _video_stream(container, self.path)
            source_codec = stream.codec_context.name
            fps = float(stream.average_rate) if stream.average_rate else None
            duration = float(container.duration / av.time_base) if container.duration else None
            transcoded = transcode and source_codec not in DIRECT_MV_CODECS
            if not transcoded:  # the stream analysed is this one, unless it has B-VOPs: probe it from this opening
                codec, width, height, num_frames, scan = _probe_stream(container, stream, self.path)
                transcoded = transcode and isinstance(scan, VopScan) and scan.b_vops
        analysed = self.path
        if transcoded:
            self._tempdir = tempfile.TemporaryDirectory(prefix="ov-vlm-codec-")
            analysed = Path(self._tempdir.name) / "transcoded.mp4"
            try:
                transcode_to_h264(self.path, analysed, max_side, threads, self.decode_errors)
                codec, width, height, num_frames, scan = _probe(analysed)
            except VideoError:
                self.close()
                raise
            except av.error.FFmpegError as error:
                self.close()
                raise VideoError(
                    self.path, f"cannot transcode {source_codec} to H.264 ({_ffmpeg_reason(error)})"
                ) from None
        self._analysed = analysed
        scan = scan if isinstance(scan, OrderScan) else None
        self._order = scan.order() if scan is not None else None
        self.idr_frames: frozenset[int] = scan.idr_frames() if scan is not None else frozenset()
        # display indices of the non-reference B-pictures (no other picture is predicted from them)
        self.disposable_frames = self._order.disposable_frames() if self._order is not None else frozenset()
        if num_frames == 0:
            self.close()
            raise VideoError(self.path, "no video frames (empty or truncated stream)")
        if not width or not height:
            self.close()
            raise VideoError(self.path, "video stream has no frame size")
        self.info = VideoInfo(
            path=str(self.path),
            codec=codec,
            source_codec=source_codec,
            transcoded=transcoded,
            width=width,
            height=height,
            num_frames=num_frames,
            fps=fps,
            duration=duration,
        )

    def frames(self, export_mvs: bool = True) -> Iterator[av.VideoFrame]:
        """Frames in display order, each carrying its ``MOTION_VECTORS`` side data (None for intra frames)."""
        indexed = self.indexed_frames(export_mvs=export_mvs)
        with contextlib.closing(indexed):
            for _, frame in indexed:
                yield frame

    def indexed_frames(
        self,
        needed: Callable[[int], bool] | None = None,
        export_mvs: bool = True,
        wanted: Iterable[int] | None = None,
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """``(display index, frame)`` in display order, as `frames`. With ``needed``, the H.264 non-reference
        B-pictures whose index it rejects (asked when their packet is read) are not decoded, and with ``wanted``
        neither are the pictures of an IDR period decoded after all it needs (`DisplayOrder.undecoded`): the
        indices that do not come out are those (`skipped_frames`); `SparseDecodeError` if the stream's output
        does not match its order. Without ``needed`` every frame is decoded, and a frame the decoder drops leaves
        its index out where the stream has a display order (`numbered`)."""
        self.decode_errors.clear()
        self.skipped_frames.clear()
        with contextlib.closing(_open(self._analysed)) as container:
            stream = _video_stream(container, self._analysed)
            if export_mvs:
                stream.codec_context.options = {"flags2": "+export_mvs"}
            # one decoding thread: frame-threaded decoding gave run-to-run differences in the picks on real
            # B-frame clips, so ``threads`` only drives the transcode (the output never depends on it)
            stream.thread_type = "NONE"
            if needed is None or self._order is None:
                yield from numbered(_decode_frames(container, stream, self.path, self.decode_errors), self._order)
                return
            packets = _packets(container, stream, self.decode_errors)
            decode = functools.partial(_decode, path=self.path, errors=self.decode_errors)
            undecoded = frozenset() if wanted is None else self._order.undecoded(wanted)
            yield from sparse_frames(
                packets, stream.codec_context, self._order, needed, decode, self.skipped_frames, undecoded
            )

    def close(self) -> None:
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def is_video_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS
