"""Evaluation: the lmms-eval plugin on the real lmms-eval (CLI and Python API), suites, published numbers, reports.

Tiny random models answer nonsense, so these tests check plumbing and bookkeeping (every sample answered or
reported, scores recomputable from the logged samples, settings recorded); the demo test checks accuracy.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from ov_vlm.cli.main import main
from ov_vlm.evaluation.local_tasks import write_task
from ov_vlm.evaluation.report import run_report
from ov_vlm.evaluation.requests import cut_at_stops, generation_settings, to_messages
from ov_vlm.evaluation.results import load_result, read_scores
from ov_vlm.evaluation.suite import EVAL_ROOT, SuiteError, load_published, load_suite
from ov_vlm.evaluation.task_utils import is_correct

# The spec's table (integration.md §9), verbatim numbers: task id -> five columns.
SPEC_TABLE = """
mvbench 53.2 47.4 52.4 49.8 47.2
mlvu_dev 47.4 47.2 46.3 49.4 48.4
nextqa_mc 76.1 70.1 75.6 71.9 70.6
videomme 54.1 47.2 53.4 49.3 46.8
perceptiontest 60.6 57.1 60.3 56.7 56.0
tomato 21.8 22.2 22.2 21.8 22.3
longvideobench 51.6 45.0 50.4 45.5 45.2
ai2d 80.2 77.8 75.7 76.5 78.6
chartqa 80.1 79.6 76.5 77.8 76.4
docvqa 83.2 85.1 78.4 79.5 75.0
infovqa 51.6 49.0 43.1 45.5 42.0
mmbench_en 80.2 79.4 77.2 78.5 79.6
ocrbench 657 706 605 630 621
ocrbench_v2 30.8 30.6 26.3 26.1 26.1
mmstar 56.6 56.6 52.1 54.3 55.0
realworldqa 66.1 63.3 60.8 61.2 62.1
"""
COLUMNS = ["ov-encoder-lang_codec", "qwen3-vit_frame", "ov-encoder_codec", "ov-encoder_frame", "siglip2_frame"]
SPEC_AVERAGES = {  # avg video (7), avg image (9), avg all (16)
    "ov-encoder-lang_codec": (52.11, 66.06, 59.96),
    "qwen3-vit_frame": (48.03, 65.78, 58.01),
    "ov-encoder_codec": (51.51, 61.18, 56.95),
    "ov-encoder_frame": (49.20, 62.49, 56.68),
    "siglip2_frame": (48.07, 61.88, 55.84),
}


def test_published_numbers_match_the_spec_table():
    published = load_published()
    assert [c.id for c in published.columns] == COLUMNS
    expected = {row.split()[0]: [float(v) for v in row.split()[1:]] for row in SPEC_TABLE.strip().splitlines()}
    assert list(published.scores) == list(expected)
    for task_id, values in expected.items():
        assert [published.scores[task_id][c] for c in COLUMNS] == values, task_id
    assert "lmms-lab.com/onevision-encoder" in published.source


def test_paper16_suite_matches_published_and_reproduces_the_spec_averages():
    suite = load_suite("paper16")
    published = load_published()
    assert [t.id for t in suite.tasks] == list(published.scores)
    assert [t.kind for t in suite.tasks] == ["video"] * 7 + ["image"] * 9
    raw = json.loads((EVAL_ROOT / "published.json").read_text())
    for task in suite.tasks:
        assert task.benchmark == raw["scores"][task.id]["benchmark"]
        assert task.metric and task.task and task.dataset and task.scale > 0
    ocr = next(t for t in suite.tasks if t.id == "ocrbench")
    assert ocr.unit == "count1000" and ocr.average_weight == 0.1
    assert next(t for t in suite.tasks if t.id == "mmbench_en").judge  # gpt_eval_score needs a judge key
    from ov_vlm.evaluation.report import average

    for column, (video, image, overall) in SPEC_AVERAGES.items():
        scores = {
            t.id: {"kind": t.kind, "value": published.scores[t.id][column], "weight": t.average_weight}
            for t in suite.tasks
        }
        kinds = {k: [i for i, s in scores.items() if s["kind"] == k] for k in ("video", "image")}
        assert average(scores, kinds["video"]) == pytest.approx(video, abs=0.006)
        assert average(scores, kinds["image"]) == pytest.approx(image, abs=0.006)
        assert average(scores, list(scores)) == pytest.approx(overall, abs=0.006)


def test_suite_files_are_strict(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntasks:\n  - {id: a, benchmark: A, kind: image, task: a, metric: m, colour: red}\n")
    with pytest.raises(SuiteError, match=r"unknown key\(s\) \['colour'\]"):
        load_suite(bad)
    with pytest.raises(SuiteError, match="no suite 'nope'"):
        load_suite("nope")
    with pytest.raises(SuiteError, match=r"no task\(s\) \['zzz'\]"):
        load_suite("local").select(["zzz"])


def fabricated_result(scores: dict[str, float], encoder="onevision", mode="codec", name="probe") -> dict:
    suite = load_suite("paper16")
    by_id = {t.id: t for t in suite.tasks}
    return {
        "format": 1,
        "suite": "paper16",
        "date": "2026-01-01T00:00:00+00:00",
        "model": {
            "path": f"/models/{name}",
            "name": name,
            "hash": "ab" * 32,
            "encoder": encoder,
            "llm": "qwen3",
            "projector": "mlp2x_gelu",
        },
        "settings": {"video_mode": mode, "frames": 64, "budget": 10368, "batch_size": 1, "limit": None},
        "versions": {"lmms-eval": "0.7.3", "ov-vlm": "0.1.0", "torch": "2"},
        "scores": {
            i: {
                "benchmark": by_id[i].benchmark,
                "kind": by_id[i].kind,
                "value": v,
                "raw": v,
                "metric": by_id[i].result_key,
                "unit": by_id[i].unit,
                "weight": by_id[i].average_weight,
                "samples": 100,
            }
            for i, v in scores.items()
        },
        "missing": {},
        "failures": [],
    }


def test_report_renders_deltas_and_fair_partial_averages():
    published = load_published()
    result = fabricated_result({"mvbench": 54.4, "videomme": 50.4, "ocrbench": 615, "ai2d": 75.7})
    column = published.reference_for("onevision", "codec")
    assert column.id == "ov-encoder_codec"
    report = run_report(result, published, column)
    rows = {line.split(" | ")[1]: line for line in report.splitlines() if line.startswith("| ")}
    assert rows["MVBench"].endswith("| +2.0 | 100 |")  # 54.4 - 52.4
    assert rows["VideoMME"].endswith("| −3.0 | 100 |")  # 50.4 - 53.4
    assert rows["OCRBench"].endswith("| +10 | 100 |") and "**615**" in rows["OCRBench"]
    assert rows["AI2D"].endswith("| +0.0 | 100 |")
    # averages over the same benchmarks only: video (54.4+50.4)/2 = 52.4 vs (52.4+53.4)/2 = 52.9
    assert "**52.4**" in rows["**avg video (2)**"] and rows["**avg video (2)**"].endswith("| −0.5 |  |")
    # image: (61.5 + 75.7)/2 = 68.6 vs (60.5 + 75.7)/2 = 68.1
    assert "**68.6**" in rows["**avg image (2)**"] and rows["**avg image (2)**"].endswith("| +0.5 |  |")
    assert "Δ vs OV-Enc (Codec)" in report and "lmms-lab.com" in report
    siglip = run_report(
        fabricated_result({"ai2d": 80.0}, "siglip2", "frames"), published, published.reference_for("siglip2", "frames")
    )
    assert "Δ vs SigLIP2 (Frame)" in siglip and "| +1.4 |" in siglip


def test_compare_cli_renders_table_and_chart(tmp_path):
    runs = []
    for name, encoder, mode, value in [("ov", "onevision", "codec", 52.4), ("sig", "siglip2", "frames", 47.2)]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "result.json").write_text(
            json.dumps(fabricated_result({"mvbench": value, "ai2d": 70.0}, encoder, mode, name))
        )
        runs.append(str(folder))
    assert main(["eval", "compare", *runs, "--output", str(tmp_path / "cmp")]) == 0
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| MVBench | **52.4** | 47.2 |" in table
    assert "| AI2D | **70.0** | **70.0** |" in table
    assert (tmp_path / "cmp" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", "compare", str(tmp_path / "nothing")]) == 2


def test_request_helpers():
    settings, until = generation_settings({"max_new_tokens": 16, "temperature": 0, "until": ["\n\n"]}, 1024)
    assert settings == {"max_new_tokens": 16, "do_sample": False} and until == ["\n\n"]
    settings, until = generation_settings({}, 1024)
    assert settings["max_new_tokens"] == 1024 and until == []
    sampled, _ = generation_settings({"do_sample": True, "temperature": 0.7, "top_p": 0.9}, 8)
    assert sampled == {"max_new_tokens": 8, "do_sample": True, "temperature": 0.7, "top_p": 0.9}
    with pytest.raises(ValueError, match="num_beams=4"):
        generation_settings({"num_beams": 4}, 8)
    assert cut_at_stops("B. because\n\nmore", ["\n\n", "Question:"]) == "B. because"
    messages = to_messages("<image>\nWhat is shown?", ["clip.mp4", "a.png"], video_mode="frames")
    parts = messages[0]["content"]
    assert parts[0] == {"type": "video", "video": "clip.mp4", "mode": "frames"}
    assert parts[1] == {"type": "image", "image": "a.png"} and parts[2]["text"] == "What is shown?"
    assert is_correct("Red.", "red") and is_correct("red, it is red", "red") and not is_correct("redish", "red")


def test_several_processes_launch_data_parallel_also_on_cpu(tmp_path):
    """``--nproc 2`` gives two processes (plain ``accelerate launch --num_processes=2`` runs one on a CPU machine)."""
    from ov_vlm.evaluation.runner import EvalError, EvalRequest, lmms_eval_command, run_eval

    suite = load_suite("local")
    request = EvalRequest(model=tmp_path, suite=suite, output=tmp_path, nproc=2)
    command = lmms_eval_command(request, suite, tmp_path / "raw", tmp_path / "failures.jsonl")
    assert command[1:5] == ["launch", "--multi_gpu", "--num_processes=2", "-m"] and command[5] == "lmms_eval"
    single = lmms_eval_command(EvalRequest(model=tmp_path, suite=suite, output=tmp_path), suite, tmp_path, tmp_path)
    assert "launch" not in single
    with pytest.raises(EvalError, match="threads must be at least 1, got 0"):
        run_eval(EvalRequest(model=tmp_path, suite=suite, output=tmp_path, threads=0))


def test_entry_point_registers_the_model():
    from lmms_eval.models.registry_v2 import ModelRegistryV2

    registry = ModelRegistryV2()
    registry.load_entrypoint_manifests()
    from ov_vlm.evaluation.lmms_model import OVVLMEval

    assert registry.get_model_class("ov_vlm") is OVVLMEval
    assert registry.get_model_class("ov-vlm") is OVVLMEval


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval-model")
    assert main(["build-model", "--preset", "tiny", "--random-init", "--out", str(root / "model")]) == 0
    return root / "model"


def samples_of(run: Path, task: str) -> list[dict]:
    (path,) = (run / "raw").rglob(f"*_samples_{task}.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow  # two lmms-eval CLI runs
def test_lmms_eval_cli_runs_local_tasks_in_codec_and_frames_mode(tiny_model_dir, tmp_path):
    cache = tmp_path / "codec-cache"
    codec_run = tmp_path / "codec"
    args = ["eval", "--model", str(tiny_model_dir), "--suite", "local", "--batch-size", "4", "--quiet"]
    assert main([*args, "--output", str(codec_run), "--cache-dir", str(cache)]) == 0
    result = load_result(codec_run)
    assert set(result["scores"]) == {"local_image", "local_video"} and not result["missing"]
    assert result["settings"]["video_mode"] == "codec" and result["settings"]["codec_K"] == 128
    assert result["model"]["encoder"] == "onevision" and len(result["model"]["hash"]) == 64
    assert result["versions"]["lmms-eval"] and result["command"][1:3] == ["-m", "lmms_eval"]
    for task_id, task in [("local_image", "ovvlm_local_image"), ("local_video", "ovvlm_local_video")]:
        samples = samples_of(codec_run, task)
        assert len(samples) == result["scores"][task_id]["samples"] == (16 if "image" in task else 12)
        recomputed = 100 * sum(s["exact_match"] for s in samples) / len(samples)
        assert result["scores"][task_id]["value"] == pytest.approx(recomputed)
    assert len(list(cache.iterdir())) == 12  # one codec selection per video, cached on disk
    report = (codec_run / "report.md").read_text()
    assert "| video | Local video QA |" in report and "mode **codec**" in report
    assert (codec_run / "chart.png").read_bytes()[:4] == b"\x89PNG"

    frames_run = tmp_path / "frames"
    assert (
        main(
            [
                *args,
                "--tasks",
                "local_video",
                "--video-mode",
                "frames",
                "--frames",
                "4",
                "--threads",
                "1",
                "--output",
                str(frames_run),
                "--cache-dir",
                str(tmp_path / "frames-cache"),
            ]
        )
        == 0
    )
    assert not (tmp_path / "frames-cache").exists() or not any((tmp_path / "frames-cache").iterdir())  # no codec
    frames = load_result(frames_run)
    assert list(frames["scores"]) == ["local_video"] and frames["settings"]["frames"] == 4
    assert frames["settings"]["threads"] == 1  # the child ran with one torch thread, as asked
    assert "(float32, torch threads: 1)" in (frames_run / "lmms_eval.log").read_text()
    assert "video_mode=frames" in " ".join(frames["command"]) and "frames=4" in " ".join(frames["command"])


def test_broken_video_is_a_reported_failure_not_a_fallback(tiny_model_dir, tmp_path):
    """Python API (fast path): a task with one good and one broken video, frames and codec mode."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from ov_vlm.evaluation.lmms_model import OVVLMEval

    data = tmp_path / "data"
    (data / "media").mkdir(parents=True)
    good = EVAL_ROOT / "tasks" / "ovvlm_local_video" / "data" / "media" / "qa-00000.mp4"
    shutil.copy(good, data / "media" / "good.mp4")
    (data / "media" / "broken.mp4").write_bytes(good.read_bytes()[:300])  # truncated: does not decode
    turns = [{"from": "human", "value": "<video>\nWhich way does the shape move?"}, {"from": "gpt", "value": "up"}]
    lines = [{"id": n, "video": f"media/{n}.mp4", "conversations": turns} for n in ("good", "broken")]
    (data / "test.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    write_task(tmp_path / "task", "broken_video_qa", data / "test.jsonl")
    manager = TaskManager(include_path=str(tmp_path / "task"), include_defaults=False)
    for mode in ("frames", "codec"):
        failures = tmp_path / f"failures-{mode}.jsonl"
        model = OVVLMEval(
            pretrained=str(tiny_model_dir),
            video_mode=mode,
            cache_dir=str(tmp_path / "cache"),
            failures_file=str(failures),
            max_new_tokens=4,
        )
        out = simple_evaluate(model=model, tasks=["broken_video_qa"], task_manager=manager, log_samples=True)
        samples = out["samples"]["broken_video_qa"]
        assert len(samples) == 2
        broken = next(s for s in samples if s["doc"]["id"] == "broken")
        assert broken["filtered_resps"] in ([""], "") and broken["exact_match"] == 0.0
        (record,) = [json.loads(line) for line in failures.read_text().splitlines()]
        assert record["task"] == "broken_video_qa" and "broken.mp4" in record["media"]
        assert "cannot open as a video" in record["reason"]
        assert len(model.failures) == 1
    # loglikelihood works on the same requests (a real score for the good video, -inf for the broken one)
    from lmms_eval.api.instance import Instance

    model = OVVLMEval(pretrained=str(tiny_model_dir), video_mode="frames")  # lmms-eval's clean() freed the last one
    model.task_dict = {"broken_video_qa": {"test": [lines[0], lines[1]]}}
    visual = lambda doc: [str(data / doc["video"])]  # noqa: E731
    requests = [
        Instance(
            "loglikelihood",
            ("Which way?", " up", visual, i, "broken_video_qa", "test"),
            i,
            {"task": "broken_video_qa", "doc_id": i, "repeats": 1},
        )
        for i in range(2)
    ]
    (good_score, _), (bad_score, greedy) = model.loglikelihood(requests)
    assert good_score < 0 and good_score > float("-inf") and bad_score == float("-inf") and greedy is False


def test_offline_hub_says_what_is_missing_instead_of_hanging(tiny_model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    started = time.perf_counter()
    assert main(["eval", "prefetch", "--suite", "paper16", "--tasks", "ai2d,videomme"]) == 2
    err = capsys.readouterr().err
    assert "unreachable" in err and "missing from the cache: videomme, ai2d" in err
    assert (
        main(
            [
                "eval",
                "--model",
                str(tiny_model_dir),
                "--suite",
                "paper16",
                "--tasks",
                "ai2d",
                "--output",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "cannot run ai2d" in err and "not in the local cache" in err and "ov-vlm eval prefetch" in err
    assert time.perf_counter() - started < 30
    assert main(["eval", "prefetch", "--suite", "paper16", "--check"]) == 0
    listing = capsys.readouterr().out
    assert "mmbench_en" in listing and "OPENAI_API_KEY" in listing and "HF token" in listing


def test_read_scores_reports_missing_metrics():
    suite = load_suite("local")
    raw = {
        "results": {"ovvlm_local_image": {"exact_match,none": 0.5}},
        "n-samples": {"ovvlm_local_image": {"effective": 16}},
    }
    scores, missing = read_scores(raw, suite)
    assert scores["local_image"]["value"] == 50.0 and scores["local_image"]["samples"] == 16
    assert "no results for lmms-eval task ovvlm_local_video" in missing["local_video"]


def test_group_without_aggregate_is_the_mean_of_its_subtasks():
    suite = load_suite("paper16").select(["mvbench"])
    raw = {
        "results": {
            "mvbench": {"alias": "mvbench"},
            "mvbench_a": {"mvbench_accuracy,none": 50.0},
            "mvbench_b": {"mvbench_accuracy,none": 60.0},
        },
        "group_subtasks": {"mvbench": ["mvbench_a", "mvbench_b"]},
        "n-samples": {"mvbench_a": {"effective": 200}, "mvbench_b": {"effective": 200}},
    }
    scores, missing = read_scores(raw, suite)
    assert not missing and scores["mvbench"]["value"] == 55.0 and scores["mvbench"]["samples"] == 400
