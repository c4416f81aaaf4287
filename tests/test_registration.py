"""``import ov_vlm`` is light, and the Auto-class registration works whatever the import order."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

TINY = "C(hidden_size=64, num_attention_heads=2, intermediate_size=64, num_hidden_layers=1)"


def python_result(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def run_python(code: str) -> str:
    result = python_result(code)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_importing_the_package_and_codec_does_not_import_torch():
    code = (
        "import sys, ov_vlm, ov_vlm.codec, ov_vlm.cli.main; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    assert run_python(code) == "[]"


PRELUDES = {  # import order -> the code that runs first
    "package-first": "import ov_vlm\nfrom transformers import AutoConfig, AutoModel",  # ov_vlm first (import hook)
    "auto-first": "from transformers import AutoConfig, AutoModel\nimport ov_vlm",  # transformers' Auto classes first
    "lazy-transformers-first": "import transformers\nimport ov_vlm\nfrom transformers import AutoModel, AutoConfig",
    "encoders-first": "import ov_vlm.encoders\nfrom transformers import AutoConfig, AutoModel",  # model packages first
    "model-package-first": "import ov_vlm.model\nfrom transformers import AutoConfig, AutoModel",
    # a layer below the model that imports transformers (registering imports it again through the encoders)
    "processing-first": "import ov_vlm.processing\nfrom transformers import AutoConfig, AutoModel",
    # transformers >= 5.24 loads the Auto configs half-way through modeling_utils: a model class, the Trainer or
    # PreTrainedModel imported right after ov_vlm must not see a half-imported module
    "model": "import ov_vlm\nfrom transformers import Qwen3ForCausalLM\nfrom transformers import AutoConfig, AutoModel",
    "trainer": "import ov_vlm\nfrom transformers import Trainer\nfrom transformers import AutoConfig, AutoModel",
    "base": "import ov_vlm\nfrom transformers import PreTrainedModel\nfrom transformers import AutoConfig, AutoModel",
}


def resolve_code(prelude: str) -> str:
    return f"""{prelude}
from ov_vlm.encoders import OneVisionEncoderConfig as C
config = AutoConfig.for_model("onevision_encoder", hidden_size=64, num_attention_heads=2, intermediate_size=64,
                              num_hidden_layers=1)
model = AutoModel.from_config({TINY})
print(type(config).__name__, type(model).__name__)
"""


@pytest.fixture(scope="module")
def resolved() -> dict[str, subprocess.CompletedProcess]:
    """Every import order in its own fresh interpreter, the interpreters run side by side on the cores."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        runs = {name: pool.submit(python_result, resolve_code(prelude)) for name, prelude in PRELUDES.items()}
        return {name: run.result() for name, run in runs.items()}


@pytest.mark.parametrize("order", list(PRELUDES))
def test_auto_classes_resolve_onevision_encoder_in_any_import_order(order, resolved):
    result = resolved[order]
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "OneVisionEncoderConfig OneVisionEncoderModel"
