"""Encoder cost of codec sparsity: one forward of a dense 64-frame clip vs the same clip at 25 / 12.5 / 3.1 % of its
patches, measured side by side in one run on a reduced-width OV-Encoder (random weights, fp32, SDPA).

The sparse inputs are fed the way the codec path feeds them: the K kept patches packed onto 224 x 224 canvases,
each token placed by its (t, h, w) on the 64-frame grid (``visible_indices``, equal counts, no gather).

    python benchmarks/encoder_sparsity.py            # ~2-3 min on 2 CPU cores
    python benchmarks/encoder_sparsity.py --repeats 1 --layers 2
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from ov_vlm.encoders import OneVisionEncoderConfig, OneVisionEncoderModel

RATIOS = (0.25, 0.125, 0.031)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=224, help="frame side in pixels (224 = 16 x 16 patches)")
    parser.add_argument("--width", type=int, default=256, help="hidden size of the reduced encoder")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed forwards per setting (median reported)")
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    return parser.parse_args()


def timed(model: OneVisionEncoderModel, pixels: torch.Tensor, indices: torch.Tensor | None, repeats: int) -> float:
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            model(pixels, visible_indices=indices)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    patch = 14
    side = args.size // patch
    per_frame = side * side
    config = OneVisionEncoderConfig(
        hidden_size=args.width,
        intermediate_size=4 * args.width,
        num_hidden_layers=args.layers,
        num_attention_heads=args.width // 64,
        patch_size=patch,
        use_head=False,
    )
    model = OneVisionEncoderModel._from_config(config, attn_implementation=args.attn).eval()
    dense_tokens = args.frames * per_frame
    clip = torch.randn(1, 3, args.frames, args.size, args.size)

    settings = [("dense", dense_tokens, clip, None)]
    for ratio in RATIOS:
        canvases = max(1, round(dense_tokens * ratio / per_frame))
        kept = canvases * per_frame
        indices = torch.randperm(dense_tokens)[:kept].sort().values[None]
        packed = torch.randn(1, 3, canvases, args.size, args.size)
        settings.append((f"{ratio:.1%}", kept, packed, indices))

    timed(model, settings[-1][2], settings[-1][3], 1)  # warm-up
    print(
        f"OV-Encoder width {args.width}, {args.layers} layers, {args.attn}, fp32, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}; {args.frames} frames at {args.size}px, patch {patch}"
    )
    print(f"{'setting':>8} {'tokens':>7} {'seconds':>9} {'dense / this':>13}")
    results = []
    dense_seconds = None
    for name, tokens, pixels, indices in settings:
        seconds = timed(model, pixels, indices, args.repeats)
        dense_seconds = dense_seconds or seconds
        speedup = dense_seconds / seconds
        results.append({"setting": name, "tokens": tokens, "seconds": round(seconds, 4), "speedup": round(speedup, 2)})
        print(f"{name:>8} {tokens:>7} {seconds:>9.3f} {speedup:>12.1f}x", flush=True)
    if args.json:
        print(json.dumps({"config": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
