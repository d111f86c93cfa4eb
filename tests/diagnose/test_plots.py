"""The gradient-flow chart is on a log scale; the heatmap shows (layers, steps)."""

from __future__ import annotations

import pytest
import torch

from deepdojo.diagnose import plot_gradient_flow, plot_gradient_heatmap


def test_gradient_flow_chart_log_scale_one_line_per_series():
    fig = plot_gradient_flow({"a": [1e-6, 1e-3, 1.0], "b": torch.tensor([0.5, 0.0, 2.0])},
                             ["l1", "l2", "l3"])
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2
    assert list(ax.get_lines()[1].get_xdata()) == [1, 3]  # the zero is left out of a log plot
    assert [t.get_text() for t in ax.get_xticklabels()] == ["l1", "l2", "l3"]
    with pytest.raises(ValueError, match="series is empty"):
        plot_gradient_flow({})


def test_heatmap_layers_by_steps():
    m = torch.tensor([[1.0, 1e-4], [2.0, 1e-5], [3.0, float("nan")]])  # (steps=3, layers=2)
    fig = plot_gradient_heatmap(m, ["in", "out"], steps=[0, 10, 20])
    image = fig.axes[0].get_images()[0]
    assert image.get_array().shape == (2, 3)
    assert image.norm.vmin == pytest.approx(1e-5) and image.norm.vmax == pytest.approx(3.0)
    with pytest.raises(ValueError, match="non-empty"):
        plot_gradient_heatmap(torch.zeros(0, 2))
