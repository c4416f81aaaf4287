"""The JSONL policy: blank lines skipped; given files strict with file:line errors; our own logs skip torn lines."""

from __future__ import annotations

import pytest

from ov_vlm.utils.jsonl import JSONLError, iter_jsonl, read_jsonl


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"a": 1}\n\n   \n[2]\n')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, [2])]


def test_a_bad_line_names_file_and_line_unless_the_file_is_a_log(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, "lo\n{"step": 3}\n')
    with pytest.raises(JSONLError, match=r"log\.jsonl:2: not JSON \(") as info:
        read_jsonl(path)
    assert "\n" not in str(info.value)
    assert read_jsonl(path, skip_bad=True) == [{"step": 1}, {"step": 3}]


def test_a_missing_file_is_an_error_unless_allowed(tmp_path):
    assert read_jsonl(tmp_path / "none.jsonl", missing_ok=True) == []
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "none.jsonl")
