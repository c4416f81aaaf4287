"""Training recipes: typed YAML files plus ``key=value`` overrides from the command line, loaded strictly
(`ov_vlm.utils.typed.from_dict`: unknown keys raise, values are checked against the annotations).

Relative paths mean the same in a recipe file and in an override: ``deepspeed`` is relative to the recipe's folder
(the configs live in ``recipes/deepspeed/``, so ``deepspeed=../deepspeed/zero2.json`` works from any recipe
folder); every other path (``output_dir``, ``model.init_from``, ``data.train``, ``data.media_root``,
``data.codec_cache``, ``resume_from_checkpoint``) is relative to the working directory. The DeepSpeed config is
checked when the recipe loads (it must exist and be a JSON object). Overrides use dotted keys
(``train.learning_rate=2e-5``); ``output_dir=``, ``init_from=`` and ``deepspeed=`` are accepted as shortcuts. Values
are parsed as YAML (numbers, booleans, lists).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml

from ov_vlm.errors import ConfigError, one_line
from ov_vlm.utils.options import OnBadSample, Part, Stage, VideoMode
from ov_vlm.utils.typed import from_dict

STAGES = get_args(Stage)
PARTS = get_args(Part)
SHORTCUTS = {"output_dir": "output_dir", "init_from": "model.init_from", "deepspeed": "deepspeed"}


class RecipeError(ConfigError):
    """A recipe or an override is invalid (names the key)."""


@dataclass
class ModelSection:
    preset: str | None = None  # build a random-init model from this preset (tiny runs) ...
    init_from: str | None = None  # ... or start from this model folder (build-model output, previous stage)
    projector: str | None = None  # override the preset's projector (random init only)
    attn_implementation: str = "sdpa"


@dataclass
class GenerateSection:
    kind: str = "shapes"
    samples: int = 64
    task: str = "qa"
    video_share: float = 0.25
    seed: int = 0


@dataclass
class DataSection:
    train: str | None = None  # LLaVA .json / .jsonl
    media_root: str | None = None  # default: the data file's folder
    generate: GenerateSection | None = None  # write synthetic data to `train` first if it does not exist
    video_mode: VideoMode | None = None  # default: the model's
    visual_spec: dict[str, Any] = field(default_factory=dict)  # other processor settings (e.g. image_pinpoints)
    codec_cache: str | None = None  # default: <output_dir>/codec_cache
    on_bad_sample: OnBadSample = "error"
    max_length: int | None = None  # default: the model's model_max_length
    group_by_modality_length: bool = False
    shuffle: bool = True  # false: the file's order (e.g. pre-shuffled or curriculum data)
    num_workers: int = 0
    memory_cache_mb: int = 0  # keep encoded samples in memory up to this size (several passes over a small set)


@dataclass
class TrainSection:
    trainable: list[str] = field(default_factory=lambda: ["projector"])
    learning_rate: float = 1e-3
    vision_tower_lr: float | None = None
    projector_lr: float | None = None
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    epochs: float = 1.0
    max_steps: int = -1
    per_device_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    frozen_tower_cache_mb: int = 0  # > 0: a frozen tower's features computed once per visual, up to this size
    bf16: bool | str = "auto"  # auto: on CUDA with bf16 support
    max_grad_norm: float = 1.0
    seed: int = 42
    save_steps: int = 500
    save_total_limit: int | None = 2
    logging_steps: int = 1
    report_to: list[str] = field(default_factory=list)  # tensorboard, wandb


@dataclass
class LoraSection:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    train_projector: bool = True


@dataclass
class Recipe:
    stage: Stage = "sft"
    description: str = ""
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    lora: LoraSection | None = None
    deepspeed: str | None = None
    output_dir: str = "runs/run"
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "auto" (the latest in output_dir)

    def validate(self) -> None:
        if self.stage not in STAGES:
            raise RecipeError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if (self.model.preset is None) == (self.model.init_from is None):
            raise RecipeError("set exactly one of model.preset (random init) and model.init_from (a model folder)")
        unknown = sorted(set(self.train.trainable) - set(PARTS))
        if unknown:
            raise RecipeError(f"train.trainable: unknown part(s) {unknown}; parts: {', '.join(PARTS)}")
        if self.stage == "align" and self.train.trainable != ["projector"]:
            raise RecipeError("stage align trains the projector only (train.trainable: [projector])")
        if self.stage == "lora" and self.lora is None:
            self.lora = LoraSection()
        if self.data.on_bad_sample not in ("error", "skip"):
            raise RecipeError(f"data.on_bad_sample must be error or skip, got {self.data.on_bad_sample!r}")
        if self.data.group_by_modality_length and not self.data.shuffle:
            raise RecipeError("data.group_by_modality_length reorders the samples; it needs data.shuffle: true")
        if self.data.train is None:
            raise RecipeError("data.train is required (a LLaVA .json/.jsonl file)")
        self._check_frozen_tower_cache()

    def _check_frozen_tower_cache(self) -> None:
        if self.train.frozen_tower_cache_mb < 0:
            raise RecipeError(f"train.frozen_tower_cache_mb must be >= 0, got {self.train.frozen_tower_cache_mb}")
        if self.train.frozen_tower_cache_mb and self.stage == "sft" and "vision_tower" in self.train.trainable:
            raise RecipeError("train.frozen_tower_cache_mb caches a frozen tower, but train.trainable has vision_tower")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = values
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def deepspeed_config(value: str, recipe_folder: Path) -> str:
    """The absolute path of a DeepSpeed config (relative: to the recipe's folder), checked to be a JSON object."""
    path = (recipe_folder / value).resolve()
    if not path.is_file():
        raise RecipeError(f"deepspeed: {path}: no such file (a relative deepspeed path is relative to {recipe_folder})")
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise RecipeError(f"deepspeed: {path}: not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise RecipeError(f"deepspeed: {path}: a DeepSpeed config must be a JSON object")
    return str(path)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> tuple[Recipe, dict[str, Any]]:
    """The typed recipe and its resolved dict (after overrides, with ``deepspeed`` checked and made absolute)."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML ({one_line(error)})") from None
    if not isinstance(values, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping")
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"override {item!r} must look like key=value")
        try:
            value = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError:
            raise RecipeError(f"override {item!r}: the value is not valid YAML") from None
        _set(values, SHORTCUTS.get(key, key), value)
    recipe = from_dict(Recipe, values, str(path), noun="recipe key", error=RecipeError)
    recipe.validate()
    if recipe.deepspeed:
        recipe.deepspeed = deepspeed_config(recipe.deepspeed, path.parent)
        stage = json.loads(Path(recipe.deepspeed).read_text()).get("zero_optimization", {}).get("stage", 0)
        if recipe.train.frozen_tower_cache_mb and stage == 3:
            raise RecipeError("train.frozen_tower_cache_mb needs ZeRO stage 0-2 (ZeRO-3: every process runs the tower)")
    return recipe, recipe.to_dict()
