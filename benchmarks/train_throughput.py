"""Training throughput of the tiny recipe on CPU with 1 and 2 processes (DeepSpeed ZeRO-2, gloo), and the cost of
codec video samples in data loading: computed on the fly, read from the codec cache, or precomputed by
``ov-vlm codec`` (LLaVA codec format), measured side by side in one run.

    python benchmarks/train_throughput.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ov_vlm.codec import CodecCache
from ov_vlm.codec.batch import folder_name, run_batch
from ov_vlm.data import SupervisedDataset, generate_shapes, load_records
from ov_vlm.model.builder import build_model_dir
from ov_vlm.model.presets import load_preset
from ov_vlm.processing import OVVLMProcessor

REPO = Path(__file__).resolve().parents[1]
STEPS = 24


def train(model: Path, data: Path, out: Path, nproc: int, cache: Path) -> dict:
    command = [
        str(Path(sys.executable).parent / "ov-vlm"),
        "train",
        str(REPO / "recipes/tiny/stage2_sft.yaml"),
        f"init_from={model}",
        f"data.train={data}",
        f"output_dir={out}",
        f"train.max_steps={STEPS}",
        "train.per_device_batch_size=4",
        "train.save_steps=1000",
        f"data.codec_cache={cache}",
        f"deepspeed={REPO / 'recipes/deepspeed/zero2.json'}",
        "--nproc",
        str(nproc),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads((out / "summary.json").read_text())


def loading_rate(dataset: SupervisedDataset, indices: list[int], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for index in indices:
            dataset[index]
        times.append(time.perf_counter() - start)
    return len(indices) / statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_model_dir(load_preset("tiny"), tmp / "model", random_init=True)
        data = generate_shapes(tmp / "data", samples=128, task="qa", video_share=0.25, seed=1)
        records = load_records(data)
        # warmed here: both runs read codec input from it
        processor = OVVLMProcessor.from_pretrained(model).with_overrides(codec_cache=CodecCache(tmp / "train-cache"))
        dataset = SupervisedDataset(records, processor, data.parent)
        tokens = statistics.mean(len(dataset[i].input_ids) for i in range(len(dataset)))

        rows = []
        for nproc in (1, 2):
            summary = train(model, data, tmp / f"run{nproc}", nproc, tmp / "train-cache")
            samples = STEPS * 4 * nproc
            rows.append(
                (nproc, samples / summary["seconds"], samples * tokens / summary["seconds"], summary["seconds"])
            )
        print(
            f"tiny stage 2 (ZeRO-2, CPU, gloo), {STEPS} steps x 4 samples per process, ~{tokens:.0f} tokens/sample,"
            " codec input from a warm cache"
        )
        for nproc, sps, tps, seconds in rows:
            print(f"  {nproc} process(es): {sps:6.1f} samples/s  {tps:8.0f} tokens/s  ({seconds:.1f} s incl. setup)")

        videos = [i for i, r in enumerate(records) if "video" in r]
        fresh = OVVLMProcessor.from_pretrained(model)
        on_the_fly = SupervisedDataset(records, fresh, data.parent)
        cached_processor = OVVLMProcessor.from_pretrained(model).with_overrides(
            codec_cache=CodecCache(tmp / "cache-bench")
        )
        cached = SupervisedDataset(records, cached_processor, data.parent)
        for index in videos:  # fill the cache
            cached[index]
        settings = processor.spec.codec_settings()
        run_batch([data.parent / records[i]["video"] for i in videos], tmp / "codec", settings, progress=False)
        precomputed_records = []
        for record in records:
            if "video" in record:
                folder = tmp / "codec" / folder_name(data.parent / record["video"])
                mosaics = sorted(str(p) for p in folder.glob("mosaic_*"))
                record = {
                    **{k: v for k, v in record.items() if k != "video"},
                    "image": mosaics,
                    "positions_thw": str(folder / "positions_thw.npy"),
                }
                record["conversations"] = [dict(t) for t in record["conversations"]]
                record["conversations"][0]["value"] = record["conversations"][0]["value"].replace("<video>", "<image>")
            precomputed_records.append(record)
        precomputed = SupervisedDataset(precomputed_records, OVVLMProcessor.from_pretrained(model), data.parent)
        rates = {
            "codec on the fly": loading_rate(on_the_fly, videos),
            "codec cache (hit)": loading_rate(cached, videos),
            "precomputed (ov-vlm codec folders)": loading_rate(precomputed, videos),
        }
        print(f"data loading, {len(videos)} codec video samples (16-frame 64x64 H.264 -> 64 frames, K = 128):")
        for name, rate in rates.items():
            print(f"  {name:<36} {rate:7.1f} samples/s")


if __name__ == "__main__":
    main()
