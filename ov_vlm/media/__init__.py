"""Video I/O below every other layer (torch-free): opening and validating files, transcoding to an MV-friendly
H.264, streaming decode with motion vectors (`VideoSource`), frame sampling and the time grid, frames-mode reading
(`read_frames`) and writing encoded clips (`encode_frames`). `codec/` uses it for motion vectors, `processing/` for
frames.
"""

from .errors import VideoError
from .frames import read_frames
from .sampling import TIME_SLOTS, sample_frame_ids, time_slots
from .sparse import SparseDecodeError
from .video import VIDEO_EXTENSIONS, VideoInfo, VideoSource, count_frames, is_video_file, transcode_to_h264
from .writer import encode_frames

__all__ = [
    "TIME_SLOTS",
    "VIDEO_EXTENSIONS",
    "SparseDecodeError",
    "VideoError",
    "VideoInfo",
    "VideoSource",
    "count_frames",
    "encode_frames",
    "is_video_file",
    "read_frames",
    "sample_frame_ids",
    "time_slots",
    "transcode_to_h264",
]
