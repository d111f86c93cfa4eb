"""An autoencoder imputer with scikit-learn's transformer API (usable where ``SimpleImputer`` is).

``AutoEncoderImputer().fit_transform(X)`` fills the NaN cells of ``X``: columns are
standardized with their observed mean and std, a :class:`~deepdojo.models.MaskedAutoEncoder`
learns to rebuild observed cells while a further ``mask_fraction`` of them is hidden from its
input (so it must predict cells from the others), and the missing cells take the model's
output. Observed cells are returned unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from deepdojo.models.autoencoder import MaskedAutoEncoder, masked_mse

__all__ = ["AutoEncoderImputer"]


class AutoEncoderImputer(TransformerMixin, BaseEstimator):
    """Fill missing values (NaN) with a masked autoencoder.

    Parameters
    ----------
    code_size : int
        Bottleneck size.
    hidden : tuple of int
        Encoder widths.
    mask_fraction : float in [0, 1)
        Share of observed cells hidden from the input at each training step.
    epochs, batch_size, lr, weight_decay : int, int, float, float
        Adam training of :func:`~deepdojo.models.autoencoder.masked_mse` on observed cells.
    random_state : int
        Seeds the initialisation, batches and masks.

    Attributes
    ----------
    model_ : MaskedAutoEncoder
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Observed-cell mean and std of each column (a column never observed gets 0 and 1).
    n_features_in_ : int
    """

    def __init__(self, code_size: int = 16, hidden: Sequence[int] = (64,),
                 mask_fraction: float = 0.25, epochs: int = 100, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 0.0, random_state: int = 0) -> None:
        self.code_size = code_size
        self.hidden = hidden
        self.mask_fraction = mask_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> AutoEncoderImputer:
        """Learn to rebuild the observed cells of ``X`` (n_samples, n_features)."""
        for name in ("epochs", "batch_size", "code_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        observed = np.isfinite(X)
        with np.errstate(all="ignore"):
            mean = np.nanmean(np.where(observed, X, np.nan), axis=0)
            std = np.nanstd(np.where(observed, X, np.nan), axis=0)
        self.mean_ = np.nan_to_num(mean, nan=0.0)
        self.scale_ = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        Xt, M = self._scaled(X)
        torch.manual_seed(int(self.random_state))
        gen = torch.Generator().manual_seed(int(self.random_state))
        model = MaskedAutoEncoder(X.shape[1], int(self.code_size), tuple(self.hidden),
                                  mask_fraction=float(self.mask_fraction))  # fmt: skip
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr),
                               weight_decay=float(self.weight_decay))  # fmt: skip
        n, bs = len(Xt), int(self.batch_size)
        model.train()
        for _ in range(int(self.epochs)):
            for idx in torch.randperm(n, generator=gen).split(bs):
                xb, mb = Xt[idx], M[idx]  # (b, D)
                loss = masked_mse(model(xb, mb), xb, mb)  # forward, loss on observed cells
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model_ = model.eval()
        return self

    def _scaled(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        M = np.isfinite(X)
        Z = np.where(M, (X - self.mean_) / self.scale_, 0.0)
        return torch.as_tensor(Z, dtype=torch.float32), torch.as_tensor(M)

    def transform(self, X: Any) -> np.ndarray:
        """``X`` with every NaN replaced by the model's reconstruction (observed cells kept)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        Xt, M = self._scaled(X)
        with torch.no_grad():
            recon = self.model_(Xt, M).double().numpy() * self.scale_ + self.mean_
        return np.where(M.numpy(), X, recon)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
