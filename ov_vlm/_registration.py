"""Registration of ov-vlm's model classes with transformers' Auto classes, without importing torch up front.

``import ov_vlm`` must make ``AutoModel.from_pretrained(dir)`` work for our model types, yet the codec layer must
stay importable without torch and transformers (they cost seconds and hundreds of MB per process). So
registration runs when transformers' Auto modules are loaded: immediately if they already are, otherwise through
an import hook: ``configuration_auto`` / ``modeling_auto`` ask for it when they finish loading, and it runs when a
transformers or ov-vlm module finishes loading and none is half-imported any more (registering imports our model
code, which imports transformers' model modules and every ov-vlm layer below the model).
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from collections.abc import Callable

CONFIG_AUTO = "transformers.models.auto.configuration_auto"
MODEL_AUTO = "transformers.models.auto.modeling_auto"

_wanted: set[str] = set()
_done: set[str] = set()
_running = False


def _watched(name: str) -> bool:
    """transformers and its modules, and ov-vlm's modules (not the ``ov_vlm`` package itself, which installs the
    hook). transformers >= 5.24 loads the Auto configs in the middle of ``modeling_utils``."""
    return name == "transformers" or name.startswith(("transformers.", "ov_vlm."))


def _busy(finishing: str | None) -> bool:
    """True while a watched module other than ``finishing`` (whose code has run) is still being imported:
    registering then would re-enter a half-imported module."""
    return any(
        name != finishing and _watched(name) and getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
    )


def request(kind: str, finishing: str | None = None) -> None:
    """Ask for ``"configs"`` or ``"models"`` registration; it runs as soon as no watched import is in progress."""
    _wanted.add(kind)
    flush(finishing)


def flush(finishing: str | None = None) -> None:
    """Run the requested registrations unless an import they depend on is still in progress; every watched module
    that finishes loading calls this again, so the last one to finish does the work."""
    global _running
    if _running or not _wanted - _done or _busy(finishing):
        return
    _running = True
    try:
        _register()
    finally:
        _running = False


def _register() -> None:
    from transformers import AutoConfig

    from ov_vlm.encoders.onevision.configuration_onevision_encoder import OneVisionEncoderConfig

    AutoConfig.register(OneVisionEncoderConfig.model_type, OneVisionEncoderConfig, exist_ok=True)
    from ov_vlm.model.configuration_ov_vlm import OVVLMConfig

    AutoConfig.register(OVVLMConfig.model_type, OVVLMConfig, exist_ok=True)
    _done.add("configs")
    if "models" in _wanted:
        from transformers import AutoModel, AutoModelForImageTextToText

        from ov_vlm.encoders.onevision.modeling_onevision_encoder import OneVisionEncoderModel
        from ov_vlm.model.modeling_ov_vlm import OVVLMForConditionalGeneration

        AutoModel.register(OneVisionEncoderConfig, OneVisionEncoderModel, exist_ok=True)
        AutoModelForImageTextToText.register(OVVLMConfig, OVVLMForConditionalGeneration, exist_ok=True)
        _done.add("models")


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then a callback; everything else is delegated."""

    def __init__(self, inner, callback: Callable[[str], None]):
        self._inner = inner
        self._callback = callback

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module) -> None:
        self._inner.exec_module(module)
        self._callback(module.__name__)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``callback(name)`` each time a watched module ``name`` has been executed, until registration is
    complete."""

    def __init__(self, callback: Callable[[str], None]):
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if _done >= {"configs", "models"}:
            sys.meta_path.remove(self)
            return None
        if not _watched(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, self.callback)
                return spec
        return None


def _loaded(name: str) -> None:
    """A watched module finished loading: the Auto modules ask for registration, any module may complete it."""
    kind = {CONFIG_AUTO: "configs", MODEL_AUTO: "models"}.get(name)
    if kind:
        request(kind, finishing=name)
    else:
        flush(finishing=name)


def install() -> None:
    """Register now for the Auto modules already loaded; watch transformers' imports for the rest."""
    for module, kind in ((CONFIG_AUTO, "configs"), (MODEL_AUTO, "models")):
        if module in sys.modules:
            request(kind)
    if _done < {"configs", "models"} and not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(_loaded))
