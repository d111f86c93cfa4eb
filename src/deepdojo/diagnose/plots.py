"""Gradient-flow chart (per-layer gradient norm, log scale) and layer × step heatmap.

Both return a matplotlib ``Figure`` (import-light: pyplot is imported inside the functions, so
the ``Agg`` backend works headless).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

# how to turn a (steps, layers) matrix such as GradientMonitor.grad_norms into one series
_FLATTEN_HINT = "reduce a (steps, layers) matrix first, e.g. .median(0).values or .mean(0)"


def _values(label: Any, row: Any) -> list[float]:
    """One series as floats; a matrix is refused rather than flattened into extra "layers"."""
    shape = tuple(getattr(row, "shape", ()))
    if len(shape) > 1:
        raise ValueError(f"series[{label!r}] has shape {shape}: give one value per layer "
                         f"(1-D); {_FLATTEN_HINT}")  # fmt: skip
    if isinstance(row, torch.Tensor):
        return [float(v) for v in row.detach().double().cpu().reshape(-1)]
    try:
        return [float(v) for v in row]
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"series[{label!r}] must be a 1-D sequence of numbers (one per layer), "
                         f"got {type(row).__name__}; {_FLATTEN_HINT}") from None


def plot_gradient_flow(
    series: Mapping[str, Sequence[float] | torch.Tensor],
    layer_names: Sequence[str] | None = None,
    *,
    title: str = "Gradient flow",
    ylabel: str = "gradient norm ‖∂L/∂W‖ (log scale)",
    ax: Any = None,
) -> Any:
    """Per-layer gradient norms, input side on the left, one line per setup, log y axis.

    Parameters
    ----------
    series : mapping label -> per-layer values
        E.g. ``{"sigmoid, depth 20": monitor.grad_norms.mean(0)}``: one 1-D series per label
        (a ``(steps, layers)`` matrix must be reduced over steps first, e.g. with
        ``.median(0).values``); series may differ in length (layers are then numbered);
        non-positive/non-finite values are left out.
    layer_names : sequence of str, optional
        Tick labels when every series has this many layers.
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.
    """
    import matplotlib.pyplot as plt

    if not isinstance(series, Mapping):
        raise TypeError(f"series must be a mapping label -> per-layer values, got "
                        f"{type(series).__name__}; use {{'my run': values}}")  # fmt: skip
    if not series:
        raise ValueError("series is empty: give at least one label -> per-layer values")
    rows = {label: _values(label, row) for label, row in series.items()}  # checked before drawing
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4))
    longest = 0
    for label, values in rows.items():
        longest = max(longest, len(values))
        pts = [(i + 1, v) for i, v in enumerate(values) if math.isfinite(v) and v > 0]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, label=str(label))
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if layer_names is not None and len(layer_names) == longest:
        ax.set_xticks(range(1, longest + 1), list(layer_names), rotation=60, fontsize=7)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return fig


def _step_edges(steps: Sequence[int], rows: int) -> tuple[float, float]:
    """x extent that puts each of ``rows`` equal-width cells' centre on its step."""
    if len(steps) != rows:
        raise ValueError(f"steps has {len(steps)} entries but matrix has {rows} rows (steps); "
                         "give one step per row, e.g. GradientMonitor.steps")  # fmt: skip
    first, last = float(steps[0]), float(steps[-1])
    spacing = (last - first) / (rows - 1) if rows > 1 else 1.0
    if not spacing > 0:
        raise ValueError(f"steps must increase, got first {steps[0]!r} and last {steps[-1]!r}")
    return first - spacing / 2, last + spacing / 2


def plot_gradient_heatmap(
    matrix: torch.Tensor,
    layer_names: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    *,
    title: str = "Gradient norm per layer and step",
    ax: Any = None,
) -> Any:
    """Heatmap of a ``(steps, layers)`` matrix (e.g. ``GradientMonitor.grad_norms``), log colours.

    Layers run along the y axis (input side at the top), steps along the x axis. Each cell is
    centred on its step: with ``steps`` (one per row of ``matrix``, evenly spaced, e.g.
    ``GradientMonitor.steps``) the x axis spans ``steps[0] - d/2`` to ``steps[-1] + d/2`` with
    ``d`` the step spacing (1 for a single step); without them, the row index.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    data = torch.as_tensor(matrix, dtype=torch.float64).cpu()
    if data.ndim != 2 or data.numel() == 0:
        shape = tuple(data.shape)
        raise ValueError(f"matrix must be a non-empty (steps, layers) matrix, got shape {shape}")
    positive = data[torch.isfinite(data) & (data > 0)]
    if positive.numel() == 0:
        raise ValueError("matrix has no positive finite value to show on a log scale")
    extent = None if steps is None else (*_step_edges(steps, data.shape[0]),
                                          data.shape[1] - 0.5, -0.5)  # fmt: skip
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 4))
    shown = data.T.clone()  # (layers, steps)
    shown[~(torch.isfinite(shown) & (shown > 0))] = float("nan")
    image = ax.imshow(shown.numpy(), aspect="auto", interpolation="nearest", extent=extent,
                      norm=LogNorm(vmin=float(positive.min()), vmax=float(positive.max())))
    fig.colorbar(image, ax=ax, label="gradient norm (log)")
    if layer_names is not None and len(layer_names) == data.shape[1]:
        ax.set_yticks(range(data.shape[1]), list(layer_names), fontsize=7)
    ax.set_xlabel("training step")
    ax.set_ylabel("layer (input side at top)")
    ax.set_title(title)
    return fig
