"""Training entry point, run by every process: ``python -m ov_vlm.train.run RECIPE.yaml [key=value ...]``.

Launch it with ``ov-vlm train`` (which picks a launcher), or directly with ``deepspeed --module``, ``torchrun -m``
or ``accelerate launch -m`` (exact commands in the README). A single process needs no launcher.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import time
from pathlib import Path


def _prepare_environment() -> None:
    """Single-process runs get the rendezvous variables DeepSpeed expects; CPU runs skip DeepSpeed's shm op build
    (50-90 s of compiling; gloo works without it)."""
    if "RANK" not in os.environ:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
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


def train(recipe, resolved: dict) -> int:
    import torch
    from transformers import TrainingArguments, set_seed

    from ov_vlm.codec import CodecCache
    from ov_vlm.data import DataError, SupervisedDataset, generate_shapes, load_records, read_skip_log

    from .parts import apply_freeze_policy, format_groups, format_table, parameter_groups, parameter_table
    from .runinfo import write_run_info
    from .trainer import LossLogCallback, OVVLMTrainer

    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    main_process = rank == 0
    out = Path(recipe.output_dir)
    cuda = torch.cuda.is_available()
    train_cfg = recipe.train
    set_seed(train_cfg.seed)

    # ---------------------------------------------------------------------------------------- data files
    train_file = Path(recipe.data.train)
    if not train_file.is_file() and recipe.data.generate is not None:
        if main_process:
            spec = recipe.data.generate
            if spec.kind != "shapes":
                print(f"ov-vlm train: unknown data.generate.kind {spec.kind!r} (shapes)", file=sys.stderr)
                return 2
            generated = generate_shapes(train_file.parent, spec.samples, spec.task, spec.video_share, spec.seed)
            if generated != train_file:
                generated.rename(train_file)
        else:
            _wait_for(train_file)
    try:
        records = load_records(train_file)
    except DataError as error:
        print(f"ov-vlm train: {error}", file=sys.stderr)
        return 2

    # ---------------------------------------------------------------------------------------- arguments
    bf16 = train_cfg.bf16 if isinstance(train_cfg.bf16, bool) else (cuda and torch.cuda.is_bf16_supported())
    args = TrainingArguments(
        output_dir=str(out),
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
        disable_tqdm=not main_process,
    )
    _ = args.device  # sets up the process group now: ZeRO-3's zero.Init in from_pretrained needs the world size
    if recipe.deepspeed:
        import deepspeed

        deepspeed.init_distributed(dist_backend="nccl" if cuda else "gloo")  # adopts the existing process group

    # ---------------------------------------------------------------------------------------- model
    from ov_vlm.model import OVVLMForConditionalGeneration
    from ov_vlm.processing import OVVLMProcessor

    try:
        if recipe.model.preset is not None:
            model, processor = _from_preset(recipe)
        else:
            model = OVVLMForConditionalGeneration.from_pretrained(
                recipe.model.init_from, attn_implementation=recipe.model.attn_implementation, dtype=torch.float32
            )
            processor = OVVLMProcessor.from_pretrained(recipe.model.init_from)
    except (ValueError, OSError) as error:
        print(f"ov-vlm train: cannot load the model: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    if recipe.data.video_mode or recipe.data.visual_spec:
        changes = {
            **recipe.data.visual_spec,
            **({"video_mode": recipe.data.video_mode} if recipe.data.video_mode else {}),
        }
        try:
            processor.spec = processor.spec.replace(**changes)
        except ValueError as error:
            print(f"ov-vlm train: data.visual_spec: {error}", file=sys.stderr)
            return 2
    if recipe.data.max_length:
        processor.max_length = recipe.data.max_length
    processor.codec_cache = CodecCache(recipe.data.codec_cache or out / "codec_cache")

    if recipe.stage == "lora":
        from .lora import apply_lora

        apply_freeze_policy(model, [])
        model = apply_lora(model, recipe.lora)
        model.peft_config["default"].base_model_name_or_path = str(Path(recipe.model.init_from).resolve())
    else:
        trainable = ["projector"] if recipe.stage == "align" else train_cfg.trainable
        apply_freeze_policy(model, trainable)
    part_lrs = {"vision_tower": train_cfg.vision_tower_lr, "projector": train_cfg.projector_lr}

    table = parameter_table(model)
    effective = train_cfg.per_device_batch_size * train_cfg.gradient_accumulation_steps * world
    if main_process:
        write_run_info(out, resolved, world, {"parameters": [r.__dict__ for r in table]})
        print(
            f"\n== {recipe.stage} | {len(records)} samples | {world} process(es) | "
            f"DeepSpeed: {Path(recipe.deepspeed).name if recipe.deepspeed else 'off'}"
        )
        print(format_table(table))
        decay = {n for n, p in model.named_parameters() if p.dim() > 1}
        print(format_groups(parameter_groups(model, decay, train_cfg.learning_rate, train_cfg.weight_decay, part_lrs)))
        print(
            f"effective batch size: {train_cfg.per_device_batch_size} per device x "
            f"{train_cfg.gradient_accumulation_steps} accumulation x {world} process(es) = {effective}\n"
        )

    media_root = recipe.data.media_root or train_file.parent
    skip_log = out / "skipped_samples.jsonl"
    dataset = SupervisedDataset(records, processor, media_root, recipe.data.on_bad_sample, skip_log)
    trainer = OVVLMTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=lambda items: processor.collate(items, padding_side="right"),
        processor=processor,
        part_lrs=part_lrs,
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
    if main_process:
        skipped = read_skip_log(skip_log)
        summary = {
            "stage": recipe.stage,
            "steps": trainer.state.global_step,
            "train_loss": result.training_loss,
            "seconds": time.time() - started,
            "samples": len(records),
            "skipped_samples": len(skipped),
            "effective_batch_size": effective,
            "world_size": world,
            "resumed_from": resume,
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        note = f", {len(skipped)} sample(s) skipped (see {skip_log})" if skipped else ""
        print(f"trained {summary['steps']} steps, mean loss {result.training_loss:.4f}{note}; model in {out}")
    return 0


def _from_preset(recipe):
    """A random-init model and processor from a preset (same weights on every rank: seeded)."""
    import torch

    from ov_vlm.model import OVVLMForConditionalGeneration
    from ov_vlm.model.builder import build_config, default_generation_config, make_tokenizer, visual_spec_for
    from ov_vlm.model.presets import load_preset
    from ov_vlm.processing import OVVLMProcessor

    preset = load_preset(recipe.model.preset)
    tokenizer = make_tokenizer(preset.tokenizer)
    config = build_config(preset, tokenizer, projector=recipe.model.projector)
    config.text_config._attn_implementation = recipe.model.attn_implementation
    torch.manual_seed(recipe.train.seed)
    model = OVVLMForConditionalGeneration(config)
    model.generation_config = default_generation_config(config)
    processor = OVVLMProcessor(tokenizer, visual_spec_for(config, preset.visual_spec), preset.max_length)
    return model, processor


def exit_now(code: int) -> None:
    """End a launched rank with ``code`` once its outputs are written, skipping interpreter teardown: destructors of
    native background threads (gloo, DeepSpeed) intermittently abort a rank at exit ("terminate called without an
    active exception"), which the launcher then reports as a failed run after a finished training."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
