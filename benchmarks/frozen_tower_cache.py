"""The frozen tower cache (``train.frozen_tower_cache_mb``) side by side, in one process: the demo's stage-2 training
step (forward and backward of the stage-1 model, tower frozen) on batches of the demo's training samples, with a warm
cache and without, alternating pass by pass; the median step time of each, their ratio, the cost of a first (cold)
pass, and whether the gradients are the same bits.

    python benchmarks/frozen_tower_cache.py [--run runs/demo] [--batches 12] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from ov_vlm.codec import CodecCache
from ov_vlm.data import SupervisedDataset
from ov_vlm.model import OVVLMForConditionalGeneration
from ov_vlm.processing import OVVLMProcessor
from ov_vlm.train.parts import apply_freeze_policy
from ov_vlm.train.recipe import load_recipe
from ov_vlm.utils.jsonl import read_jsonl

REPO = Path(__file__).resolve().parents[1]


def batches(run: Path, count: int, size: int) -> tuple[OVVLMForConditionalGeneration, list[dict]]:
    """The stage-1 model, frozen as stage 2 freezes it, and ``count`` collated batches of stage-2 samples."""
    recipe, _ = load_recipe(REPO / "recipes" / "demo" / "stage2_sft.yaml")
    model = OVVLMForConditionalGeneration.from_pretrained(run / "stage1_align", dtype=torch.float32)
    apply_freeze_policy(model, recipe.train.trainable)
    processor = OVVLMProcessor.from_pretrained(run / "stage1_align")
    processor = processor.with_overrides(codec_cache=CodecCache(run / "codec_cache"))
    records = read_jsonl(run / "data" / "train.jsonl")[: count * size]
    dataset = SupervisedDataset(records, processor, run / "data", "error", None, 0)  # bad samples raise: no skip log
    items = [dataset[i] for i in range(len(records))]
    return model, [processor.collate(items[i : i + size], padding_side="right") for i in range(0, len(items), size)]


def one_pass(model, data: list[dict]) -> tuple[float, list[torch.Tensor]]:
    """Seconds per step of forward + backward over ``data``, and the last step's gradients."""
    started = time.perf_counter()
    for batch in data:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    return (time.perf_counter() - started) / len(data), grads


def stage2_arguments(doc: str) -> argparse.Namespace:
    """The command line of the stage-2 step benchmarks: the demo run folder, batches, batch size, repeats."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "demo")
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not (args.run / "stage1_align").is_dir():
        raise SystemExit(f"{args.run}: no stage1_align folder (run `make demo` first)")
    return args


def main() -> None:
    args = stage2_arguments(__doc__)
    model, data = batches(args.run, args.batches, args.batch_size)
    model.train()
    one_pass(model, data)  # warm-up, no cache
    cache = model.enable_frozen_tower_cache(1024)
    cold, _ = one_pass(model, data)  # fills the cache
    times: dict[str, list[float]] = {"without": [], "with": []}
    grads = {}
    for _ in range(args.repeats):
        for name in times:
            model.frozen_tower_cache = None if name == "without" else cache
            seconds, grads[name] = one_pass(model, data)
            times[name].append(seconds)
    same = all(torch.equal(a, b) for a, b in zip(grads["without"], grads["with"], strict=True))
    median = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    print(
        f"{len(data)} stage-2 batches of {args.batch_size}, forward + backward, median of {args.repeats} passes each:"
    )
    print(f"  without the cache {median['without']:.1f} ms/step; first pass filling it {cold * 1e3:.1f} ms/step")
    print(f"  with a warm cache {median['with']:.1f} ms/step ({cache.summary()})")
    print(f"  speed-up on a warm pass {median['without'] / median['with']:.3f}x; gradients identical: {same}")


if __name__ == "__main__":
    main()
