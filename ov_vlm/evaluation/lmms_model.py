"""`OVVLMEval`: an ov-vlm model folder as an lmms-eval "simple" model (``--model ov_vlm``).

model_args: ``pretrained`` (model folder), ``device`` (auto), ``dtype`` (auto: bfloat16 on CUDA, float32 on CPU),
``attn_implementation`` (sdpa), ``batch_size`` (1), ``video_mode`` (codec | frames | dense; default: the model's),
``frames`` (frames in frames mode), ``budget`` (codec K, ratio or auto), ``max_new_tokens`` (used when a task sets
none; 1024 as the reference), ``cache_dir`` (codec selection cache; default ``~/.cache/ov-vlm/codec``) and
``failures_file`` (JSONL that every failed request is appended to).

A request whose media cannot be read (e.g. a video that does not decode) is answered with an empty string, so the
task scores it as wrong, and is reported: one warning line and a record in ``failures_file``. It is never replaced
by other frames.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from loguru import logger
from tqdm.auto import tqdm

from ov_vlm.codec import CodecCache, CodecError, default_root, parse_budget
from ov_vlm.errors import one_line
from ov_vlm.model.inference import generate, load_for_inference, to_device
from ov_vlm.processing import ConversationError, MediaError
from ov_vlm.utils.options import Attention, Dtype, VideoMode
from ov_vlm.utils.typed import from_dict

from .requests import (
    DEFAULT_MAX_NEW_TOKENS,
    describe_visuals,
    flatten_visuals,
    generation_settings,
    to_messages,
)

MEDIA_ERRORS = (MediaError, ConversationError, CodecError, OSError, ValueError)
ACCEPTED_EXTRA = {"max_batch_size"}  # lmms-eval passes it along with batch_size and device


@dataclass(frozen=True)
class ModelArgs:
    """``--model_args`` of ``--model ov_vlm`` (see the module docstring), loaded with `from_dict`."""

    pretrained: str
    device: str = "auto"
    dtype: Dtype = "auto"
    attn_implementation: Attention = "sdpa"
    batch_size: int = 1
    video_mode: VideoMode | None = None
    frames: int | None = None
    budget: int | float | str | None = None
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    cache_dir: str | None = None
    failures_file: str | None = None


class OVVLMEval(lmms):
    """lmms-eval model for ov-vlm folders: images, multi-image and video tasks; codec, frames or dense video."""

    is_simple = True

    def __init__(self, **model_args: Any) -> None:
        """``model_args`` as lmms-eval passes them (numbers as numbers or strings), checked by `ModelArgs`."""
        super().__init__()
        values = {k: v for k, v in model_args.items() if k not in ACCEPTED_EXTRA}
        args = from_dict(ModelArgs, values, "ov_vlm model_args", noun="model_arg")
        device = args.device
        if device == "auto" and torch.cuda.is_available():
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        loaded = load_for_inference(Path(args.pretrained), device, args.dtype, args.attn_implementation)
        self.model, self.processor, self._device = loaded.model, loaded.processor, loaded.device
        self.batch_size_per_gpu = max(1, args.batch_size)
        self.max_new_tokens = args.max_new_tokens
        self.codec_cache = CodecCache(args.cache_dir or default_root())
        self.processor = self.processor.with_overrides(
            video_mode=args.video_mode,
            frames=args.frames,
            budget=None if args.budget is None else parse_budget(str(args.budget)),
            codec_cache=self.codec_cache,
        )
        self.failures_file = Path(args.failures_file) if args.failures_file else None
        self.failures: list[dict[str, Any]] = []
        logger.info(
            f"ov_vlm: {args.pretrained} on {self._device} ({loaded.dtype}, torch threads: {torch.get_num_threads()}); "
            f"video mode {self.processor.spec.video_mode}, codec cache {self.codec_cache.root}"
        )

    # ------------------------------------------------------------------------------------------ properties

    @property
    def device(self) -> str:
        return self._device

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    # ------------------------------------------------------------------------------------------ failures

    def _fail(self, request: Instance, visuals: list[Any], error: Exception) -> None:
        _, _, _, doc_id, task, split = request.args[:6]
        reason = one_line(error)
        record = {"task": task, "split": split, "doc_id": doc_id, "media": describe_visuals(visuals), "reason": reason}
        self.failures.append(record)
        logger.warning(f"ov_vlm: FAILED {task} doc {doc_id}: {reason} (scored as wrong)")
        if self.failures_file is not None:
            self.failures_file.parent.mkdir(parents=True, exist_ok=True)
            with self.failures_file.open("a") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _encode(self, request: Instance, add_generation_prompt: bool = True):
        """The request's conversation, tokenized with its visuals; None (and a recorded failure) on bad media."""
        context, _, doc_to_visual, doc_id, task, split = request.args[:6]
        visuals: list[Any] = []
        try:
            visuals = flatten_visuals(doc_to_visual(self.task_dict[task][split][doc_id]))
            messages = to_messages(context, visuals)
            return self.processor.encode(messages, add_generation_prompt=add_generation_prompt)
        except MEDIA_ERRORS as error:
            self._fail(request, visuals, error)
            return None

    # ------------------------------------------------------------------------------------------ lmms API

    def generate_until(self, requests: list[Instance]) -> list[str]:
        answers: list[str | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(json.dumps(request.args[1], sort_keys=True, default=str), []).append(index)
        failed_before = len(self.failures)
        with tqdm(total=len(requests), disable=self.rank != 0, desc="ov_vlm", unit="req") as bar:
            for indices in groups.values():
                settings, until = generation_settings(requests[indices[0]].args[1], self.max_new_tokens)
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start : start + self.batch_size]
                    ready = []
                    for index in chunk:
                        item = self._encode(requests[index])
                        if item is None:
                            answers[index] = ""
                        else:
                            ready.append((index, item))
                    if ready:
                        texts = generate(self.model, self.processor, [item for _, item in ready], settings, until)
                        for (index, _), text in zip(ready, texts, strict=True):
                            answers[index] = text
                    bar.update(len(chunk))
        failed = len(self.failures) - failed_before
        if failed:
            where = f"; listed in {self.failures_file}" if self.failures_file else ""
            logger.warning(f"ov_vlm: {failed} of {len(requests)} requests failed and were scored as wrong{where}")
        return [a if a is not None else "" for a in answers]

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        """Log-probability of each continuation as the assistant's answer, and whether greedy decoding gives it."""
        results: list[tuple[float, bool]] = []
        for request in tqdm(requests, disable=self.rank != 0, desc="ov_vlm loglikelihood", unit="req"):
            continuation = request.args[1]
            item = self._encode(request)
            if item is None:
                results.append((float("-inf"), False))
                continue
            target = self.tokenizer(continuation, add_special_tokens=False).input_ids
            item.input_ids = item.input_ids + target
            item.labels = item.input_ids
            batch = to_device(self.processor.collate([item], with_labels=False), self.model.device, self.model.dtype)
            with torch.inference_mode():
                logits = self.model(**batch).logits[0, -len(target) - 1 : -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            wanted = torch.tensor(target, device=logits.device)
            score = logprobs.gather(1, wanted[:, None]).sum().item()
            results.append((score, bool((logits.argmax(-1) == wanted).all())))
        return results

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError("ov_vlm does not implement multi-round generation (no paper16 task needs it)")
