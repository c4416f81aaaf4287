"""``import ov_vlm`` is light, and the Auto-class registration works whatever the import order."""

from __future__ import annotations

import subprocess
import sys

import pytest

TINY = "C(hidden_size=64, num_attention_heads=2, intermediate_size=64, num_hidden_layers=1)"


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_importing_the_package_and_codec_does_not_import_torch():
    code = (
        "import sys, ov_vlm, ov_vlm.codec, ov_vlm.cli.main; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    assert run_python(code) == "[]"


@pytest.mark.parametrize(
    "prelude",
    [
        "import ov_vlm\nfrom transformers import AutoConfig, AutoModel",  # ov_vlm first (import hook)
        "from transformers import AutoConfig, AutoModel\nimport ov_vlm",  # transformers' Auto classes first
        "import transformers\nimport ov_vlm\nfrom transformers import AutoModel, AutoConfig",
        "import ov_vlm.encoders\nfrom transformers import AutoConfig, AutoModel",  # the model packages first
        "import ov_vlm.model\nfrom transformers import AutoConfig, AutoModel",
        # a layer below the model that imports transformers (registering imports it again through the encoders)
        "import ov_vlm.processing\nfrom transformers import AutoConfig, AutoModel",
        # transformers >= 5.24 loads the Auto configs half-way through modeling_utils: a model class, the Trainer
        # or PreTrainedModel imported right after ov_vlm must not see a half-imported module
        "import ov_vlm\nfrom transformers import Qwen3ForCausalLM\nfrom transformers import AutoConfig, AutoModel",
        "import ov_vlm\nfrom transformers import Trainer\nfrom transformers import AutoConfig, AutoModel",
        "import ov_vlm\nfrom transformers import PreTrainedModel\nfrom transformers import AutoConfig, AutoModel",
    ],
    ids=[
        "package-first",
        "auto-first",
        "lazy-transformers-first",
        "encoders-first",
        "model-package-first",
        "processing-first",
        "model",
        "trainer",
        "base",
    ],
)
def test_auto_classes_resolve_onevision_encoder_in_any_import_order(prelude):
    code = f"""{prelude}
from ov_vlm.encoders import OneVisionEncoderConfig as C
config = AutoConfig.for_model("onevision_encoder", hidden_size=64, num_attention_heads=2, intermediate_size=64,
                              num_hidden_layers=1)
model = AutoModel.from_config({TINY})
print(type(config).__name__, type(model).__name__)
"""
    assert run_python(code).splitlines()[-1] == "OneVisionEncoderConfig OneVisionEncoderModel"
