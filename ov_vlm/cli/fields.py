"""Command-line flags generated from typed dataclasses, so that a setting is declared once (type, default, help).

A field becomes a flag when its metadata has a ``cli`` entry (`ov_vlm.utils.typed.flag`): ``--name-with-dashes``
(or ``flag``), the field's default, ``choices`` from a ``Literal`` annotation, the ``type`` from the annotation
(``int``, ``float``, ``str``, ``Path``, optionally ``| None``), ``required`` when the field has no default, and the
help text; anything else in ``cli`` is passed to ``add_argument`` as it is.

Why not ``transformers.HfArgumentParser``: it imports transformers (and torch), and building any ``ov-vlm`` parser
must import neither (``--help`` stays fast; ``ov-vlm codec`` runs on nodes without transformers). The dataclasses
are small and flat, so this is ~50 lines on `dataclasses.fields` and the type hints.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, get_type_hints

from ov_vlm.utils.typed import literal_choices, options

SIMPLE = (int, float, str, Path)


def flag_fields(cls) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are command-line flags."""
    return [f for f in dataclasses.fields(cls) if "cli" in f.metadata]


def argument_type(convert):
    """``convert`` with its ``ValueError`` shown by argparse as a usage error (one line, exit 2)."""

    def parse(text: str):
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def _argument(field: dataclasses.Field, hint: Any) -> dict[str, Any]:
    cli = dict(field.metadata["cli"])
    kwargs: dict[str, Any] = {"dest": field.name, "help": field.metadata.get("help")}
    if field.default is not dataclasses.MISSING:
        kwargs["default"] = field.default
    elif field.default_factory is not dataclasses.MISSING:
        kwargs["default"] = field.default_factory()
    else:
        kwargs["required"] = True
    if "action" not in cli:
        choices = literal_choices(hint)
        simple = [o for o in options(hint) if o in SIMPLE or o is bool]
        if choices is not None:
            kwargs.update(choices=choices, type=type(choices[0]))
        elif simple == [bool] and kwargs.get("default") is False:
            kwargs["action"] = "store_true"
        elif len(simple) == 1 and "type" not in cli:
            kwargs["type"] = simple[0]
        elif "type" not in cli:
            raise TypeError(f"{field.name}: give the flag a 'type' (annotation {hint} has no single parser)")
    kwargs.update({k: v for k, v in cli.items() if k != "flag"})
    if "type" in kwargs and kwargs["type"] not in SIMPLE:
        kwargs["type"] = argument_type(kwargs["type"])
    return kwargs


def add_fields(parser, cls, skip: tuple[str, ...] = ()) -> None:
    """Add one flag per flag field of dataclass ``cls`` (except ``skip``) to ``parser``, in field order."""
    hints = get_type_hints(cls)
    for field in flag_fields(cls):
        if field.name not in skip:
            name = field.metadata["cli"].get("flag") or "--" + field.name.replace("_", "-")
            parser.add_argument(name, **_argument(field, hints[field.name]))


def field_values(args: argparse.Namespace, cls, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of ``cls``'s flag fields in parsed ``args``, by field name (for ``cls(**values, ...)``)."""
    return {f.name: getattr(args, f.name) for f in flag_fields(cls) if f.name not in skip}
