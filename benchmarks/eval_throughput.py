"""Evaluation throughput through lmms-eval: samples/s of a tiny model on a local video QA task in codec mode vs
uniform-frames mode (equal LLM tokens per video with the tiny preset: 8 x 16 = 128), and the codec cache's speed-up
on a second run (selections read from disk instead of computed). Everything measured side by side in one run.

    python benchmarks/eval_throughput.py                 # 32 clips of 48 frames at 192 x 192
    python benchmarks/eval_throughput.py --clips 32 --size 256 --frames 64
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    from loguru import logger

    logger.remove()  # keep the benchmark output readable
    logging.getLogger("lmms-eval").setLevel(logging.ERROR)
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from ov_vlm.data.synthetic import generate_shapes
    from ov_vlm.evaluation.lmms_model import OVVLMEval
    from ov_vlm.evaluation.local_tasks import write_task
    from ov_vlm.model.builder import build_model_dir
    from ov_vlm.model.presets import load_preset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = build_model_dir(load_preset("tiny"), root / "model", random_init=True)
        samples = generate_shapes(
            root / "data", samples=args.clips, task="qa", video_share=1.0, size=args.size, frames=args.frames
        )
        write_task(root / "task", "bench_video_qa", samples)
        manager = TaskManager(include_path=str(root / "task"), include_defaults=False)

        def run(mode: str, cache: Path) -> float:
            model = OVVLMEval(
                pretrained=str(model_dir),
                video_mode=mode,
                cache_dir=str(cache),
                batch_size=args.batch_size,
                max_new_tokens=8,
            )
            started = time.perf_counter()
            simple_evaluate(model=model, tasks=["bench_video_qa"], task_manager=manager, batch_size=args.batch_size)
            return args.clips / (time.perf_counter() - started)

        run("frames", root / "warmup")  # warm-up (first lmms-eval call builds its task objects)
        frames = run("frames", root / "unused")
        codec_cold = run("codec", root / "cache")
        codec_warm = run("codec", root / "cache")

    print(f"local video QA: {args.clips} clips, {args.frames} frames at {args.size}x{args.size}, tiny preset, CPU")
    print(f"  frames mode (8 uniform frames)     {frames:7.2f} samples/s")
    print(f"  codec mode, cold cache (compute)   {codec_cold:7.2f} samples/s   ({codec_cold / frames:.2f}x frames)")
    print(f"  codec mode, warm cache (read)      {codec_warm:7.2f} samples/s   ({codec_warm / frames:.2f}x frames)")
    print(f"  cache hit speed-up                 {codec_warm / codec_cold:7.2f}x")


if __name__ == "__main__":
    main()
