"""Registration of ov-vlm's model classes with transformers' Auto classes, without importing torch up front.

``import ov_vlm`` must make ``AutoModel.from_pretrained(dir)`` work for our model types, yet the codec layer must
stay importable without torch and transformers (they cost seconds and hundreds of MB per process). So
registration runs when transformers' Auto modules are loaded: immediately if they already are, otherwise through
an import hook that fires right after ``transformers.models.auto.configuration_auto`` / ``modeling_auto`` finish
loading.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from collections.abc import Callable

CONFIG_AUTO = "transformers.models.auto.configuration_auto"
MODEL_AUTO = "transformers.models.auto.modeling_auto"
MODEL_PACKAGES = ("ov_vlm.encoders", "ov_vlm.encoders.onevision")


_wanted: set[str] = set()
_done: set[str] = set()
WATCHED = ("transformers.models.auto", "ov_vlm.encoders", "ov_vlm.model")


def _busy(finishing: str | None) -> bool:
    """True while transformers' Auto modules or our model modules are still being imported (other than
    ``finishing``, whose code has run): registering then would re-enter a half-imported module."""
    return any(
        name != finishing
        and name.startswith(WATCHED)
        and getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
    )


def request(kind: str, finishing: str | None = None) -> None:
    """Ask for ``"configs"`` or ``"models"`` registration; it runs as soon as no watched import is in progress."""
    _wanted.add(kind)
    flush(finishing)


def flush(finishing: str | None = None) -> None:
    """Run the requested registrations unless an import they depend on is still in progress; every watched module
    that finishes loading calls this again, so the last one to finish does the work."""
    if not _wanted - _done or _busy(finishing):
        return
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
    """Calls ``callbacks[name](name)`` once module ``name`` has been executed."""

    def __init__(self, callbacks: dict[str, Callable[[str], None]]):
        self.callbacks = dict(callbacks)

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, self.callbacks.pop(fullname))
                if not self.callbacks:
                    sys.meta_path.remove(self)
                return spec
        return None


def install() -> None:
    """Register now for the Auto modules already loaded; hook the others."""
    pending = {}
    for module, kind in ((CONFIG_AUTO, "configs"), (MODEL_AUTO, "models")):
        if module in sys.modules:
            request(kind)
        else:
            pending[module] = lambda finishing, kind=kind: request(kind, finishing)
    if pending and not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(pending))
