"""The modes and choices of ov-vlm as ``Literal`` types: the dataclasses annotate with them, the command-line parsers
offer them as choices and the loaders check them. Importable without torch or transformers.

The tuples (``DTYPES``, ``VIDEO_MODES``, ...) are the same values for code that wants a plain sequence.
"""

from __future__ import annotations

from typing import Literal, get_args

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
Attention = Literal["sdpa", "eager", "flash_attention_2"]
VideoMode = Literal["codec", "frames", "dense"]

# codec patch selection (`ov_vlm.codec.settings.CodecSettings`)
Profile = Literal["reference", "robust"]
Compensation = Literal["median", "similarity", "affine", "none"]
TopK = Literal["global", "bucket"]
FirstFrame = Literal["full", "none"]
ImageFormat = Literal["jpg", "png"]
Block = Literal[1, 2]

# training recipes (`ov_vlm.train.recipe`)
Stage = Literal["align", "sft", "lora"]
Part = Literal["vision_tower", "projector", "language_model"]
OnBadSample = Literal["error", "skip"]

# benchmark suites (`ov_vlm.evaluation.suite`)
TaskKind = Literal["video", "image"]
Unit = Literal["percent", "count1000"]

DTYPES = get_args(Dtype)
ATTENTION = get_args(Attention)
VIDEO_MODES = get_args(VideoMode)
