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


def test_gradient_flow_refuses_a_steps_by_layers_matrix_instead_of_flattening_it():
    import matplotlib.pyplot as plt

    grad_norms = torch.tensor([[1.0, 2.0, 3.0, 4.0]] * 3)  # (steps=3, layers=4)
    open_before = len(plt.get_fignums())
    with pytest.raises(ValueError, match=r"series\['run'\] has shape \(3, 4\).*median\(0\)"):
        plot_gradient_flow({"run": grad_norms})
    with pytest.raises(ValueError, match=r"1-D sequence of numbers.*\.values"):
        plot_gradient_flow({"run": grad_norms.median(0)})  # the (values, indices) pair
    with pytest.raises(ValueError, match="1-D sequence of numbers"):
        plot_gradient_flow({"run": [[1.0, 2.0], [3.0, 4.0]]})
    with pytest.raises(TypeError, match="series must be a mapping.*got Tensor"):
        plot_gradient_flow(grad_norms)
    assert len(plt.get_fignums()) == open_before  # nothing drawn before the check
    fig = plot_gradient_flow({"run": grad_norms.median(0).values, "mean": grad_norms.mean(0)})
    assert [list(line.get_xdata()) for line in fig.axes[0].get_lines()] == [[1, 2, 3, 4]] * 2
    plt.close(fig)


def _cell_centres(image, n_cols):
    left, right = image.get_extent()[:2]
    width = (right - left) / n_cols
    return [left + (j + 0.5) * width for j in range(n_cols)]


def test_heatmap_cells_are_centred_on_their_steps():
    m = torch.tensor([[1.0, 1e-4], [2.0, 1e-5], [3.0, 1e-3]])  # (steps=3, layers=2)
    fig = plot_gradient_heatmap(m, steps=[0, 10, 20])
    ax, image = fig.axes[0], fig.axes[0].get_images()[0]
    assert image.get_extent() == pytest.approx([-5.0, 25.0, 1.5, -0.5])
    assert ax.get_xlim() == pytest.approx((-5.0, 25.0))
    assert _cell_centres(image, 3) == pytest.approx([0.0, 10.0, 20.0])
    one = plot_gradient_heatmap(m[:1], steps=[7]).axes[0].get_images()[0]
    assert one.get_extent()[:2] == pytest.approx([6.5, 7.5])
    assert _cell_centres(one, 1) == pytest.approx([7.0])
    with pytest.raises(ValueError, match="steps has 2 entries but matrix has 3 rows"):
        plot_gradient_heatmap(m, steps=[0, 10])
    with pytest.raises(ValueError, match="steps must increase"):
        plot_gradient_heatmap(m, steps=[20, 10, 0])
