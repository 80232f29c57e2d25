"""A terminal scatter chart: peak memory against input size, with the current and the recommended rule. Pure.

Plain ASCII so it survives any terminal, log file or CI page; no plotting library is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Series", "scatter_chart"]


@dataclass(frozen=True)
class Series:
    """Points drawn with one marker; later series are drawn over earlier ones."""

    name: str
    marker: str
    points: Sequence[tuple[float, float]]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def scatter_chart(
    series: Sequence[Series], *, width: int = 60, height: int = 16, x_label: str = "", y_label: str = ""
) -> list[str]:
    """Lines of a chart of every series on shared axes starting at 0 (pure). Empty when there is nothing to draw."""
    points = [p for s in series for p in s.points]
    if not points or width < 10 or height < 4:
        return []
    x_max = max(x for x, _ in points) or 1.0
    y_max = max(y for _, y in points) or 1.0
    grid = [[" "] * width for _ in range(height)]
    for one in series:
        for x, y in one.points:
            col = min(width - 1, max(0, round(x / x_max * (width - 1))))
            row = min(height - 1, max(0, round(y / y_max * (height - 1))))
            grid[height - 1 - row][col] = one.marker
    label_width = max(len(_fmt(y_max)), len(_fmt(0)))
    lines = [f"{y_label}"] if y_label else []
    for index, row_cells in enumerate(grid):
        value = y_max * (height - 1 - index) / (height - 1)
        label = _fmt(value) if index in (0, height // 2, height - 1) else ""
        lines.append(f"{label:>{label_width}} |{''.join(row_cells).rstrip()}")
    lines.append(" " * label_width + " +" + "-" * width)
    left, right = _fmt(0), _fmt(x_max)
    lines.append(" " * (label_width + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
    if x_label:
        lines.append(" " * (label_width + 2) + x_label)
    lines.append("  ".join(f"{s.marker} {s.name}" for s in series if s.points))
    return lines
