"""Text helpers for generated answers (no model, torch-free)."""

from __future__ import annotations


def cut_at_stops(text: str, until: list[str] | tuple[str, ...] = ()) -> str:
    """The answer up to the first stop string, stripped (EOS already ended generation)."""
    end = len(text)
    for stop in until:
        at = text.find(stop) if stop else -1
        if at != -1:
            end = min(end, at)
    return text[:end].strip()
