"""One error family: every user-facing error derives from `OVVLMError`; `ov-vlm` prints it as one line, exit 2."""

from __future__ import annotations

import argparse

import pytest

from ov_vlm.cli import main as cli_main
from ov_vlm.codec import CodecError
from ov_vlm.data.records import DataError
from ov_vlm.errors import ConfigError, OVVLMError, UsageError, one_line
from ov_vlm.evaluation.runner import EvalError
from ov_vlm.evaluation.suite import SuiteError
from ov_vlm.model.inference import ModelLoadError
from ov_vlm.processing import ConversationError, ImageLoadError, MediaError
from ov_vlm.train.recipe import RecipeError
from ov_vlm.utils.jsonl import JSONLError

ERRORS = (CodecError, DataError, EvalError, SuiteError, ModelLoadError, ConversationError, ImageLoadError)
ERRORS += (MediaError, RecipeError, ConfigError, UsageError, JSONLError)


@pytest.mark.parametrize("kind", ERRORS)
def test_every_error_class_is_an_ovvlm_error(kind):
    assert issubclass(kind, OVVLMError)


def test_one_line_flattens_messages():
    assert one_line(ValueError("a\n  b\tc ")) == "a b c"
    assert one_line(KeyError()) == "KeyError"


def _parser_with(run, **defaults):
    def build():
        parser = argparse.ArgumentParser(prog="ov-vlm")
        parser.set_defaults(command="x", run=run, **defaults)
        return parser

    return build


def test_the_cli_handler_prints_one_line_and_returns_2(monkeypatch, capsys):
    def fails(args):
        raise ConfigError("recipe.yaml: unknown key\n'x'")

    monkeypatch.setattr(cli_main, "build_parser", _parser_with(fails))
    assert cli_main.main([]) == 2
    assert capsys.readouterr().err == "ov-vlm x: recipe.yaml: unknown key 'x'\n"


def test_builtin_errors_are_handled_only_where_a_command_lists_them(monkeypatch, capsys):
    def fails(args):
        raise OSError("no network")

    monkeypatch.setattr(cli_main, "build_parser", _parser_with(fails, user_errors=(OSError,)))
    assert cli_main.main([]) == 2 and "ov-vlm x: no network" in capsys.readouterr().err
    monkeypatch.setattr(cli_main, "build_parser", _parser_with(fails))
    with pytest.raises(OSError):
        cli_main.main([])
