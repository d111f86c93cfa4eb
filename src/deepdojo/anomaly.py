"""An autoencoder anomaly detector with scikit-learn's outlier-detector conventions.

Reconstruction error is the anomaly score: an autoencoder trained on (mostly) normal rows
rebuilds rows like them well and unusual rows badly. The estimator follows
:class:`sklearn.ensemble.IsolationForest`'s contract:

- ``fit(X)`` returns ``self``; learned state ends in ``_``;
- ``score_samples(X) = -reconstruction_error(X)``: higher means more normal;
- ``decision_function(X) = score_samples(X) - offset_``, negative for outliers;
- ``predict(X)``: ``+1`` inlier, ``-1`` outlier (``decision_function < 0``);
- ``offset_`` is the ``contamination`` quantile of the training scores, so that share of the
  training rows is flagged.

It sits above ``models`` and ``train`` (it trains with :class:`deepdojo.train.Trainer` and
:class:`deepdojo.train.tasks.ReconstructionTask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from deepdojo.models.autoencoder import VAE, MLPAutoEncoder

__all__ = ["AutoEncoderDetector"]


class AutoEncoderDetector(OutlierMixin, BaseEstimator):
    """Anomaly detection by autoencoder reconstruction error (scikit-learn outlier API).

    Parameters
    ----------
    code_size : int
        Bottleneck size ``Z``.
    hidden : tuple of int
        Encoder widths (the decoder mirrors them).
    contamination : float in (0, 0.5]
        Share of the training rows to flag as outliers; sets ``offset_``.
    vae : bool
        Use a :class:`~deepdojo.models.VAE` (score: reconstruction error of the mean code)
        instead of a plain :class:`~deepdojo.models.MLPAutoEncoder`.
    beta : float
        KL weight when ``vae=True``.
    noise_std : float
        Train as a denoising autoencoder with this input noise (on standardized features).
    epochs, batch_size, lr : int, int, float
        Adam training of the reconstruction loss.
    standardize : bool
        Scale each feature to zero mean and unit variance on the training rows first.
    random_state : int
        Seeds the initialisation, batches and noise.

    Attributes
    ----------
    model_ : nn.Module
        The trained autoencoder.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Standardization fitted on ``X``.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Features seen in ``fit``.

    Examples
    --------
    >>> det = AutoEncoderDetector(contamination=0.05).fit(X_train)   # doctest: +SKIP
    >>> det.predict(X_test)                                            # doctest: +SKIP
    """

    def __init__(self, code_size: int = 4, hidden: Sequence[int] = (32,),
                 contamination: float = 0.1, vae: bool = False, beta: float = 1.0,
                 noise_std: float = 0.0, epochs: int = 50, batch_size: int = 64,
                 lr: float = 1e-3, standardize: bool = True, random_state: int = 0) -> None:
        self.code_size = code_size
        self.hidden = hidden
        self.contamination = contamination
        self.vae = vae
        self.beta = beta
        self.noise_std = noise_std
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.standardize = standardize
        self.random_state = random_state

    def _check_params(self) -> None:
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, int | float) or not 0 < c <= 0.5:
            raise ValueError(f"contamination must be a float in (0, 0.5], got {c!r}")
        for name in ("epochs", "batch_size", "code_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")

    def fit(self, X: Any, y: Any = None) -> AutoEncoderDetector:
        """Train the autoencoder on ``X`` (n_samples, n_features) and set ``offset_``."""
        from deepdojo.train import Trainer
        from deepdojo.train.tasks import ReconstructionTask

        self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        self.mean_ = X.mean(axis=0) if self.standardize else np.zeros(X.shape[1])
        scale = X.std(axis=0) if self.standardize else np.ones(X.shape[1])
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        Xt = self._scaled(X)
        torch.manual_seed(int(self.random_state))
        d = X.shape[1]
        if self.vae:
            model: torch.nn.Module = VAE(d, int(self.code_size), tuple(self.hidden) or (32,))
        else:
            model = MLPAutoEncoder(d, int(self.code_size), tuple(self.hidden))
        task = ReconstructionTask(model, noise_std=float(self.noise_std), vae=bool(self.vae),
                                  beta=float(self.beta), lr=float(self.lr))  # fmt: skip
        trainer = Trainer(task, seed=int(self.random_state), progress="off", device="cpu")
        trainer.fit(Xt, epochs=int(self.epochs), batch_size=int(self.batch_size))
        # Scores in float64: a row's score then does not depend on the batch it comes in with
        # (float32 BLAS kernels differ by batch size), as sklearn's subset-invariance expects.
        self.model_ = model.double().eval()
        self.offset_ = float(np.quantile(self.score_samples(X), float(self.contamination)))
        return self

    def _scaled(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)

    def reconstruction_error(self, X: Any) -> np.ndarray:
        """Mean squared reconstruction error per row (standardized units), shape (n_samples,)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Xt = self._scaled(X).double()
        with torch.no_grad():
            out = self.model_(Xt)
            recon = out[0] if isinstance(out, tuple) else out  # a VAE in eval mode decodes mu
        return (recon - Xt).pow(2).mean(dim=1).numpy()

    def score_samples(self, X: Any) -> np.ndarray:
        """``-reconstruction_error(X)``: higher means more normal."""
        return -self.reconstruction_error(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        check_is_fitted(self, "offset_")
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """``+1`` for inliers, ``-1`` for outliers (``decision_function(X) < 0``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
