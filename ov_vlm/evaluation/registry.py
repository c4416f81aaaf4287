"""The lmms-eval entry point: ``ov_vlm`` as a "simple" model, found by stock lmms-eval without a fork.

``pyproject.toml`` declares, under ``[project.entry-points."lmms_eval.models"]``,
``ov_vlm = "ov_vlm.evaluation.registry:manifests"``; lmms-eval calls `manifests` when it builds its registry.
"""

from __future__ import annotations

MODEL_ID = "ov_vlm"
CLASS_PATH = "ov_vlm.evaluation.lmms_model.OVVLMEval"


def manifests():
    """The model manifest(s) lmms-eval registers (``--model ov_vlm``, alias ``ov-vlm``)."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id=MODEL_ID, simple_class_path=CLASS_PATH, aliases=("ov-vlm",))]
