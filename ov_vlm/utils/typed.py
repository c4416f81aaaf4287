"""One typed-config mechanism: dataclasses built strictly from dicts (YAML and JSON files, overrides).

`from_dict` is the loader every config goes through (suites, recipes, presets, codec settings, visual specs):
unknown keys and missing required keys raise one line naming the file (``where``) and the key; nested dataclasses
are built from nested mappings; every value is checked against its annotation with ``huggingface_hub``'s strict
type validator (the one behind ``@strict``, used for the model configs: ``Literal``, unions, ``list[...]``,
``tuple[...]``). ``@strict`` itself is not applied: it validates in ``__setattr__``, which frozen dataclasses skip,
and it ignores string annotations (``from __future__ import annotations``); here the hints are resolved first.

Files are forgiving in the ways YAML and JSON need: YAML 1.1 reads ``1e-5`` as a string and JSON has no tuples, so
numeric strings become numbers where a number is expected, ints become floats and lists become tuples.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from huggingface_hub.dataclasses import type_validator

from ov_vlm.errors import ConfigError


def flag(help: str | None, **argparse: Any) -> dict[str, Any]:
    """Field metadata that makes a field a command-line flag: its help and any ``add_argument`` overrides (``flag``
    for another name, ``type``, ``action``, ...); `ov_vlm.cli.fields` turns such fields into flags."""
    return {"help": help, "cli": argparse}


def options(hint: Any) -> tuple:
    """The alternatives of an annotation (``int | None`` -> (int, NoneType); ``list[str]`` -> (list[str],))."""
    return get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)


def literal_choices(hint: Any) -> tuple | None:
    """The values of a ``Literal`` annotation (also inside ``X | None``), else None."""
    for option in options(hint):
        if get_origin(option) is Literal:
            return get_args(option)
    return None


def check_keys(
    values: dict[str, Any], known: set[str] | list[str], where: str, noun: str = "key", error=ConfigError
) -> None:
    """Raise ``error`` naming ``where`` and the keys of ``values`` that are not ``known``."""
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise error(f"{where}: unknown {noun}(s) {unknown}; known: {', '.join(sorted(known))}")


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` in the shape ``hint`` asks for, where a file cannot say it (numbers in strings, tuples)."""
    choices = options(hint)
    if isinstance(value, str) and str not in choices:
        for number in (int, float):
            if number in choices:
                try:
                    return number(value)
                except ValueError:
                    continue
    if float in choices and int not in choices and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    for option in choices:
        if get_origin(option) is tuple and isinstance(value, list | tuple):
            inner = get_args(option)
            if len(inner) == 2 and inner[1] is Ellipsis:
                return tuple(_coerce(v, inner[0]) for v in value)
            if len(inner) == len(value):
                return tuple(_coerce(v, h) for v, h in zip(value, inner, strict=True))
    return value


def _value(hint: Any, value: Any, key: str, where: str, noun: str, error) -> Any:
    if value is None and type(None) not in options(hint):
        raise error(f"{where}: {key}: a value is required")
    nested = next((o for o in options(hint) if dataclasses.is_dataclass(o)), None)
    if nested is not None and isinstance(value, dict):
        return from_dict(nested, value, where, noun, error, prefix=f"{key}.")
    value = _coerce(value, hint)
    try:
        type_validator(key, value, hint)
    except TypeError:
        raise error(f"{where}: {key}: expected {_describe(hint)}, got {value!r}") from None
    return value


def _describe(hint: Any) -> str:
    choices = literal_choices(hint)
    if choices is not None:
        return "one of " + ", ".join(map(repr, choices)) + (" or None" if type(None) in options(hint) else "")
    names = [
        "None" if o is type(None) else str(o) if get_args(o) else getattr(o, "__name__", str(o)) for o in options(hint)
    ]
    return " | ".join(names)


def from_dict(
    cls,
    values: Any,
    where: str,
    noun: str = "key",
    error=ConfigError,
    prefix: str = "",
    fixed: dict[str, Any] | None = None,
):
    """An instance of dataclass ``cls`` from ``values``, strictly (see the module docstring).

    ``where`` names the source (a file) in messages; ``noun`` what a key is (``"codec setting"``); ``error`` the
    exception raised (a `ConfigError` subclass); ``prefix`` the dotted path of a nested section; ``fixed`` values
    the loader sets itself (e.g. a preset's ``name`` from its file name), which the file must not contain.
    """
    if not isinstance(values, dict):
        raise error(f"{where}: {prefix.rstrip('.') or 'the file'}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}
    fixed = fixed or {}
    known = [prefix + k for k in fields if k not in fixed]
    check_keys({f"{prefix}{k}": v for k, v in values.items()}, known, where, noun, error)
    required = [k for k, f in fields.items() if k not in values and k not in fixed and _required(f)]
    if required:
        raise error(f"{where}: missing {noun}(s) {[prefix + k for k in required]}")
    hints = get_type_hints(cls)
    kwargs = {k: _value(hints[k], v, prefix + k, where, noun, error) for k, v in values.items()}
    return cls(**kwargs, **fixed)


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
