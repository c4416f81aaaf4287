"""One typed-config mechanism (`ov_vlm.utils.typed`) and the command-line flags generated from the dataclasses."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from ov_vlm.cli.fields import add_fields, field_values, flag_fields
from ov_vlm.codec.settings import CodecSettings
from ov_vlm.errors import ConfigError
from ov_vlm.utils.options import VideoMode
from ov_vlm.utils.typed import flag, from_dict


@dataclass(frozen=True)
class Inner:
    rate: float = 1.0
    sizes: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class Outer:
    name: str
    mode: VideoMode = "codec"
    inner: Inner = field(default_factory=Inner)
    limit: int | None = None


def test_from_dict_builds_nested_values_and_forgives_what_yaml_and_json_cannot_say():
    built = from_dict(Outer, {"name": "x", "inner": {"rate": "1e-5", "sizes": [2, 3]}, "limit": 4}, "f.yaml")
    assert built == Outer("x", "codec", Inner(1e-5, (2, 3)), 4)
    assert from_dict(Inner, {"rate": 2}, "f.yaml").rate == 2.0 and isinstance(
        from_dict(Inner, {"rate": 2}, "f").rate, float
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": "x", "colour": 1}, r"^f\.yaml: unknown key\(s\) \['colour'\]; known: inner, limit, mode, name$"),
        ({"name": "x", "inner": {"rat": 1}}, r"^f\.yaml: unknown key\(s\) \['inner\.rat'\]"),
        ({"mode": "codec"}, r"^f\.yaml: missing key\(s\) \['name'\]$"),
        ({"name": "x", "mode": "fast"}, r"^f\.yaml: mode: expected one of 'codec', 'frames', 'dense', got 'fast'$"),
        ({"name": "x", "limit": "many"}, r"^f\.yaml: limit: expected int \| None, got 'many'$"),
        ({"name": None}, r"^f\.yaml: name: a value is required$"),
        ({"name": "x", "inner": 3}, r"^f\.yaml: inner: expected Inner, got 3$"),
    ],
)
def test_from_dict_errors_are_one_line_naming_the_file_and_the_key(values, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(Outer, values, "f.yaml")


def test_fixed_values_come_from_the_loader_not_the_file():
    assert from_dict(Outer, {}, "f.yaml", fixed={"name": "from-file-name"}).name == "from-file-name"
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['name'\]"):
        from_dict(Outer, {"name": "x"}, "f.yaml", fixed={"name": "y"})


@dataclass
class Flags:
    model: str = field(metadata=flag("a model"))
    mode: VideoMode | None = field(default=None, metadata=flag("video mode"))
    attn_implementation: str = field(default="sdpa", metadata=flag("attention", flag="--attn"))
    quiet: bool = field(default=False, metadata=flag("no output"))
    count: int = field(default=2, metadata=flag("how many", type=lambda text: int(text.rstrip("x"))))
    internal: list = field(default_factory=list)


def test_flags_are_generated_from_the_fields():
    parser = argparse.ArgumentParser()
    add_fields(parser, Flags)
    args = parser.parse_args(["--model", "m", "--attn", "eager", "--quiet", "--count", "3x"])
    assert Flags(**field_values(args, Flags)) == Flags("m", None, "eager", True, 3)
    assert field_values(parser.parse_args(["--model", "m"]), Flags) == {
        "model": "m", "mode": None, "attn_implementation": "sdpa", "quiet": False, "count": 2,
    }  # fmt: skip
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "m", "--mode", "fast"])  # choices from the Literal
    with pytest.raises(SystemExit):
        parser.parse_args([])  # a field without a default is a required flag
    assert [f.name for f in flag_fields(Flags)] == ["model", "mode", "attn_implementation", "quiet", "count"]


def test_codec_flags_are_the_settings_with_their_defaults():
    parser = argparse.ArgumentParser()
    add_fields(parser, CodecSettings)
    flags = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert set(flags) == {f.name for f in flag_fields(CodecSettings)}
    assert "--no-static-fallback" in flags["static_fallback"].option_strings
    assert "--first-frame" in flags["first_frame"].option_strings and flags["block"].choices == (1, 2)
    assert CodecSettings(**field_values(parser.parse_args([]), CodecSettings)) == CodecSettings()
    parsed = parser.parse_args(["--budget", "12.5%", "--no-static-fallback", "--block", "2", "--profile", "robust"])
    settings = CodecSettings(**field_values(parsed, CodecSettings))
    assert (settings.budget, settings.static_fallback, settings.block, settings.profile) == (0.125, False, 2, "robust")


def test_eval_run_flags_are_the_request_fields(tmp_path):
    from ov_vlm.cli.main import build_parser
    from ov_vlm.evaluation.requests import EvalRequest
    from ov_vlm.evaluation.suite import load_suite

    parser = build_parser()
    args = parser.parse_args(["eval", "run", "--model", str(tmp_path), "--attn", "eager", "--video-mode", "frames"])
    values = field_values(args, EvalRequest)
    assert set(values) == {f.name for f in flag_fields(EvalRequest)} and "suite" not in values
    suite = load_suite("local")
    request = EvalRequest(suite=suite, **{**values, "output": tmp_path})
    defaults = EvalRequest(model=tmp_path, suite=suite, output=tmp_path)
    assert request == EvalRequest(**{**vars(defaults), "attn_implementation": "eager", "video_mode": "frames"})


def test_lmms_eval_model_args_are_typed_and_strict():
    pytest.importorskip("lmms_eval")
    from ov_vlm.evaluation.lmms_model import ModelArgs

    args = from_dict(ModelArgs, {"pretrained": "m", "batch_size": "4", "frames": 8, "budget": 0.125}, "model_args")
    assert (args.batch_size, args.frames, args.budget, args.video_mode) == (4, 8, 0.125, None)
    with pytest.raises(ConfigError, match=r"^model_args: unknown key\(s\) \['colour'\]"):
        from_dict(ModelArgs, {"pretrained": "m", "colour": 1}, "model_args")
    with pytest.raises(ConfigError, match="video_mode: expected one of 'codec', 'frames', 'dense' or None"):
        from_dict(ModelArgs, {"pretrained": "m", "video_mode": "fast"}, "model_args")
