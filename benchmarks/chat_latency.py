"""Chat latency by video mode: time to first token and decoding tokens/s for one question about a 64-frame video,
with codec patches vs 8 uniform frames vs all 64 frames, each with mlp2x_gelu and spatial_merge_2x2, measured side
by side in one run on random-init models (the tiny preset by default).

    python benchmarks/chat_latency.py                       # tiny preset, CPU
    python benchmarks/chat_latency.py --preset ov-encoder-large_qwen3-4b --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import TextStreamer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import moving_object_clip

from ov_vlm.model import OVVLMForConditionalGeneration
from ov_vlm.model.builder import build_model_dir
from ov_vlm.model.presets import load_preset
from ov_vlm.processing import OVVLMProcessor


class FirstToken(TextStreamer):
    """Records when the first generated token arrives."""

    def __init__(self, tokenizer):
        super().__init__(tokenizer, skip_prompt=True)
        self.first: float | None = None
        self.calls = 0

    def put(self, value):
        self.calls += 1
        if self.calls == 2 and self.first is None:  # call 1 is the prompt
            self.first = time.perf_counter()

    def end(self):
        pass


def measure(model, processor, video: Path, mode: str, new_tokens: int, device: str) -> dict:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "video", "video": str(video), "mode": mode},
                {"type": "text", "text": "What moves in this video?"},
            ],
        }
    ]
    start = time.perf_counter()
    encoded = processor.encode(messages, add_generation_prompt=True)
    batch = processor.collate([encoded], padding_side="left", with_labels=False)
    batch = {k: [v.to(device) for v in val] if isinstance(val, list) else val.to(device) for k, val in batch.items()}
    prepared = time.perf_counter()
    streamer = FirstToken(processor.tokenizer)
    with torch.inference_mode():
        model.generate(
            **batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, streamer=streamer
        )
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    end = time.perf_counter()
    return {
        "visual_tokens": encoded.visual_tokens,
        "prompt_tokens": len(encoded.input_ids),
        "prepare_s": prepared - start,
        "ttft_s": streamer.first - start,
        "tokens_per_s": (new_tokens - 1) / (end - streamer.first),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--video-size", type=int, default=256)
    args = parser.parse_args()
    preset = load_preset(args.preset)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = moving_object_clip(tmp / "clip.mp4", count=64, size=(args.video_size, args.video_size)).path
        for projector in ("mlp2x_gelu", "spatial_merge_2x2"):
            folder = build_model_dir(preset, tmp / projector, random_init=True, projector=projector)
            model = OVVLMForConditionalGeneration.from_pretrained(folder, dtype=getattr(torch, args.dtype))
            model = model.to(args.device).eval()
            processor = OVVLMProcessor.from_pretrained(folder)
            measure(model, processor, video, "frames", 4, args.device)  # warm-up
            for mode in ("codec", "frames", "dense"):
                runs = [
                    measure(model, processor, video, mode, args.new_tokens, args.device) for _ in range(args.repeats)
                ]
                row = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                rows.append((projector, mode, row))
                print(
                    f"{projector:>18} {mode:>6}: {row['visual_tokens']:>5.0f} visual tokens, "
                    f"prepare {row['prepare_s'] * 1000:7.1f} ms, TTFT {row['ttft_s'] * 1000:7.1f} ms, "
                    f"{row['tokens_per_s']:6.1f} tok/s",
                    flush=True,
                )
    print(
        f"\npreset {args.preset}, {args.device} {args.dtype}, {torch.get_num_threads()} threads, 64-frame "
        f"{args.video_size}x{args.video_size} H.264 clip, {args.new_tokens} new tokens, median of {args.repeats}"
    )
    print("| projector | video mode | visual tokens | prompt tokens | video prep | TTFT | decode tok/s |")
    print("|---|---|---|---|---|---|---|")
    for projector, mode, row in rows:
        print(
            f"| {projector} | {mode} | {row['visual_tokens']:.0f} | {row['prompt_tokens']:.0f} | "
            f"{row['prepare_s'] * 1000:.0f} ms | {row['ttft_s'] * 1000:.0f} ms | {row['tokens_per_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
