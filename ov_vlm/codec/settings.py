"""Typed settings of codec patch selection. Defaults are the reference LLaVA pipeline's (codec.md §2, §5)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, get_args

from ov_vlm.utils.options import Block, Compensation, FirstFrame, ImageFormat, Profile, TopK
from ov_vlm.utils.typed import flag, from_dict

COMPENSATIONS = get_args(Compensation)
TOPK_MODES = get_args(TopK)
FIRST_FRAME = get_args(FirstFrame)
IMAGE_FORMATS = get_args(ImageFormat)
MIN_AUTO_RATIO, MAX_AUTO_RATIO = 0.031, 0.25
PROFILES = get_args(Profile)
# settings whose default depends on the profile: (reference, robust)
PROFILE_DEFAULTS = {
    "mv_floor": (1e-6, 1.0),
    "residual_floor": (1.0, 6.0),
    "min_saliency": (0.0, 0.02),
    "static_fallback": (False, True),
}
RUNTIME_ONLY = frozenset({"threads"})


def parse_budget(text: str) -> int | float | str:
    """Command-line budget: ``10368`` (K), ``0.125`` (ratio) or ``auto``."""
    text = text.strip().lower()
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise ValueError(
            f"budget must be an integer K, a ratio such as 0.125 or 12.5%, or 'auto'; got {text!r}"
        ) from None


@dataclass(frozen=True)
class CodecSettings:
    """How a video becomes K salient patches, mosaics and (t, h, w) positions. Unknown keys raise (`from_dict`).

    The fields with a ``cli`` entry in their metadata are also the flags of ``ov-vlm codec`` (``--first-frame``,
    ...; see `ov_vlm.cli.fields`), with their ``help``.

    profile: ``"reference"`` (default) scores frames as the reference stage 1 does (4 x 4 L0 motion grid in whole
        pixels, median compensation, P95, and a residual estimated as the patched decoder's picture: see
        `ov_vlm.codec.residual`); ``"robust"`` is the earlier ov-vlm scoring made for synthetic clips (8-px grid,
        L1-only motion, normaliser floors, entering-cell masking, ``min_saliency`` filling, best-of-references
        residual proxy). Settings left as None take the profile's default (``PROFILE_DEFAULTS``).

    frames: frames sampled uniformly over the whole video (``floor(linspace(0, N-1, frames))``).
    canvas: side of the square letterbox canvas the frames are placed on (pixels).
    patch: patch side on the canvas (576 / 16 = 36 x 36 cells; a 16-px cell maps 1:1 onto a 14-px patch at 504).
    budget: kept patches K: an int (absolute), a float in (0, 1] (share of frames x cells), ``"auto"`` (enough
        patches to cover ``auto_mass`` of the saliency mass, clamped to 3.1-25 %), or None (``mosaics`` x cells).
    mosaics: default budget in whole mosaics (reference: 8 x 1296 = 10,368).
    first_frame: ``"full"`` keeps every cell of the first sampled frame (reference), ``"none"`` treats it like others.
    block: 1 selects single patches; 2 selects 2 x 2 blocks, packed as 2 x 2 groups (for a 2 x 2 merge projector).
    topk: ``"global"`` (reference) or ``"bucket"`` (equal share per contiguous time bucket; fights single-event bias).
    buckets: number of time buckets for ``topk="bucket"`` (None: one per non-mandatory mosaic).
    compensation: camera-motion compensation of the MVs: median (reference), similarity, affine or none.
    mv_weight, residual_weight: fusion weights (1:1 in the reference).
    mv_percentile, residual_percentile: per-frame normalisers (P95 in the reference).
    mv_floor, residual_floor: lower bounds of those normalisers (reference 1e-6 and 1; robust 1 px and 6 grey
        levels, so that coding noise in a still frame is not stretched to full saliency).
    static_fallback: keep uniformly spaced whole frames when the clip shows no motion (robust only by default).
    static_threshold: share of moving grid cells (|MV| >= 0.5 px or residual >= 8 grey levels) below which a
        clip counts as static.
    auto_mass: share of the saliency mass ``budget="auto"`` covers.
    min_saliency: (reference 0, robust 0.02) cells whose saliency is below this share of a fully salient cell
        count as not salient (0); once the salient cells are used up, the rest of the budget goes to whole frames
        spread over the clip.
    residual_window: reference profile only: emulate the patched decoder only on the frames at most this many
        frames before a sampled frame, starting each chain afresh (None: every anchor frame, as the reference's
        decoder does). Faster on long videos, at some cost in fidelity (docs/benchmarks.md).
    image_format, jpeg_quality: how mosaics are written by ``save`` (PNG is lossless).
    threads: threads of the transcode (0 = FFmpeg's choice); the analysis decode is single-threaded, so the
        selection is the same for any value (it is not part of the output key).
    """

    profile: Profile = field(
        default="reference",
        metadata=flag(
            "reference: the reference stage-1 scoring (default); robust: the earlier scoring for synthetic clips"
        ),
    )
    frames: int = field(default=64, metadata=flag("frames sampled uniformly (default 64)"))
    canvas: int = field(default=576, metadata=flag("square letterbox canvas (default 576)"))
    patch: int = field(default=16, metadata=flag("patch size on the canvas (default 16)"))
    budget: int | float | str | None = field(
        default=None,
        metadata=flag(
            "K (e.g. 10368), a ratio (0.125 or 12.5%%) or auto (default: mosaics x cells)", type=parse_budget
        ),
    )
    mosaics: int = field(default=8, metadata=flag("default budget in mosaics (default 8)"))
    first_frame: FirstFrame = field(default="full", metadata=flag("keep frame 0 whole"))
    block: Block = field(default=1, metadata=flag("select 2x2 blocks with 2"))
    topk: TopK = field(default="global", metadata=flag("global top-K or per time bucket"))
    buckets: int | None = field(default=None, metadata=flag("time buckets for --topk bucket"))
    compensation: Compensation = field(default="median", metadata=flag("camera motion"))
    mv_weight: float = 1.0
    residual_weight: float = 1.0
    mv_percentile: float = 95.0
    residual_percentile: float = 95.0
    mv_floor: float | None = None
    residual_floor: float | None = None
    static_fallback: bool | None = field(
        default=None,
        metadata=flag(
            "do not use uniform frames for static clips", flag="--no-static-fallback", action="store_const", const=False
        ),
    )
    static_threshold: float = 0.002
    auto_mass: float = 0.8
    min_saliency: float | None = None
    image_format: ImageFormat = field(default="jpg", metadata=flag("mosaic format"))
    jpeg_quality: int = field(default=95, metadata=flag("JPEG quality of the mosaics (default 95)"))
    residual_window: int | None = field(
        default=None,
        metadata=flag(
            "reference profile: emulate the residual only this many frames before each sampled frame (faster)"
        ),
    )
    threads: int = field(default=0, metadata=flag("decoder threads per video (0: automatic)"))

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        for name, values in PROFILE_DEFAULTS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, values[PROFILES.index(self.profile)])
        cells = self.cells_per_side
        weights_ok = self.mv_weight >= 0 and self.residual_weight >= 0 and self.mv_weight + self.residual_weight > 0
        checks = [
            (self.frames >= 1, f"frames must be >= 1, got {self.frames}"),
            (
                self.patch >= 1 and self.canvas % self.patch == 0,
                f"canvas ({self.canvas}) must be a multiple of patch ({self.patch})",
            ),
            (self.patch % 4 == 0, f"patch must be a multiple of 4 pixels, got {self.patch}"),
            (self.mosaics >= 1, f"mosaics must be >= 1, got {self.mosaics}"),
            (self.first_frame in FIRST_FRAME, f"first_frame must be one of {FIRST_FRAME}, got {self.first_frame!r}"),
            (self.block in (1, 2), f"block must be 1 or 2, got {self.block}"),
            (self.block == 1 or cells % 2 == 0, f"block=2 needs an even number of cells per side, got {cells}"),
            (self.topk in TOPK_MODES, f"topk must be one of {TOPK_MODES}, got {self.topk!r}"),
            (self.buckets is None or self.buckets >= 1, f"buckets must be >= 1, got {self.buckets}"),
            (
                self.compensation in COMPENSATIONS,
                f"compensation must be one of {COMPENSATIONS}, got {self.compensation!r}",
            ),
            (weights_ok, "fusion weights must be >= 0 and not both 0"),
            (0 < self.mv_percentile <= 100 and 0 < self.residual_percentile <= 100, "percentiles must lie in (0, 100]"),
            (0 < self.auto_mass <= 1, f"auto_mass must lie in (0, 1], got {self.auto_mass}"),
            (0 <= self.min_saliency < 1, f"min_saliency must lie in [0, 1), got {self.min_saliency}"),
            (
                self.image_format in IMAGE_FORMATS,
                f"image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}",
            ),
            (1 <= self.jpeg_quality <= 100, f"jpeg_quality must lie in [1, 100], got {self.jpeg_quality}"),
            (self.threads >= 0, f"threads must be >= 0, got {self.threads}"),
            (
                self.residual_window is None or self.residual_window >= 0,
                f"residual_window must be >= 0 or None, got {self.residual_window}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self._check_budget()

    def _check_budget(self) -> None:
        budget = self.budget
        if budget is None or budget == "auto":
            return
        if isinstance(budget, bool) or not isinstance(budget, int | float):
            raise ValueError(f"budget must be an int K, a ratio in (0, 1], 'auto' or None, got {budget!r}")
        if isinstance(budget, float) and not 0 < budget <= 1:
            raise ValueError(f"a ratio budget must lie in (0, 1], got {budget}")
        if isinstance(budget, int) and not 1 <= budget <= self.total_cells:
            raise ValueError(f"budget K={budget} must lie in [1, {self.total_cells}] (frames x cells)")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")]

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "codec settings") -> CodecSettings:
        """Build from a dict (`ov_vlm.utils.typed.from_dict`); unknown keys raise a `ConfigError` naming them."""
        return from_dict(cls, values, where, noun="codec setting")

    def replace(self, **changes: Any) -> CodecSettings:
        """A copy with ``changes``; a new ``profile`` brings its own defaults for settings left at the old one's."""
        values = self.to_dict()
        if changes.get("profile", self.profile) != self.profile:
            old = PROFILES.index(self.profile)
            for name, defaults in PROFILE_DEFAULTS.items():
                if values[name] == defaults[old]:
                    values[name] = None
        return CodecSettings.from_dict({**values, **changes})

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.names()}

    def output_key(self) -> dict[str, Any]:
        """The settings that determine the output (everything but runtime knobs such as ``threads``)."""
        return {name: value for name, value in self.to_dict().items() if name not in RUNTIME_ONLY}

    @property
    def cells_per_side(self) -> int:
        return self.canvas // self.patch

    @property
    def cells_per_frame(self) -> int:
        return self.cells_per_side**2

    @property
    def total_cells(self) -> int:
        return self.frames * self.cells_per_frame

    def fixed_budget(self) -> int | None:
        """K for a non-adaptive budget (None for ``"auto"``), rounded up to whole 2 x 2 blocks when ``block=2``."""
        if self.budget == "auto":
            return None
        if self.budget is None:
            k = self.mosaics * self.cells_per_frame
        elif isinstance(self.budget, float):
            k = max(1, round(self.budget * self.total_cells))
        else:
            k = int(self.budget)
        return min(self.total_cells, self.round_to_blocks(k))

    def round_to_blocks(self, k: int) -> int:
        """With ``block=2``, K is rounded up to whole mosaics (2 x 2 groups must fill mosaics row by row)."""
        if self.block == 1:
            return k
        return min(self.total_cells, math.ceil(k / self.cells_per_frame) * self.cells_per_frame)
