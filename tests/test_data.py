"""Training data: data-check finds each planted defect, the bad-sample policy, sampling, recipes, freeze policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from vlm_helpers import tiny_vlm

from ov_vlm.cli.main import main
from ov_vlm.data import (
    DataError,
    ModalityLengthGroupedSampler,
    SupervisedDataset,
    generate_shapes,
    load_records,
    read_skip_log,
)
from ov_vlm.data.dataset import encoded_bytes
from ov_vlm.train.parts import apply_freeze_policy, parameter_groups, parameter_table
from ov_vlm.train.recipe import RecipeError, load_recipe


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return generate_shapes(tmp_path_factory.mktemp("data") / "clean", samples=12, task="qa", video_share=0.3, seed=4)


def planted(clean, tmp_path):
    """A copy of the clean data with one sample per defect, each with a known id."""
    folder = tmp_path / "planted"
    shutil.copytree(clean.parent, folder)
    records = load_records(folder / "train.jsonl")
    image = next(r for r in records if "image" in r)
    video = next(r for r in records if "video" in r)
    (folder / "media" / "broken.png").write_bytes(b"\x89PNG not really")
    bad = [
        {**image, "id": "missing-file", "image": "media/nope.png"},
        {
            **image,
            "id": "count-mismatch",
            "conversations": [{"from": "human", "value": "<image><image> two?"}, {"from": "gpt", "value": "one"}],
        },
        {**image, "id": "unreadable", "image": "media/broken.png"},
        {
            **image,
            "id": "overlong",
            "conversations": [{"from": "human", "value": "<image>\n" + "word " * 3000}, {"from": "gpt", "value": "ok"}],
        },
        {
            **video,
            "id": "empty-turn",
            "conversations": [{"from": "human", "value": "<video>\nWhat?"}, {"from": "gpt", "value": "  "}],
        },
    ]
    path = folder / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records + bad) + "\n")
    return path


def test_data_check_passes_a_clean_file(clean, capsys):
    assert main(["data-check", str(clean), "--preset", "tiny", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "12 samples, 12 ok, 0 bad" in out
    report = json.loads(clean.with_suffix(".jsonl.check.json").read_text())
    assert report["bad"] == 0 and report["max_tokens"] > 16


def test_data_check_finds_every_planted_defect(clean, tmp_path, capsys):
    path = planted(clean, tmp_path)
    report_path = tmp_path / "report.json"
    code = main(
        ["data-check", str(path), "--preset", "tiny", "--max-length", "512", "--report", str(report_path), "--quiet"]
    )
    out = capsys.readouterr().out
    assert code == 1
    reasons = {line.split()[1]: line for line in out.splitlines() if line.startswith("BAD ")}
    assert set(reasons) == {"missing-file", "count-mismatch", "unreadable", "overlong", "empty-turn"}
    assert "no such image file" in reasons["missing-file"]
    assert "2 <image> tags but 1 image(s)" in reasons["count-mismatch"]
    assert "not a readable image" in reasons["unreadable"]
    assert "longer than max_length 512" in reasons["overlong"]
    assert "is empty" in reasons["empty-turn"]
    assert "17 samples, 12 ok, 5 bad" in out
    report = json.loads(report_path.read_text())
    assert report["bad"] == 5 and {p["id"] for p in report["problems"]} == set(reasons)


def test_bad_samples_stop_training_or_are_skipped_and_logged(clean, tmp_path):
    _, processor = tiny_vlm()
    records = load_records(clean)
    records[3] = {**records[3], "id": "bad-one", "image": "media/gone.png", "video": None}
    strict = SupervisedDataset(records, processor, clean.parent, "error")
    with pytest.raises(DataError, match=r"sample bad-one: .*no such image file"):
        strict[3]
    log = tmp_path / "skipped.jsonl"
    lenient = SupervisedDataset(records, processor, clean.parent, "skip", skip_log=log)
    item = lenient[3]
    assert item.input_ids == lenient.encode(4).input_ids  # replaced by the next good sample
    lenient[3]
    assert [e["id"] for e in read_skip_log(log)] == ["bad-one"]  # logged once, with the reason
    assert "no such image file" in read_skip_log(log)[0]["reason"]


def test_memory_cache_decodes_each_sample_once_within_its_budget(clean, tmp_path):
    """Kept samples come back from memory (their media may even be gone); past the budget they are decoded again."""
    _, processor = tiny_vlm()
    folder = tmp_path / "copy"
    shutil.copytree(clean.parent, folder)
    records = load_records(folder / "train.jsonl")
    kept = SupervisedDataset(records, processor, folder, "error", memory_cache_mb=64)
    plain = SupervisedDataset(records, processor, folder, "error")
    first = [kept[i] for i in range(len(records))]
    assert 0 < kept.memory_used <= 64 * 2**20 and len(kept._kept) == len(records)
    for path in (folder / "media").iterdir():
        path.unlink()
    for i, item in enumerate(first):
        again = kept[i]
        assert again is item
    with pytest.raises(DataError, match="no such"):
        plain[0]
    off = SupervisedDataset(load_records(clean), processor, clean.parent, "error")
    off[0]
    assert off.memory_used == 0 and not off._kept
    budgeted = SupervisedDataset(load_records(clean), processor, clean.parent, "error", memory_cache_mb=1)
    budgeted.memory_budget = encoded_bytes(budgeted[0]) + encoded_bytes(budgeted[1])  # room for two samples
    for i in range(2, len(records)):
        budgeted[i]
    assert sorted(budgeted._kept) == [0, 1] and budgeted.memory_used == budgeted.memory_budget
    assert budgeted[5] is not budgeted[5]  # decoded each time it is asked for
    with pytest.raises(ValueError, match="memory_cache_mb"):
        SupervisedDataset(records, processor, folder, "error", memory_cache_mb=-1)


def test_samples_without_an_answer_are_bad_not_zero_loss(clean):
    _, processor = tiny_vlm()
    record = {
        "id": "q-only",
        "conversations": [{"from": "human", "value": "Just a question?"}],
    }
    dataset = SupervisedDataset([record], processor, clean.parent, "error")
    with pytest.raises(DataError, match="no supervised tokens"):
        dataset[0]


def test_modality_length_sampler_is_seeded_and_groups_modalities():
    modalities = ["image"] * 10 + ["video"] * 6
    lengths = list(range(16))
    first = list(ModalityLengthGroupedSampler(lengths, modalities, group_size=2, seed=3))
    again = list(ModalityLengthGroupedSampler(lengths, modalities, group_size=2, seed=3))
    other = list(ModalityLengthGroupedSampler(lengths, modalities, group_size=2, seed=4))
    assert first == again and first != other and sorted(first) == list(range(16))
    for start in range(0, 16, 2):
        assert len({modalities[i] for i in first[start : start + 2]}) == 1


def test_modality_sampler_makes_each_optimizer_step_one_modality_and_leaves_the_remainder_last():
    """group = per-device batch 1 x accumulation 2 x 2 processes: 11 text, 9 image and 10 video samples give 6
    single-modality steps in a seeded random order, then the 3 + 1 + 2 samples left over, mixed."""
    modalities = ["text"] * 11 + ["image"] * 9 + ["video"] * 10
    lengths = [(i * 7) % 13 for i in range(len(modalities))]
    sampler = ModalityLengthGroupedSampler(lengths, modalities, group_size=4, seed=0)
    order = list(sampler)
    assert sorted(order) == list(range(len(modalities)))
    steps = [order[k : k + 4] for k in range(0, 24, 4)]
    assert all(len({modalities[i] for i in step}) == 1 for step in steps)
    assert len({modalities[step[0]] for step in steps}) == 3
    assert sorted(modalities[i] for i in order[24:]) == ["image", "text", "text", "text", "video", "video"]
    sampler.set_epoch(1)
    assert list(sampler) != order and list(sampler) == list(sampler)


def test_recipes_are_typed_and_overridable(tmp_path):
    recipe, resolved = load_recipe(
        "recipes/tiny/stage2_sft.yaml",
        ["init_from=x", "train.learning_rate=2e-5", "output_dir=out", "train.report_to=[tensorboard]"],
    )
    assert recipe.model.init_from == "x" and recipe.train.learning_rate == 2e-5 and recipe.output_dir == "out"
    assert recipe.train.report_to == ["tensorboard"] and recipe.deepspeed.endswith("recipes/deepspeed/zero3.json")
    assert resolved["train"]["vision_tower_lr"] == 1e-4
    with pytest.raises(RecipeError, match=r"unknown recipe key\(s\) \['train.learning_rat'\]"):
        load_recipe("recipes/tiny/stage2_sft.yaml", ["train.learning_rat=1"])
    with pytest.raises(RecipeError, match="projector only"):
        load_recipe("recipes/tiny/stage1_align.yaml", ["train.trainable=[language_model]"])
    with pytest.raises(RecipeError, match=r"exactly one of model\.preset"):
        load_recipe("recipes/tiny/stage1_align.yaml", ["init_from=somewhere"])
    with pytest.raises(RecipeError, match="must look like key=value"):
        load_recipe("recipes/tiny/stage1_align.yaml", ["lonely"])


def test_file_overrides_resolve_like_the_recipe_and_a_bad_deepspeed_config_is_one_line(tmp_path, capsys):
    """``deepspeed`` is relative to the recipe's folder, in the file and on the command line alike; other paths are
    relative to the working directory. A missing or malformed config stops ``ov-vlm train`` before any launch."""
    recipe, resolved = load_recipe(
        "recipes/tiny/stage2_sft.yaml", ["deepspeed=../deepspeed/zero2.json", "data.train=data/x.jsonl"]
    )
    assert recipe.deepspeed == str((Path("recipes/deepspeed/zero2.json")).resolve()) == resolved["deepspeed"]
    assert recipe.data.train == "data/x.jsonl"  # used as given: relative to the working directory
    assert load_recipe("recipes/tiny/stage2_sft.yaml")[0].deepspeed.endswith("recipes/deepspeed/zero3.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"zero_optimization": {"stage": 2,}')
    cases = {
        "deepspeed=recipes/deepspeed/zero2.json": r"recipes/tiny/recipes/deepspeed/zero2\.json: no such file",
        f"deepspeed={broken}": r"broken\.json: not valid JSON",
    }
    for override, message in cases.items():
        with pytest.raises(RecipeError, match=message):
            load_recipe("recipes/tiny/stage2_sft.yaml", [override])
        assert main(["train", "recipes/tiny/stage2_sft.yaml", override, "--nproc", "2"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("ov-vlm train: deepspeed: ") and "Traceback" not in err


@pytest.mark.parametrize("path", sorted(str(p) for p in (Path(__file__).parents[1] / "recipes").rglob("*.yaml")))
def test_every_shipped_recipe_loads(path):
    overrides = []
    recipe, _ = load_recipe(path, overrides)
    assert recipe.deepspeed is None or recipe.deepspeed.endswith(".json")


def test_freeze_policy_and_learning_rate_groups():
    model, _ = tiny_vlm()
    apply_freeze_policy(model, ["projector"])
    trainable = {row.module.split(".")[0] for row in parameter_table(model) if row.trainable}
    assert trainable == {"multi_modal_projector"}
    apply_freeze_policy(model, ["vision_tower", "projector", "language_model"])
    decay = {n for n, p in model.named_parameters() if p.dim() > 1}
    groups = parameter_groups(model, decay, 1e-5, 0.1, {"vision_tower": 2e-6, "projector": None})
    by_name = {g["name"]: g for g in groups}
    assert by_name["vision_tower"]["lr"] == 2e-6 and by_name["default"]["lr"] == 1e-5
    assert by_name["vision_tower (no decay)"]["weight_decay"] == 0.0 and by_name["default"]["weight_decay"] == 0.1
    vision_params = {id(p) for n, p in model.named_parameters() if n.startswith("vision_tower.")}
    grouped = {id(p) for g in groups if g["name"].startswith("vision_tower") for p in g["params"]}
    assert grouped == vision_params
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)
    assert all(torch.is_tensor(p) for g in groups for p in g["params"])


def test_data_check_report_falls_back_to_the_working_directory(clean, tmp_path, monkeypatch, capsys):
    """A dataset in a read-only folder still gets its report (in the working directory), and the user is told."""
    from ov_vlm.data.check import CheckReport

    write = CheckReport.write

    def read_only_beside_data(self, path):
        if Path(path).parent == clean.parent:
            raise PermissionError(13, "Permission denied")
        write(self, path)

    monkeypatch.setattr(CheckReport, "write", read_only_beside_data)
    monkeypatch.chdir(tmp_path)
    assert main(["data-check", str(clean), "--preset", "tiny", "--quiet"]) == 0
    assert (tmp_path / (clean.name + ".check.json")).is_file()
    assert "Permission denied" in capsys.readouterr().err


def test_training_setup_steps_stop_with_one_line_problems(clean, tmp_path):
    """The steps before fitting: data, model + processor with the recipe's overrides, and their one-line problems."""
    from ov_vlm.errors import OVVLMError
    from ov_vlm.train.run import ProcessInfo, SetupError, freeze_for_stage, model_and_processor, prepare_data

    process = ProcessInfo(rank=0, world=1, out=tmp_path / "out")
    overrides = [
        f"data.train={clean}",
        "data.video_mode=frames",
        "data.max_length=900",
        "data.visual_spec={num_frames: 3}",
    ]
    recipe, _ = load_recipe("recipes/tiny/stage1_align.yaml", overrides)
    assert len(prepare_data(recipe, process)) == 12
    model, processor = model_and_processor(recipe, process)
    assert (processor.spec.video_mode, processor.spec.num_frames, processor.max_length) == ("frames", 3, 900)
    assert processor.codec_cache.root == tmp_path / "out" / "codec_cache"
    trainable = {n.split(".")[0] for n, p in freeze_for_stage(model, recipe).named_parameters() if p.requires_grad}
    assert trainable == {"multi_modal_projector"}
    assert issubclass(SetupError, OVVLMError)  # the CLI prints it as one line, like every error a user can fix
    missing = f"data.train={tmp_path / 'missing.jsonl'}"
    data_problems = {"data.generate={kind: mp4}": "unknown data.generate.kind 'mp4'", "data.generate=null": "missing"}
    for override, message in data_problems.items():
        with pytest.raises(SetupError, match=message):
            prepare_data(load_recipe("recipes/tiny/stage1_align.yaml", [missing, override])[0], process)
    model_problems = {
        "model.preset=nope": "cannot load the model: unknown preset 'nope'",
        "data.visual_spec={frame_sise: 3}": r"data.visual_spec: .*unknown visual setting\(s\) \[.frame_sise.\]",
    }
    for override, message in model_problems.items():
        with pytest.raises(SetupError, match=message):
            model_and_processor(load_recipe("recipes/tiny/stage1_align.yaml", [override])[0], process)
