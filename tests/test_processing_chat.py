"""Prompt format and supervision: template == segments, label masks, LLaVA conversion, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from vlm_helpers import tiny_vlm

from ov_vlm.processing import IGNORE_INDEX, ConversationError, from_llava, render_segments
from ov_vlm.processing.tokenizer import qwen3_tokenizer, tiny_tokenizer

TWO_TURNS = [
    {"role": "user", "content": [{"type": "image", "image": "cat.png"}, {"type": "text", "text": "What animal?"}]},
    {"role": "assistant", "content": "A cat."},
    {"role": "user", "content": "Which colour?"},
    {"role": "assistant", "content": "Orange."},
]


@pytest.fixture(scope="module", params=["tiny", "qwen3"])
def tokenizer(request):
    return tiny_tokenizer() if request.param == "tiny" else qwen3_tokenizer()


@pytest.mark.parametrize("generation_prompt", [False, True])
@pytest.mark.parametrize(
    "messages",
    [TWO_TURNS, [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]],
    ids=["two-turns", "system"],
)
def test_saved_template_renders_exactly_like_the_segments(tokenizer, messages, generation_prompt):
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    assert rendered == "".join(s.text for s in render_segments(messages, generation_prompt))
    # and tokenizing segment by segment gives the same ids as tokenizing the whole prompt
    whole = tokenizer(rendered, add_special_tokens=False).input_ids
    pieces = [t for s in render_segments(messages, generation_prompt) for t in tokenizer(s.text).input_ids]
    assert pieces == whole


def test_two_turn_prompt_and_label_snapshot(tokenizer):
    from ov_vlm.processing import OVVLMProcessor, VisualSpec

    processor = OVVLMProcessor(tokenizer, VisualSpec(image_pinpoints=((56, 56),)))
    image = Image.fromarray(np.zeros((56, 56, 3), dtype=np.uint8))
    messages = [dict(m) for m in TWO_TURNS]
    messages[0] = {
        "role": "user",
        "content": [{"type": "image", "image": image}, {"type": "text", "text": "What animal?"}],
    }
    encoded = processor.encode(messages)
    assert processor.render(messages) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What animal?<|im_end|>\n"
        "<|im_start|>assistant\nA cat.<|im_end|>\n"
        "<|im_start|>user\nWhich colour?<|im_end|>\n"
        "<|im_start|>assistant\nOrange.<|im_end|>\n"
    )
    supervised = [t for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if label != IGNORE_INDEX]
    assert tokenizer.decode(supervised) == "A cat.<|im_end|>Orange.<|im_end|>"
    pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert encoded.input_ids.count(pad) == 16  # 4 x 4 patches on the 56 x 56 canvas
    assert all(label == IGNORE_INDEX for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if t == pad)
    header = tokenizer("<|im_start|>assistant\n").input_ids
    first = encoded.input_ids.index(header[0], encoded.input_ids.index(pad) + 16)
    assert encoded.labels[first : first + len(header)] == [IGNORE_INDEX] * len(header)


def test_llava_samples_become_messages(tmp_path):
    sample = {
        "id": "s1",
        "image": ["a.jpg", "b.jpg"],
        "conversations": [
            {"from": "human", "value": "<image>\nCompare with <image> please."},
            {"from": "gpt", "value": "Same."},
        ],
    }
    messages = from_llava(sample, media_root=tmp_path)
    parts = messages[0]["content"]
    assert [p["type"] for p in parts] == ["image", "text", "image", "text"]
    assert parts[0]["image"] == str(tmp_path / "a.jpg") and parts[2]["image"] == str(tmp_path / "b.jpg")
    assert messages[1] == {"role": "assistant", "content": [{"type": "text", "text": "Same."}]}

    untagged = from_llava(
        {
            "id": 2,
            "image": "x.png",
            "conversations": [{"from": "human", "value": "What?"}, {"from": "gpt", "value": "A."}],
        }
    )
    assert untagged[0]["content"][0] == {"type": "image", "image": "x.png"}  # LLaVA puts untagged media first

    video = from_llava(
        {
            "id": 3,
            "video": "v.mp4",
            "conversations": [{"from": "human", "value": "<video>\nWhat?"}, {"from": "gpt", "value": "B."}],
        }
    )
    assert video[0]["content"][0] == {"type": "video", "video": "v.mp4"}

    codec = from_llava(
        {
            "id": 4,
            "image": [f"m{i}.jpg" for i in range(8)],
            "positions_thw": "pos.npy",
            "conversations": [
                {"from": "human", "value": "<image>\n" * 8 + "What moves?"},
                {"from": "gpt", "value": "C."},
            ],
        }
    )
    codec_parts = codec[0]["content"]
    assert [p["type"] for p in codec_parts] == ["video", "text"]  # 8 mosaic tags = one codec video
    assert codec_parts[0]["video"] == {"mosaics": [f"m{i}.jpg" for i in range(8)], "positions": "pos.npy"}


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ({"id": "x", "conversations": []}, "no 'conversations'"),
        ({"id": "x", "conversations": [{"from": "robot", "value": "hi"}]}, "unknown speaker"),
        ({"id": "x", "image": [], "conversations": [{"from": "human", "value": "<image> hi"}]}, "more <image> tags"),
        (
            {"id": "x", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": ""}]},
            "empty assistant",
        ),
    ],
)
def test_malformed_llava_samples_name_the_sample(sample, message):
    with pytest.raises(ConversationError, match=message) as info:
        from_llava(sample)
    assert "sample x" in str(info.value)


def test_message_validation():
    from ov_vlm.processing import normalize_messages

    with pytest.raises(ConversationError, match="unknown role"):
        normalize_messages([{"role": "bot", "content": "x"}])
    with pytest.raises(ConversationError, match="belong in user messages"):
        normalize_messages([{"role": "assistant", "content": [{"type": "image", "image": "a.png"}]}])
    with pytest.raises(ConversationError, match="non-empty list"):
        normalize_messages([])
    with pytest.raises(ConversationError, match="message 0: content must be a string or a list of parts"):
        normalize_messages([{"role": "user", "content": 5}])
    with pytest.raises(ConversationError, match="message 1: a content part must be a string or an object"):
        normalize_messages([{"role": "user", "content": "hi"}, {"role": "assistant", "content": ["ok", None]}])


def test_processor_round_trip_through_disk(tmp_path):
    from ov_vlm.processing import OVVLMProcessor

    _, processor = tiny_vlm()
    processor.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "chat_template.jinja", "ov_vlm_processor.json"):
        assert (tmp_path / name).is_file(), name
    loaded = OVVLMProcessor.from_pretrained(tmp_path)
    assert loaded.spec == processor.spec
    messages = [{"role": "user", "content": "hello there"}]
    assert loaded.render(messages, True) == processor.render(messages, True)
    assert loaded.encode(messages).input_ids == processor.encode(messages).input_ids


def test_visuals_of_gives_the_visuals_encode_gives_in_order(tmp_path):
    _, processor = tiny_vlm()
    for name, size in (("wide.png", (80, 40)), ("tall.png", (40, 80))):
        Image.fromarray(np.full((size[1], size[0], 3), 90, dtype=np.uint8)).save(tmp_path / name)
    messages = [
        {"role": "user", "content": [{"type": "image", "image": str(tmp_path / "wide.png")}, "Left?"]},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": [{"type": "image", "image": str(tmp_path / "tall.png")}]},
    ]
    visuals, encoded = processor.visuals_of(messages), processor.encode(messages)
    assert len(visuals) == len(encoded.visuals) == 2
    for alone, with_text in zip(visuals, encoded.visuals, strict=True):
        assert alone.layout == with_text.layout and alone.pixel_values.equal(with_text.pixel_values)
    assert visuals[0].layout != visuals[1].layout  # in message order
    assert processor.visuals_of([{"role": "user", "content": "no media"}]) == []


def test_with_overrides_gives_a_changed_copy():
    _, processor = tiny_vlm()
    cache = object()
    changed = processor.with_overrides(
        visual_spec={"num_frames": 2, "video_mode": "dense"},
        video_mode="frames",
        budget=0.5,
        max_length=77,
        codec_cache=cache,
    )
    assert (changed.spec.video_mode, changed.spec.num_frames, changed.spec.codec["budget"]) == ("frames", 2, 0.5)
    assert {k: v for k, v in changed.spec.codec.items() if k != "budget"} == processor.spec.codec
    assert (changed.max_length, changed.codec_cache, changed.tokenizer) == (77, cache, processor.tokenizer)
    assert processor.spec.video_mode == "codec" and processor.codec_cache is None  # the original is unchanged
    same = processor.with_overrides()
    assert (same.spec, same.max_length) == (processor.spec, processor.max_length)
    with pytest.raises(ValueError, match="video_mode: expected one of"):
        processor.with_overrides(video_mode="nope")


def test_model_folders_with_the_earlier_processor_file_name_still_load(tmp_path):
    """Folders written before the rename have ``processor_config.json`` (transformers' name, another schema)."""
    from ov_vlm.evaluation.results import model_info
    from ov_vlm.model.inference import check_model_dir
    from ov_vlm.processing import OVVLMProcessor, VisualSpec

    model, processor = tiny_vlm()
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    (tmp_path / "ov_vlm_processor.json").rename(tmp_path / "processor_config.json")
    assert OVVLMProcessor.from_pretrained(tmp_path).spec == processor.spec
    check_model_dir(tmp_path)
    assert VisualSpec.from_dict(model_info(tmp_path)["visual_spec"]) == processor.spec
    (tmp_path / "processor_config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"no ov_vlm_processor\.json; not an ov-vlm model folder"):
        OVVLMProcessor.from_pretrained(tmp_path)
