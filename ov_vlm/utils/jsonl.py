"""Reading JSONL files, with one tolerance policy.

Blank lines are skipped everywhere. Otherwise it depends on who wrote the file:

- files given to ov-vlm (training data, codec indexes): every line must be JSON, else `JSONLError`, one line that
  names ``file:line``;
- logs ov-vlm appends to while it runs (``skip_bad=True``: the loss log, skipped samples, eval failures, infer
  answers): a line that does not parse is skipped, since a killed or concurrent writer can leave a torn line and
  reading a log must never stop a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ov_vlm.errors import OVVLMError


class JSONLError(OVVLMError, ValueError):
    """A line of a JSONL file is not JSON (the message names ``file:line``)."""


def iter_jsonl(path: str | Path, skip_bad: bool = False) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of ``path`` (numbers start at 1)."""
    path = Path(path)
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as error:
            if not skip_bad:
                raise JSONLError(f"{path}:{number}: not JSON ({error})") from None


def read_jsonl(path: str | Path, skip_bad: bool = False, missing_ok: bool = False) -> list[Any]:
    """The values of the non-blank lines of ``path``; ``missing_ok``: a missing file reads as empty."""
    if missing_ok and not Path(path).is_file():
        return []
    return [value for _, value in iter_jsonl(path, skip_bad)]
