"""Strict checkpoint loading for ov-vlm's transformers models: a mismatch raises and names the keys."""

from __future__ import annotations


def check_loading_info(info: dict, source: str, model_name: str, shown: int = 20, hint: str = "") -> None:
    """Raise a ValueError naming every missing, unexpected or mis-shaped key of a ``from_pretrained`` load."""

    def listing(keys: list[str]) -> str:
        keys = sorted(keys)
        more = f" ... and {len(keys) - shown} more" if len(keys) > shown else ""
        return ", ".join(keys[:shown]) + more

    problems = []
    if info.get("missing_keys"):
        problems.append(f"missing keys ({len(info['missing_keys'])}): {listing(list(info['missing_keys']))}")
    if info.get("unexpected_keys"):
        problems.append(f"unexpected keys ({len(info['unexpected_keys'])}): {listing(list(info['unexpected_keys']))}")
    if info.get("mismatched_keys"):
        items = [f"{k} {tuple(a)} vs {tuple(b)}" for k, a, b in info["mismatched_keys"]]
        problems.append(f"shape-mismatched keys ({len(items)}): {listing(items)}")
    if problems:
        raise ValueError(
            f"{model_name}: the checkpoint at {source} does not match the model: "
            + "; ".join(problems)
            + (f" ({hint})" if hint else "")
            + ". Pass strict=False to load anyway."
        )


class StrictLoadingMixin:
    """``from_pretrained(..., strict=True)``: a checkpoint whose keys differ from the model's raises.

    Pass ``strict=False`` for transformers' lenient behaviour (missing weights freshly initialised). Subclasses may
    override ``loading_hint(info)`` to add a one-line hint.
    """

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, strict: bool = True, **kwargs):
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(  # type: ignore[misc]
            pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
        )
        if strict:
            check_loading_info(
                info, source=str(pretrained_model_name_or_path), model_name=cls.__name__, hint=cls.loading_hint(info)
            )
        return (model, info) if want_info else model

    @classmethod
    def loading_hint(cls, info: dict) -> str:
        return ""
