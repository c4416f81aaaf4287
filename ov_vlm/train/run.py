"""Training entry point, run by every process: ``python -m ov_vlm.train.run RECIPE.yaml [key=value ...]``.

Launch it with ``ov-vlm train`` (which picks a launcher), or directly with ``deepspeed --module``, ``torchrun -m``
or ``accelerate launch -m`` (exact commands in the README). A single process needs no launcher.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ov_vlm.errors import OVVLMError


def _prepare_environment() -> None:
    """Single-process runs get the rendezvous variables DeepSpeed expects; CPU runs name their accelerator and
    thread count (`ov_vlm.utils.accelerator`) and skip DeepSpeed's shm op build (50-90 s of compiling; gloo works
    without it)."""
    if "RANK" not in os.environ:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from ov_vlm.utils.accelerator import pin_cpu_threads, prefer_cpu_deepspeed

    if not prefer_cpu_deepspeed():
        pin_cpu_threads()
        try:
            importlib.import_module("deepspeed.comm.torch")
            sys.modules["deepspeed.comm.torch"].build_shm_op = lambda: None
        except ImportError:
            pass


def latest_complete_checkpoint(output_dir: Path) -> str | None:
    """The newest ``checkpoint-N`` folder whose save finished (a killed run may leave a half-written one)."""
    complete = [p for p in output_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    complete.sort(key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1)
    return str(complete[-1]) if complete else None


def _wait_for(path: Path, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while not path.is_file():
        if time.time() > deadline:
            raise TimeoutError(f"{path} did not appear (rank 0 writes it)")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    _prepare_environment()
    from .recipe import RecipeError, load_recipe

    try:
        recipe, resolved = load_recipe(argv[0], argv[1:])
    except RecipeError as error:
        print(f"ov-vlm train: {error}", file=sys.stderr)
        return 2
    code = train(recipe, resolved)
    if code == 0:
        _close_process_group()
    return code


def _close_process_group() -> None:
    """Leave the process group together: exiting with it open can abort a rank at teardown (gloo), which the
    launcher reports as a failed run after a finished training."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class SetupError(OVVLMError):
    """A problem found before training starts (exit 2); the message is printed after ``ov-vlm train:``."""


@dataclass(frozen=True)
class ProcessInfo:
    """This process's rank, the world size and the run's output folder."""

    rank: int
    world: int
    out: Path

    @property
    def main(self) -> bool:
        return self.rank == 0


def train(recipe, resolved: dict) -> int:
    """One training run, as named steps. 0: trained; 2: a setup problem; 1: a bad sample stopped training."""
    from transformers import set_seed

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    process = ProcessInfo(rank, world, Path(recipe.output_dir))
    set_seed(recipe.train.seed)
    try:
        records = prepare_data(recipe, process)
        args = training_arguments(recipe, process)
        model, processor = model_and_processor(recipe, process)
    except SetupError as error:
        print(f"ov-vlm train: {error}", file=sys.stderr)
        return 2
    model = freeze_for_stage(model, recipe)
    try:
        cache_frozen_tower(model, recipe)
    except ValueError as error:
        print(f"ov-vlm train: train.frozen_tower_cache_mb: {error}", file=sys.stderr)
        return 2
    if process.main:
        print_plan(model, recipe, resolved, process, len(records))
    return fit_and_summarize(model, processor, args, records, recipe, process)


def prepare_data(recipe, process: ProcessInfo) -> list:
    """The training records; rank 0 first writes the synthetic data the recipe asks for (the others wait for it)."""
    from ov_vlm.data import DataError, generate_shapes, load_records

    train_file = Path(recipe.data.train)
    spec = recipe.data.generate
    if not train_file.is_file() and spec is not None:
        if not process.main:
            _wait_for(train_file)
        elif spec.kind != "shapes":
            raise SetupError(f"unknown data.generate.kind {spec.kind!r} (shapes)")
        else:
            generated = generate_shapes(train_file.parent, spec.samples, spec.task, spec.video_share, spec.seed)
            if generated != train_file:
                generated.rename(train_file)
    try:
        return load_records(train_file)
    except DataError as error:
        raise SetupError(str(error)) from error


def training_arguments(recipe, process: ProcessInfo):
    """The recipe's ``train`` section as `TrainingArguments`; also starts the process group (ZeRO-3's zero.Init in
    ``from_pretrained`` needs the world size)."""
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    train_cfg = recipe.train
    bf16 = train_cfg.bf16 if isinstance(train_cfg.bf16, bool) else (cuda and torch.cuda.is_bf16_supported())
    args = TrainingArguments(
        output_dir=str(process.out),
        per_device_train_batch_size=train_cfg.per_device_batch_size,
        gradient_accumulation_steps=train_cfg.gradient_accumulation_steps,
        learning_rate=train_cfg.learning_rate,
        lr_scheduler_type=train_cfg.lr_scheduler,
        warmup_steps=train_cfg.warmup_ratio,
        weight_decay=train_cfg.weight_decay,
        num_train_epochs=train_cfg.epochs,
        max_steps=train_cfg.max_steps,
        max_grad_norm=train_cfg.max_grad_norm,
        logging_steps=train_cfg.logging_steps,
        save_strategy="steps",
        save_steps=train_cfg.save_steps,
        save_total_limit=train_cfg.save_total_limit,
        seed=train_cfg.seed,
        bf16=bf16,
        activation_checkpointing=train_cfg.gradient_checkpointing,
        report_to=train_cfg.report_to or "none",
        deepspeed=recipe.deepspeed,
        use_cpu=not cuda,
        remove_unused_columns=False,
        dataloader_num_workers=recipe.data.num_workers,
        # workers that live across epochs keep what they cached (each its own copy, up to the budget)
        dataloader_persistent_workers=recipe.data.num_workers > 0 and recipe.data.memory_cache_mb > 0,
        disable_tqdm=not process.main,
    )
    _ = args.device  # sets up the process group now
    if recipe.deepspeed:
        import deepspeed

        deepspeed.init_distributed(dist_backend="nccl" if cuda else "gloo")  # adopts the existing process group
    return args


def model_and_processor(recipe, process: ProcessInfo):
    """A random-init model from the recipe's preset (seeded: the same weights on every rank) or the model folder it
    starts from, and the processor with the recipe's data overrides."""
    import torch

    from ov_vlm.codec import CodecCache
    from ov_vlm.model import OVVLMForConditionalGeneration
    from ov_vlm.model.builder import from_preset
    from ov_vlm.processing import OVVLMProcessor

    spec = recipe.model
    try:
        if spec.preset is not None:
            model, processor = from_preset(spec.preset, spec.projector, spec.attn_implementation, recipe.train.seed)
        else:
            model = OVVLMForConditionalGeneration.from_pretrained(
                spec.init_from, attn_implementation=spec.attn_implementation, dtype=torch.float32
            )
            processor = OVVLMProcessor.from_pretrained(spec.init_from)
    except (ValueError, OSError) as error:
        raise SetupError(f"cannot load the model: {' '.join(str(error).split())}") from error
    data = recipe.data
    try:
        processor = processor.with_overrides(
            visual_spec=data.visual_spec,
            video_mode=data.video_mode or None,
            max_length=data.max_length or None,
            codec_cache=CodecCache(data.codec_cache or process.out / "codec_cache"),
        )
    except ValueError as error:
        raise SetupError(f"data.visual_spec: {error}") from error
    return model, processor


def freeze_for_stage(model, recipe):
    """align: the projector trains; sft: the recipe's ``train.trainable`` parts; lora: adapters on a frozen model."""
    from .parts import apply_freeze_policy

    if recipe.stage != "lora":
        apply_freeze_policy(model, ["projector"] if recipe.stage == "align" else recipe.train.trainable)
        return model
    from .lora import apply_lora

    apply_freeze_policy(model, [])
    model = apply_lora(model, recipe.lora)
    model.peft_config["default"].base_model_name_or_path = str(Path(recipe.model.init_from).resolve())
    return model


def cache_frozen_tower(model, recipe) -> None:
    """``train.frozen_tower_cache_mb`` > 0: the model computes each visual's frozen-tower features once."""
    if recipe.train.frozen_tower_cache_mb:
        _base_model(model).enable_frozen_tower_cache(recipe.train.frozen_tower_cache_mb)


def _base_model(model):
    """The `OVVLMForConditionalGeneration` itself (under LoRA, the model the adapters wrap)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _part_lrs(recipe) -> dict:
    return {"vision_tower": recipe.train.vision_tower_lr, "projector": recipe.train.projector_lr}


def _effective_batch_size(recipe, process: ProcessInfo) -> int:
    return recipe.train.per_device_batch_size * recipe.train.gradient_accumulation_steps * process.world


def print_plan(model, recipe, resolved: dict, process: ProcessInfo, samples: int) -> None:
    """Write ``run_info.json`` and print what trains: the parameter table, the optimizer groups, the batch size."""
    from .parts import format_groups, format_table, parameter_groups, parameter_table
    from .runinfo import write_run_info

    train_cfg = recipe.train
    table = parameter_table(model)
    write_run_info(process.out, resolved, process.world, {"parameters": [r.__dict__ for r in table]})
    print(
        f"\n== {recipe.stage} | {samples} samples | {process.world} process(es) | "
        f"DeepSpeed: {Path(recipe.deepspeed).name if recipe.deepspeed else 'off'}"
    )
    print(format_table(table))
    decay = {n for n, p in model.named_parameters() if p.dim() > 1}
    groups = parameter_groups(model, decay, train_cfg.learning_rate, train_cfg.weight_decay, _part_lrs(recipe))
    print(format_groups(groups))
    print(
        f"effective batch size: {train_cfg.per_device_batch_size} per device x "
        f"{train_cfg.gradient_accumulation_steps} accumulation x {process.world} process(es) = "
        f"{_effective_batch_size(recipe, process)}\n"
    )


def fit_and_summarize(model, processor, args, records: list, recipe, process: ProcessInfo) -> int:
    """Train (resuming if asked), save the model folder, and on rank 0 write ``summary.json`` and a one-line result."""
    from ov_vlm.data import DataError, SupervisedDataset, read_skip_log

    from .trainer import LossLogCallback, OVVLMTrainer

    out = process.out
    skip_log = out / "skipped_samples.jsonl"
    media_root = recipe.data.media_root or Path(recipe.data.train).parent
    dataset = SupervisedDataset(
        records, processor, media_root, recipe.data.on_bad_sample, skip_log, recipe.data.memory_cache_mb
    )
    trainer = OVVLMTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=lambda items: processor.collate(items, padding_side="right"),
        processing_class=processor,
        part_lrs=_part_lrs(recipe),
        group_by_modality_length=recipe.data.group_by_modality_length,
        shuffle=recipe.data.shuffle,
        callbacks=[LossLogCallback(out / "train_log.jsonl")],
    )
    resume = recipe.resume_from_checkpoint
    if resume == "auto":
        resume = latest_complete_checkpoint(out)
    started = time.time()
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    except DataError as error:
        print(f"ov-vlm train: {error} (set data.on_bad_sample=skip to skip such samples)", file=sys.stderr)
        return 1
    trainer.save_model(str(out))
    if not process.main:
        return 0
    skipped = read_skip_log(skip_log)
    summary = {
        "stage": recipe.stage,
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "seconds": time.time() - started,
        "samples": len(records),
        "skipped_samples": len(skipped),
        "effective_batch_size": _effective_batch_size(recipe, process),
        "world_size": process.world,
        "resumed_from": resume,
    }
    cache = _base_model(model).frozen_tower_cache
    if cache is not None:
        summary["frozen_tower_cache"] = {
            "visuals": len(cache),
            "bytes": cache.used_bytes,
            "hits": cache.hits,
            "misses": cache.misses,
        }
        print(cache.summary())
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    note = f", {len(skipped)} sample(s) skipped (see {skip_log})" if skipped else ""
    print(f"trained {summary['steps']} steps, mean loss {result.training_loss:.4f}{note}; model in {out}")
    return 0


def exit_now(code: int) -> None:
    """End a launched rank with ``code`` once its outputs are written, skipping interpreter teardown: destructors of
    native background threads (gloo, DeepSpeed) intermittently abort a rank at exit ("terminate called without an
    active exception"), which the launcher then reports as a failed run after a finished training. The Python
    ``atexit`` handlers (a logger's final upload, e.g. wandb's) still run first."""
    try:
        atexit._run_exitfuncs()  # what interpreter exit would run before the native teardown that `os._exit` skips
    except Exception as error:  # a failing handler must not turn a finished run into a failed one
        print(f"ov-vlm train: an exit handler failed ({error})", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
