"""Worker processes for batch jobs (codec batches, the demo's world and codec steps)."""

from __future__ import annotations

import multiprocessing


def fork_context():
    """Forked workers where the platform has them (they start at once and inherit what is imported), else the
    platform's default start method."""
    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
