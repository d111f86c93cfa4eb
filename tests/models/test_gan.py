"""GAN models: shapes, conditioning, the projection formula, spectral norm, U-Net skips."""

from __future__ import annotations

import pytest
import torch

from deepdojo.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    PatchDiscriminator,
    UNetGenerator,
)


@pytest.mark.parametrize("size", [8, 16, 28, 32])
def test_dcgan_shapes_for_every_size(size):
    torch.manual_seed(0)
    G = DCGANGenerator(8, channels=3, size=size, base=8)
    D = DCGANDiscriminator(channels=3, size=size, base=8)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 3, size, size)
    assert x.abs().max() <= 1.0  # tanh output
    assert D(x).shape == (5,)


def test_mlp_shapes_and_outputs():
    G = MLPGenerator(4, (1, 40), hidden=(16,), output="identity")
    assert G(torch.randn(3, 4)).shape == (3, 1, 40)
    sig = MLPGenerator(4, 64, hidden=(16,), output="sigmoid")(torch.randn(3, 4))
    assert sig.shape == (3, 64) and sig.min() >= 0 and sig.max() <= 1
    assert MLPDiscriminator((1, 40), hidden=(16,))(torch.randn(3, 1, 40)).shape == (3,)


@pytest.mark.parametrize("make", [
    lambda: MLPGenerator(4, 64, hidden=(16,), n_classes=10),
    lambda: DCGANGenerator(4, size=8, base=8, n_classes=10),
])
def test_conditional_generator_depends_on_the_label(make):
    torch.manual_seed(0)
    G = make().eval()
    z = torch.randn(6, 4)
    a = G(z, torch.zeros(6, dtype=torch.long))
    b = G(z, torch.full((6,), 3, dtype=torch.long))
    assert (a - b).abs().max() > 1e-3  # same z, another label: another sample
    torch.testing.assert_close(G(z, torch.zeros(6, dtype=torch.long)), a)


def test_condition_vectors_and_argument_errors():
    G = MLPGenerator(4, 64, hidden=(16,), cond_dim=7).eval()
    z = torch.randn(2, 4)
    assert (G(z, torch.zeros(2, 7)) - G(z, torch.ones(2, 7))).abs().max() > 1e-4
    with pytest.raises(ValueError, match="condition vectors of shape \\(2, 7\\)"):
        G(z, torch.zeros(2, 5))
    with pytest.raises(ValueError, match="conditional: pass the labels"):
        G(z)
    with pytest.raises(ValueError, match="unconditional"):
        MLPGenerator(4, 64)(z, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="not both"):
        MLPGenerator(4, 64, n_classes=3, cond_dim=3)
    with pytest.raises(ValueError, match="size must be one of"):
        DCGANGenerator(4, size=12)
    with pytest.raises(ValueError, match="projection=True needs"):
        MLPDiscriminator(64, projection=True)
    with pytest.raises(TypeError, match="latent_dim must be an int"):
        MLPGenerator(4.0, 64)
    with pytest.raises(ValueError, match="output must be one of"):
        MLPGenerator(4, 64, output="relu6")


@pytest.mark.parametrize("kind", ["mlp", "dcgan"])
def test_projection_discriminator_formula(kind):
    """D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, computed by hand from its parts."""
    torch.manual_seed(0)
    if kind == "mlp":
        D = MLPDiscriminator(64, hidden=(16,), n_classes=4, projection=True)
        x = torch.rand(5, 64)
    else:
        D = DCGANDiscriminator(size=8, base=4, n_classes=4, projection=True)
        x = torch.rand(5, 1, 8, 8)
    y = torch.tensor([0, 1, 2, 3, 1])
    h = D.phi(x.reshape(5, -1) if kind == "mlp" else x)
    want = h @ D.psi.weight[0] + D.psi.bias[0] + (D.proj.weight[y] * h).sum(1)
    torch.testing.assert_close(D(x, y), want)
    # only the projection term depends on y: the score difference between two labels is
    # <e(a) - e(b), h>
    ya, yb = torch.zeros(5, dtype=torch.long), torch.full((5,), 2, dtype=torch.long)
    diff = h @ (D.proj.weight[0] - D.proj.weight[2])
    torch.testing.assert_close(D(x, ya) - D(x, yb), diff)


@pytest.mark.parametrize("make", [
    lambda: MLPDiscriminator(64, hidden=(32, 16), n_classes=3, projection=True,
                             spectral_norm=True),
    lambda: DCGANDiscriminator(size=16, base=8, spectral_norm=True),
    lambda: PatchDiscriminator(2, base=8, spectral_norm=True),
])
def test_spectral_norm_makes_the_largest_singular_value_one(make):
    torch.manual_seed(0)
    D = make().train()
    x = torch.rand(4, *((64,) if isinstance(D, MLPDiscriminator) else
                        (1, 16, 16) if isinstance(D, DCGANDiscriminator) else (2, 8, 8)))
    y = torch.tensor([0, 1, 2, 0]) if isinstance(D, MLPDiscriminator) else None
    for _ in range(30):  # one power iteration per training-mode forward
        D(x, y) if y is not None else D(x)
    layers = [m for m in D.modules() if hasattr(m, "parametrizations")]
    assert layers
    for m in layers:
        W = m.weight.detach()
        matrix = W.reshape(W.shape[0], -1) if not isinstance(m, torch.nn.Embedding) else W
        sigma = torch.linalg.matrix_norm(matrix, ord=2)
        assert abs(float(sigma) - 1.0) < 0.02, (m, float(sigma))
        raw = m.parametrizations.weight.original.detach()
        raw_sigma = torch.linalg.matrix_norm(raw.reshape(raw.shape[0], -1), ord=2)
        assert abs(float(raw_sigma) - 1.0) > 0.05  # the raw weight was not already normalised


def test_unet_skip_shapes_and_patch_map():
    torch.manual_seed(0)
    U = UNetGenerator(1, 2, base=4, depth=3)
    out = U(torch.rand(2, 1, 16, 16))
    assert out.shape == (2, 2, 16, 16)
    assert U.skip_shapes == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]
    with pytest.raises(ValueError, match="multiples of 8"):
        U(torch.rand(2, 1, 12, 12))
    P = PatchDiscriminator(3, base=4, n_layers=2)
    assert P(torch.rand(2, 3, 16, 16)).shape == (2, 1, 4, 4)


def test_unet_output_depends_on_fine_input_detail_through_the_skips():
    """A one-pixel change reaches the output at full resolution: the outermost skip carries it."""
    torch.manual_seed(0)
    U = UNetGenerator(1, 1, base=4, depth=2).eval()
    x = torch.rand(1, 1, 8, 8)
    x2 = x.clone()
    x2[0, 0, 3, 3] += 1.0
    assert (U(x) - U(x2)).abs().max() > 1e-4
