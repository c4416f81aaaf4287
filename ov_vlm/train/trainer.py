"""The Hugging Face `Trainer`, adapted: per-part learning rates, modality-length grouping (or the file's order) and
a per-step loss log. Pass the processor as ``processing_class``: the `Trainer` saves it with the model and every
checkpoint, so each is a usable model folder."""

from __future__ import annotations

import json
from pathlib import Path

from torch.utils.data import SequentialSampler
from transformers import Trainer, TrainerCallback

from ov_vlm.data import ModalityLengthGroupedSampler
from ov_vlm.utils.jsonl import read_jsonl

from .parts import parameter_groups


class OVVLMTrainer(Trainer):
    def __init__(self, *args, part_lrs=None, group_by_modality_length=False, shuffle=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.part_lrs = part_lrs or {}
        self.group_by_modality_length = group_by_modality_length
        self.shuffle = shuffle

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.group_by_modality_length:
            args = self.args  # a group is the samples of one optimizer step, over all processes
            group = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
            return ModalityLengthGroupedSampler(dataset.lengths(), dataset.modalities(), group, seed=self.args.seed)
        if not self.shuffle:
            return SequentialSampler(dataset)
        return super()._get_train_sampler(train_dataset)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            model = self.model if model is None else model
            decay = set(self.get_decay_parameter_names(model))
            groups = parameter_groups(model, decay, self.args.learning_rate, self.args.weight_decay, self.part_lrs)
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer


class LossLogCallback(TrainerCallback):
    """Appends ``{"step", "loss", "learning_rate", "grad_norm", "epoch"}`` to a JSONL file on every log."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        entry = {
            "step": state.global_step,
            **{k: logs[k] for k in ("loss", "learning_rate", "grad_norm", "epoch") if k in logs},
        }
        with self.path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")


def read_loss_log(path: str | Path) -> dict[int, float]:
    """step -> loss from a loss log (a later entry for the same step wins: a resumed run rewrites it)."""
    return {entry["step"]: entry["loss"] for entry in read_jsonl(path, skip_bad=True)}
