"""File names in an ov-vlm model folder (torch-free: commands check a folder before they import the model)."""

from __future__ import annotations

from pathlib import Path

PROCESSOR_FILE = "ov_vlm_processor.json"  # the processor's visual settings and max_length
# Its name in folders written before: transformers' processors use that name with a different schema.
LEGACY_PROCESSOR_FILE = "processor_config.json"


def processor_file(folder: str | Path) -> Path | None:
    """The processor settings file of a model folder (current name first, then the earlier one), or None."""
    for name in (PROCESSOR_FILE, LEGACY_PROCESSOR_FILE):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None
