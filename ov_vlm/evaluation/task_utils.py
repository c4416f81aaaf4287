"""lmms-eval hooks for ov-vlm's local tasks: LLaVA-format samples (``conversations`` + ``image``/``video``) as QA.

A task folder's ``utils.py`` is a two-line shim (lmms-eval loads ``!function utils.X`` from the YAML's folder):
``doc_to_visual, doc_to_text, doc_to_target, process_results = hooks(<media root>)``.
The question is the first human turn without its ``<image>``/``<video>`` tag, the answer the last gpt turn; the
score is ``exact_match`` after lower-casing and dropping punctuation (a leading answer word also counts, so
"Red." and "red, it is red" match "red").
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

TAGS = re.compile(r"<(image|video)>\s*")


def normalize_answer(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", str(text).lower()).split())


def is_correct(prediction: str, answer: str) -> bool:
    predicted, expected = normalize_answer(prediction), normalize_answer(answer)
    if not expected:
        return False
    return predicted == expected or predicted.startswith(expected + " ")


def question_of(doc: dict[str, Any]) -> str:
    turns = doc.get("conversations") or []
    human = next((t["value"] for t in turns if t.get("from") == "human"), "")
    return TAGS.sub("", human).strip()


def answer_of(doc: dict[str, Any]) -> str:
    turns = [t for t in doc.get("conversations") or [] if t.get("from") == "gpt"]
    return turns[-1]["value"].strip() if turns else ""


def hooks(media_root: str | Path):
    """The four lmms-eval hooks for samples whose media paths are relative to ``media_root``."""
    root = Path(media_root)

    def resolve(path: str) -> str:
        return path if Path(path).is_absolute() else os.path.normpath(root / path)

    def doc_to_visual(doc: dict[str, Any]) -> list[Any]:
        from PIL import Image

        visuals: list[Any] = []
        images = doc.get("image") or []
        for path in [images] if isinstance(images, str) else images:
            with Image.open(resolve(path)) as image:
                visuals.append(image.convert("RGB"))
        if doc.get("video"):
            visuals.append(resolve(doc["video"]))  # video tasks hand file paths, as lmms-eval's do
        return visuals

    def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
        kwargs = lmms_eval_specific_kwargs or {}
        return f"{kwargs.get('pre_prompt', '')}{question_of(doc)}{kwargs.get('post_prompt', '')}"

    def doc_to_target(doc: dict[str, Any]) -> str:
        return answer_of(doc)

    def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
        prediction = results[0] if results else ""
        return {"exact_match": float(is_correct(prediction, answer_of(doc)))}

    return doc_to_visual, doc_to_text, doc_to_target, process_results
