"""Is the Hugging Face Hub reachable, and what is already in the local cache? Answers in seconds, never hangs."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from ov_vlm.errors import one_line

TRUE = ("1", "true", "yes", "on")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline_requested() -> bool:
    return any(os.environ.get(k, "").lower() in TRUE for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def reachable(timeout: float = 6.0) -> tuple[bool, str]:
    """(True, "") when the Hub answers (any HTTP status), else (False, why)."""
    if offline_requested():
        return False, "HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set"
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint() + "/api/status", method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return True, ""
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return False, f"{endpoint()} is unreachable ({one_line(reason)})"
    return True, ""


def hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def dataset_cached(repo: str) -> bool:
    """Whether a snapshot of dataset ``repo`` is in the local Hub cache (what ``prefetch`` downloads)."""
    snapshots = hub_cache() / f"datasets--{repo.replace('/', '--')}" / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def have_token() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())
