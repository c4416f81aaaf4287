"""``ov-vlm build-model``, ``ov-vlm chat`` and ``ov-vlm infer`` end to end on a tiny random model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from media import moving_object_clip
from PIL import Image

from ov_vlm.cli import chat as chat_command
from ov_vlm.cli.main import main


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).parent / "ov-vlm"
    return subprocess.run([str(executable), *args], input=stdin, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat")
    assert main(["build-model", "--preset", "tiny", "--random-init", "--out", str(root / "model")]) == 0
    moving_object_clip(root / "clip.mp4", count=24)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 80, 3), dtype=np.uint8)).save(root / "img.png")
    return root


def test_one_prompt_answers_and_shows_the_template(world):
    result = cli(
        "chat",
        "--model",
        str(world / "model"),
        "--video",
        str(world / "clip.mp4"),
        "--prompt",
        "What moves?",
        "--max-new-tokens",
        "6",
        "--show-template",
    )
    assert result.returncode == 0, result.stderr
    assert "--- prompt" in result.stdout and "--- answer ---" in result.stdout
    assert "<|video_pad x128|>" in result.stdout  # 8 codec mosaics x 16 cells, the exact visual token count
    assert "<|im_start|>assistant" in result.stdout and "Traceback" not in result.stderr


def test_repl_commands_and_multi_turn(world):
    script = (
        f"/image {world / 'img.png'}\nDescribe it.\n/video {world / 'clip.mp4'}\nAnd this?\n"
        "/reset\n/bogus\nhello\n/exit\n"
    )
    result = cli("chat", "--model", str(world / "model"), "--max-new-tokens", "4", "--frames", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(image attached" in out and "(video attached" in out and "(conversation cleared)" in out
    assert "unknown command /bogus" in out and out.count("model> ") == 3


def test_tokens_are_streamed_while_generating(world, monkeypatch):
    from ov_vlm.model.inference import load_for_inference

    loaded = load_for_inference(world / "model")
    calls = []
    original = chat_command.make_streamer

    def counting_streamer(tokenizer, out):
        streamer = original(tokenizer, out)
        put = streamer.put
        streamer.put = lambda value: (calls.append(value.numel()), put(value))[1]
        return streamer

    monkeypatch.setattr(chat_command, "make_streamer", counting_streamer)
    session = chat_command.ChatSession(
        loaded, None, None, {"max_new_tokens": 5, "min_new_tokens": 5, "do_sample": False}
    )
    session.attach_image(world / "img.png")
    session.ask("What is it?")
    assert len(calls) == 1 + 5  # the prompt, then one call per generated token
    assert session.history[-1]["role"] == "assistant" and len(session.history) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "{root}/missing"], "no such model folder"),
        (["--model", "{root}"], "no config.json"),
        (["--model", "{root}/model", "--video", "{root}/nope.mp4"], "no such video"),
        (["--model", "{root}/model", "--image", "{root}/clip.mp4"], "not a readable image"),
    ],
)
def test_bad_model_or_media_is_one_line(world, capsys, args, message):
    code = main(["chat", *[a.format(root=world) for a in args], "--prompt", "hi", "--max-new-tokens", "2"])
    err = capsys.readouterr().err  # (a weight-loading progress bar may come first)
    assert code == 2 and message in err.strip().splitlines()[-1] and "Traceback" not in err


def test_weightless_model_folder_is_rejected(world, tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert main(["chat", "--model", str(tmp_path), "--prompt", "hi"]) == 2
    assert "no weights" in capsys.readouterr().err


def test_infer_answers_a_jsonl_batch_and_resumes(world, tmp_path, capsys):
    requests = [
        {"id": "a", "prompt": "What is it?", "image": "img.png"},
        {
            "id": "b",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "video", "video": "clip.mp4"}, {"type": "text", "text": "What moves?"}],
                }
            ],
        },
        {
            "id": "c",
            "conversations": [{"from": "human", "value": "<image>\nColour?"}, {"from": "gpt", "value": "Red."}],
            "image": "img.png",
        },
        {"id": "d", "prompt": "And this?", "video": "missing.mp4"},
        {"id": "e", "prompt": "text only"},
        {"id": "f", "messages": [{"role": "user", "content": [{"type": "image", "image": "img.png"}, "Colour?"]}]},
        {"id": "g", "messages": [{"role": "user", "content": [7]}]},
        {"id": "h", "prompt": ["not", "a", "string"]},
        {"id": "i", "prompt": "Which?", "image": 3},
        {"id": "j", "prompt": "Which?", "video": {"frames": 8}},
    ]
    source = world / "requests.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in requests) + "\nnot json\n[1, 2]\n")
    output = tmp_path / "answers.jsonl"
    args = [
        "infer",
        "--model",
        str(world / "model"),
        "--input",
        str(source),
        "--output",
        str(output),
        "--batch-size",
        "3",
        "--max-new-tokens",
        "4",
        "--quiet",
    ]
    assert main(args) == 1  # some requests failed; the others are answered
    records = {r["id"]: r for r in map(json.loads, output.read_text().splitlines())}
    assert set(records) == {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "line-11", "line-12"}
    assert {k for k, r in records.items() if "answer" in r} == {"a", "b", "c", "e", "f"}  # f: a bare-string part
    assert "no such file" in records["d"]["error"] and "not JSON" in records["line-11"]["error"]
    assert "content part must be a string or an object" in records["g"]["error"]
    assert all("'prompt' must be a string" in records[k]["error"] for k in ("h", "i", "j"))
    assert "a request must be a JSON object, not list" in records["line-12"]["error"]
    assert records["c"]["reference"] == "Red."
    assert "5 answered, 7 failed" in capsys.readouterr().out
    assert main(args) == 1  # answered ids are skipped, the failures are retried and listed again
    assert "0 answered, 7 failed, 5 already answered" in capsys.readouterr().out
