"""Logits at the supervised positions only (``skip_logits``, the training default) against the full logits, side by
side in one process: the demo's stage-2 training step (forward and backward of the stage-1 model, tower frozen, its
features cached as the recipe does) on batches of the demo's training samples, alternating pass by pass; the median
step time of each, their ratio, the logits each computes, and how far the losses and gradients differ.

    python benchmarks/supervised_logits.py [--run runs/demo] [--batches 12] [--repeats 5]
"""

from __future__ import annotations

import statistics
import time

import torch
from frozen_tower_cache import batches, stage2_arguments


def one_pass(model, data: list[dict], skip: bool) -> tuple[float, list[float], list[torch.Tensor]]:
    """Seconds per step of forward + backward over ``data``, every loss, and the last step's gradients."""
    losses = []
    started = time.perf_counter()
    for batch in data:
        model.zero_grad(set_to_none=True)
        loss = model(**batch, skip_logits=skip).loss
        loss.backward()
        losses.append(loss.item())
    seconds = (time.perf_counter() - started) / len(data)
    return seconds, losses, [p.grad.clone() for p in model.parameters() if p.grad is not None]


def relative_difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """The largest |a - b| over all gradients, relative to the largest |a|."""
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True)) / max(float(x.abs().max()) for x in a)


def main() -> None:
    args = stage2_arguments(__doc__)
    model, data = batches(args.run, args.batches, args.batch_size)
    model.train()
    model.enable_frozen_tower_cache(1024)
    one_pass(model, data, skip=False)  # warm-up; fills the cache
    times: dict[bool, list[float]] = {False: [], True: []}
    losses, grads = {}, {}
    for _ in range(args.repeats):
        for skip in times:
            seconds, losses[skip], grads[skip] = one_pass(model, data, skip)
            times[skip].append(seconds)
    median = {skip: statistics.median(values) * 1e3 for skip, values in times.items()}
    positions = sum(batch["labels"].numel() for batch in data)
    supervised = sum(int((batch["labels"][:, 1:] != -100).sum()) for batch in data)
    loss_gap = max(abs(a - b) for a, b in zip(losses[False], losses[True], strict=True))
    passes = f"median of {args.repeats} passes each"
    print(f"{len(data)} stage-2 batches of {args.batch_size}, forward + backward, {passes}:")
    print(f"  full logits ({positions / len(data):.0f} positions a step) {median[False]:.1f} ms/step")
    print(f"  supervised positions only ({supervised / len(data):.0f} a step) {median[True]:.1f} ms/step")
    print(f"  speed-up {median[False] / median[True]:.3f}x; logits computed {positions / supervised:.1f}x fewer")
    gap = relative_difference(grads[False], grads[True])
    print(f"  largest loss difference {loss_gap:.2e}; largest gradient difference {gap:.2e} of the largest gradient")


if __name__ == "__main__":
    main()
