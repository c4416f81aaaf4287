"""The error family of ov-vlm: every error a user can cause and fix derives from `OVVLMError`.

Torch-free and below every layer (codec, processing, model, ...), so each layer's errors can derive from it. The
CLI (`ov_vlm.cli.main`) prints any `OVVLMError` as one line, ``ov-vlm COMMAND: message``, and exits with 2.
"""

from __future__ import annotations


class OVVLMError(Exception):
    """Base of ov-vlm's errors: a one-line message that says what is wrong and where."""


class ConfigError(OVVLMError, ValueError):
    """A configuration file or value is invalid (names the file or source and the key)."""


class UsageError(OVVLMError, ValueError):
    """A command was called with arguments that do not fit together."""


def one_line(error: BaseException) -> str:
    """An error's message on a single line (its type name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__
