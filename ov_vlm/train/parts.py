"""Which parts train, at which learning rate: the per-stage freeze policy, the parameter table, optimizer groups.

Parts are the model's three components (``vision_tower``, ``multi_modal_projector``, ``language_model``), found by
their module names in the model (not by checkpoint paths). LoRA parameters count as part of the module they adapt.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

MODULES = {"vision_tower": "vision_tower", "projector": "multi_modal_projector", "language_model": "language_model"}


def numel(parameter) -> int:
    """Elements of a parameter, also when ZeRO-3 has partitioned it away from this process."""
    return int(getattr(parameter, "ds_numel", parameter.numel()))


def part_of(name: str) -> str | None:
    """The part a parameter name belongs to (works inside a PEFT wrapper too)."""
    for part, module in MODULES.items():
        if f"{module}." in f".{name}" or name.startswith(f"{module}."):
            return part
    return None


def apply_freeze_policy(model: nn.Module, trainable: list[str]) -> None:
    """Train exactly the parts in ``trainable`` (full fine-tuning of each); freeze the rest."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(part_of(name) in trainable)


@dataclass
class Row:
    module: str
    trainable: int
    frozen: int

    @property
    def status(self) -> str:
        if self.trainable and self.frozen:
            return "partial"
        return "trainable" if self.trainable else "frozen"


def parameter_table(model: nn.Module, depth: int = 2) -> list[Row]:
    """Trainable / frozen parameter counts per module, to ``depth`` levels below the parts."""
    rows: dict[str, Row] = {}
    for name, parameter in model.named_parameters():
        part = part_of(name)
        if part is None:
            key = name.rsplit(".", 1)[0]
        else:
            module = MODULES[part]
            tail = name[name.index(module) + len(module) + 1 :].split(".")
            key = ".".join([module, *tail[: depth - 1]]) if len(tail) > 1 else module
        row = rows.setdefault(key, Row(key, 0, 0))
        if parameter.requires_grad:
            row.trainable += numel(parameter)
        else:
            row.frozen += numel(parameter)
    return list(rows.values())


def format_table(rows: list[Row]) -> str:
    width = max(len(r.module) for r in rows) + 2
    lines = [f"{'module':<{width}}{'status':>10}{'trainable':>14}{'frozen':>14}"]
    for row in rows:
        lines.append(f"{row.module:<{width}}{row.status:>10}{row.trainable:>14,}{row.frozen:>14,}")
    trainable = sum(r.trainable for r in rows)
    total = trainable + sum(r.frozen for r in rows)
    lines.append(f"{'total':<{width}}{'':>10}{trainable:>14,}{total - trainable:>14,}")
    lines.append(f"trainable: {trainable:,} of {total:,} parameters ({trainable / max(total, 1):.2%})")
    return "\n".join(lines)


def parameter_groups(
    model: nn.Module,
    decay_names: set[str],
    learning_rate: float,
    weight_decay: float,
    part_lrs: dict[str, float | None],
) -> list[dict]:
    """Optimizer groups: one per (part learning rate, decay or not), trainable parameters only, each named."""
    groups: dict[tuple[str, bool], dict] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        part = part_of(name) or "other"
        lr = part_lrs.get(part) or learning_rate
        decays = name in decay_names
        key = (part if part_lrs.get(part) else "default", decays)
        group = groups.setdefault(
            key,
            {
                "name": f"{key[0]}{'' if decays else ' (no decay)'}",
                "params": [],
                "lr": lr,
                "weight_decay": weight_decay if decays else 0.0,
            },
        )
        group["params"].append(parameter)
    return list(groups.values())


def format_groups(groups: list[dict]) -> str:
    lines = [f"{'optimizer group':<28}{'lr':>12}{'weight decay':>14}{'parameters':>14}"]
    for group in groups:
        count = sum(numel(p) for p in group["params"])
        lines.append(f"{group['name']:<28}{group['lr']:>12.3g}{group['weight_decay']:>14.3g}{count:>14,}")
    return "\n".join(lines)
