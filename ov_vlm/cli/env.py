"""``ov-vlm env``: versions, devices and attention backends, for bug reports and setup checks."""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from ov_vlm.utils.versions import PACKAGES as RUN_PACKAGES

PACKAGES = (*RUN_PACKAGES, "safetensors", "huggingface-hub", "numpy", "pillow")
REQUIRED = ("torch", "transformers", "safetensors", "av", "numpy", "pillow")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("env", help="print versions, devices and usable attention backends")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--check", action="store_true", help="exit with status 1 if the environment is broken")
    parser.set_defaults(run=run)


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def torch_info() -> dict:
    import torch

    info = {
        "build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU",
        "cuda_available": torch.cuda.is_available(),
        "devices": [],
    }
    if info["cuda_available"]:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            info["devices"].append(f"cuda:{index} {props.name} ({props.total_memory / 2**30:.0f} GiB)")
        info["bf16_supported"] = torch.cuda.is_bf16_supported()
    return info


def ffmpeg_info() -> dict:
    import av

    return {
        "ffmpeg": str(getattr(av, "ffmpeg_version_info", "unknown")),
        "libavcodec": ".".join(str(part) for part in av.library_versions.get("libavcodec", ())),
        "h264_encoder": "libx264" in av.codecs_available,
    }


def attention_backends(cuda_available: bool) -> dict[str, str]:
    """Each backend with 'yes' or the reason it cannot be used right now."""
    import torch

    backends = {"eager": "yes"}
    has_sdpa = hasattr(torch.nn.functional, "scaled_dot_product_attention")
    backends["sdpa"] = "yes (default)" if has_sdpa else "no: torch too old for scaled_dot_product_attention"
    if importlib.util.find_spec("flash_attn") is None:
        backends["flash_attention_2"] = "no: flash-attn not installed (optional: pip install flash-attn)"
    elif not cuda_available:
        backends["flash_attention_2"] = "no: installed but needs a CUDA device"
    else:
        backends["flash_attention_2"] = "yes"
    return backends


def collect() -> tuple[dict, list[str]]:
    """Environment report and a list of problems (empty when the environment is usable)."""
    problems: list[str] = []
    report: dict = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: package_version(name) for name in PACKAGES},
    }
    for name in REQUIRED:
        if report["packages"][name] is None:
            problems.append(f"required package {name} is not installed")
    if report["packages"]["torch"] is not None:
        report["torch"] = torch_info()
        report["attention"] = attention_backends(report["torch"]["cuda_available"])
        has_torchvision = importlib.util.find_spec("torchvision") is not None
        report["torchvision"] = "installed" if has_torchvision else "absent"
        if has_torchvision and report["torch"]["build"] == "CPU":
            problems.append(
                "torchvision is installed next to a CPU-only torch: PyPI only has CUDA builds of torchvision, which "
                "break `import transformers` model classes and lmms-eval; run `pip uninstall -y torchvision timm`"
            )
    if report["packages"]["av"] is not None:
        report["video"] = ffmpeg_info()
    return report, problems


def format_report(report: dict) -> str:
    lines = [f"{'python':<24}{report['python']}", f"{'platform':<24}{report['platform']}"]
    for name, value in report["packages"].items():
        lines.append(f"{name:<24}{value or 'not installed'}")
    if "torch" in report:
        torch_report = report["torch"]
        lines.append(f"{'torch build':<24}{torch_report['build']}")
        lines.append(f"{'CUDA available':<24}{'yes' if torch_report['cuda_available'] else 'no'}")
        lines.extend(f"{'device':<24}{device}" for device in torch_report["devices"])
        lines.append(f"{'torchvision':<24}{report['torchvision']}")
        for backend, state in report["attention"].items():
            lines.append(f"{'attn ' + backend:<24}{state}")
    if "video" in report:
        video = report["video"]
        lines.append(f"{'FFmpeg':<24}{video['ffmpeg']} (libavcodec {video['libavcodec']})")
        lines.append(f"{'H.264 encoder':<24}{'libx264' if video['h264_encoder'] else 'missing'}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    report, problems = collect()
    if args.json:
        print(json.dumps({**report, "problems": problems}, indent=2))
    else:
        print(format_report(report))
        for problem in problems:
            print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if (args.check and problems) else 0
