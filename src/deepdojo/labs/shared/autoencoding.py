"""Autoencoder training shared by the autoencoder labs (``autoencoders``, ``autoencoder-apps``).

:func:`fit_reconstruction` trains any autoencoder with :class:`ReconstructionTask`'s own loss
(plain, denoising via ``noise_std``, VAE via ``vae=True``) in a plain mini-batch Adam loop
(forward, loss, backward, step, zero_grad) and keeps the weights of the epoch with the best
validation reconstruction error, so every arm is compared at its best-validation checkpoint.
:func:`pick` chooses a setting from a grid on validation numbers only.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from deepdojo.train.tasks import ReconstructionTask

K = TypeVar("K")


@dataclass(frozen=True)
class FitResult:
    """Best validation error (per-element MSE of the clean reconstruction), its epoch, and
    whether the run diverged (a non-finite loss)."""

    val_mse: float
    best_epoch: int
    diverged: bool


def recon_of(model: nn.Module, X: Tensor) -> Tensor:
    """The model's clean reconstruction of ``X`` in eval mode (a VAE decodes its mean)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        out = model(X)
    model.train(was)
    return out[0] if isinstance(out, tuple) else out


def mse_of(model: nn.Module, X: Tensor, target: Tensor | None = None) -> float:
    """Per-element MSE between the reconstruction of ``X`` and ``target`` (default ``X``)."""
    target = X if target is None else target
    return float((recon_of(model, X) - target).pow(2).mean())


def fit_reconstruction(model: nn.Module, X: Tensor, X_val: Tensor, *, epochs: int, lr: float,
                       batch_size: int = 128, seed: int = 0, noise_std: float = 0.0,
                       vae: bool = False, beta: float = 1.0, reconstruction: str = "mse",
                       val_target: Tensor | None = None,
                       val_input: Tensor | None = None) -> FitResult:
    """Adam on ``ReconstructionTask(model, ...).losses``; restores the best-validation weights.

    Validation error is the clean per-element MSE of ``recon(val_input or X_val)`` against
    ``val_target or X_val`` (for a denoiser: noisy validation inputs, clean targets).
    """
    torch.manual_seed(seed)
    task = ReconstructionTask(model, noise_std=noise_std, vae=vae, beta=beta, lr=lr,
                              reconstruction=reconstruction)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    v_in = X_val if val_input is None else val_input
    best, best_epoch, state = math.inf, -1, copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(X), generator=gen).split(batch_size):
            loss = task.losses(X[idx])["loss"]  # forward + loss (corruption inside the task)
            if not torch.isfinite(loss):
                model.load_state_dict(state)
                return FitResult(best, best_epoch, True)
            loss.backward()
            opt.step()
            opt.zero_grad()
        val = mse_of(model, v_in, X_val if val_target is None else val_target)
        if val < best:
            best, best_epoch, state = val, epoch, copy.deepcopy(model.state_dict())
    model.load_state_dict(state)
    model.eval()
    return FitResult(best, best_epoch, False)


_FITS: dict[tuple[Hashable, ...], tuple[dict[str, Tensor], FitResult]] = {}


def _fingerprint(t: Tensor | None) -> tuple[object, ...] | None:
    if t is None:
        return None
    a = t.detach().contiguous().numpy()
    return (tuple(a.shape), str(a.dtype), hashlib.sha1(a.tobytes()).hexdigest())


def cached_fit(tag: Hashable, build: Callable[[], nn.Module], X: Tensor, X_val: Tensor, *,
               init_seed: int, **fit_kw: Any) -> tuple[nn.Module, FitResult]:
    """``torch.manual_seed(init_seed); model = build()``, then :func:`fit_reconstruction` --
    or, when the same fit (``tag`` naming the architecture, the data's bytes, ``init_seed``
    and every keyword) ran before since :func:`clear_fit_cache`, its stored weights.

    Training is deterministic on CPU (seeded init and batch order), so a cached fit returns
    the weights a rerun would give: the labs reuse, e.g., the first seed's tuning fit at the
    chosen learning rate instead of training it again.
    """
    val_in, val_target = fit_kw.get("val_input"), fit_kw.get("val_target")
    key = (tag, init_seed, _fingerprint(X), _fingerprint(X_val), _fingerprint(val_in),
           _fingerprint(val_target),
           tuple(sorted((k, v) for k, v in fit_kw.items()
                        if k not in ("val_input", "val_target"))))
    torch.manual_seed(init_seed)
    model = build()
    if key in _FITS:
        state, res = _FITS[key]
        model.load_state_dict(state)
        model.train(res.diverged)  # fit_reconstruction leaves a converged model in eval mode
        return model, res
    res = fit_reconstruction(model, X, X_val, **fit_kw)
    _FITS[key] = (copy.deepcopy(model.state_dict()), res)
    return model, res


def clear_fit_cache() -> None:
    """Forget the fits :func:`cached_fit` stored (call at a lab run's start and end)."""
    _FITS.clear()


def pick(grid: Sequence[K], score: Callable[[K], float]) -> tuple[K, dict[K, float]]:
    """The grid value with the lowest validation ``score`` (NaN/inf never chosen), and all
    scores."""
    scores = {g: score(g) for g in grid}
    finite = {g: s for g, s in scores.items() if math.isfinite(s)}
    chosen = min(finite, key=finite.__getitem__) if finite else grid[0]
    return chosen, scores


def manifold_data(n: int, kind: str, seed: int, dim: int = 20) -> tuple[torch.Tensor, ...]:
    """Train/val/test rows on a 2-D structure in ``dim`` features, centred on train.

    ``nonlinear``: ``z ~ U(-1, 1)^2``, ``x = sin(3 z W1 + b) W2 + 0.05 e`` (a curved sheet);
    ``linear`` (the control): ``x = z A + 0.05 e``, a flat plane, where PCA is optimal.
    """
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, (n, 2))
    if kind == "nonlinear":
        W1, b = rng.standard_normal((2, dim)), rng.uniform(0, 2 * math.pi, dim)
        x = np.sin(3 * z @ W1 + b) @ rng.standard_normal((dim, dim)) / math.sqrt(dim)
    else:
        x = z @ rng.standard_normal((2, dim))
    x = x / x.std() + 0.05 * rng.standard_normal((n, dim))
    n_tr, n_va = int(0.6 * n), int(0.2 * n)
    x = x - x[:n_tr].mean(0)
    t = torch.tensor(x, dtype=torch.float32)
    return t[:n_tr], t[n_tr:n_tr + n_va], t[n_tr + n_va:]


def record_sections(ctx, sections: Sequence[tuple[str, tuple[str, ...], tuple[str, ...], str]]
                    ) -> None:
    """Record the ``sections`` table the report groups a lab's page by.

    Call it after every claim is stated (before full-only claims are dropped, so that those
    are named in their section as decided at full scale). Each section is ``(title,
    claim-id prefixes, figure names, time key)``; its claims are the stated ones whose id
    starts with a prefix, its run time the ``time.<key>_cpu_s`` metric when recorded. See
    :mod:`deepdojo.report.runpage` for the table's format.
    """
    ids = [c.id for c in ctx.claims]
    ctx.table("sections", [
        {"section": title, "claims": " ".join(i for i in ids if i.startswith(prefixes)),
         "figures": " ".join(figures), "cpu_s": ctx.metrics.get(f"time.{key}_cpu_s")}
        for title, prefixes, figures, key in sections])
