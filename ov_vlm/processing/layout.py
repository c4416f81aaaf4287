"""The visual token layout: the one place that says how many patches and LLM tokens a visual becomes.

A visual's encoder input is ``frames`` grids of ``rows`` x ``cols`` patches (one grid for an image, one per frame or
codec mosaic); the first ``patches`` of them in token order are used (all, except on a partly filled last codec
mosaic read by a positional encoder), and the projector merges ``merge`` x ``merge`` neighbours into one LLM token.
`processing` builds it once per visual; the collate passes the grids to the model (``visual_grids``), whose
projector, the dataset's length estimate and the reports read it instead of re-deriving it from pixel shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

Grid = tuple[int, int, int]  # (frames, rows, cols) of one visual's patch grid, in token order


@dataclass(frozen=True)
class TokenLayout:
    """Patch grid, used patches and merge of one visual (see the module docstring)."""

    frames: int
    rows: int
    cols: int
    merge: int = 1
    patches: int | None = None  # None: every patch of the grid

    def __post_init__(self) -> None:
        if min(self.frames, self.rows, self.cols, self.merge) < 1:
            raise ValueError(f"a token layout needs positive sizes, got {self}")
        if self.patches is not None and not 0 < self.patches <= self.frames * self.rows * self.cols:
            raise ValueError(f"{self.patches} patches do not fit {self.frames} grid(s) of {self.rows}x{self.cols}")

    @property
    def grid(self) -> Grid:
        return self.frames, self.rows, self.cols

    @property
    def num_patches(self) -> int:
        """Encoder tokens."""
        return self.patches if self.patches is not None else self.frames * self.rows * self.cols

    @property
    def num_tokens(self) -> int:
        """LLM tokens, after the projector's merge."""
        return self.num_patches // self.merge**2


def pixel_grid(shape: tuple[int, ...], patch: int) -> Grid:
    """(frames, rows, cols) of a ``[C, H, W]`` image or ``[C, T, H, W]`` video tensor cut into ``patch`` squares."""
    frames = shape[1] if len(shape) == 4 else 1
    return frames, shape[-2] // patch, shape[-1] // patch
