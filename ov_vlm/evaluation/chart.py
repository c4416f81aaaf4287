"""Bar charts (PNG) for reports: one run beside a published column, or several runs compared.

Scores are drawn on one percent axis (OCRBench's 0-1000 count / 10, its ``weight``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096")


def bar_chart(
    path: str | Path,
    benchmarks: list[str],
    series: dict[str, list[float | None]],
    title: str,
    ylabel: str = "score (%)",
) -> Path:
    """Grouped vertical bars: one group per benchmark, one bar per series (None: no bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(1, len(series))
    width = 0.8 / count
    x = np.arange(len(benchmarks))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(benchmarks) * max(1, count / 2) + 2), 4.2), dpi=120)
    for n, (label, values) in enumerate(series.items()):
        heights = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + (n - (count - 1) / 2) * width, heights, width, label=label, color=PALETTE[n % len(PALETTE)])
        if len(benchmarks) * count <= 40:
            ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=1)
    ax.set_xticks(
        x, benchmarks, rotation=35 if len(benchmarks) > 4 else 0, ha="right" if len(benchmarks) > 4 else "center"
    )
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, max(100.0, *(v for vs in series.values() for v in vs if v is not None)) * 1.05)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right", ncol=min(3, count))
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def weighted(score: dict[str, Any] | None) -> float | None:
    return None if score is None else score["value"] * score.get("weight", 1.0)


def axis_label(scores: list[dict[str, Any]]) -> str:
    """The y label: percent, noting the rescaled benchmarks (OCRBench's count / 10)."""
    rescaled = sorted({s["benchmark"] for s in scores if s.get("weight", 1.0) != 1.0})
    return f"score (%; {', '.join(rescaled)} / 10)" if rescaled else "score (%)"
