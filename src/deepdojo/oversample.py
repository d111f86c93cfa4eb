"""A GAN oversampler with imbalanced-learn's sampler interface (usable where ``SMOTE`` is).

``GANOverSampler().fit_resample(X, y)`` returns ``X`` and ``y`` with synthetic rows appended
for the classes that ``sampling_strategy`` asks to grow (imbalanced-learn's rules: ``"auto"``
grows every class but the majority up to the majority's count; ``"minority"``, ``"not
majority"``, ``"all"``, a float ratio for binary problems, or a dict ``{class: n_samples}``).

How the rows are made: the columns are standardized with the training mean and std; a
conditional GAN (:class:`~deepdojo.models.MLPGenerator` with a label embedding against a
projection :class:`~deepdojo.models.MLPDiscriminator` with spectral norm, non-saturating loss,
trained on *every* class with :class:`~deepdojo.train.tasks.AdversarialTask`) learns
``p(x | y)``; the synthetic rows of class ``c`` are ``G(z, c)``, ``z ~ N(0, I)``, mapped back to
the data's scale and clipped to each column's observed range. Every class helps train the
shared layers, so a minority class borrows structure from the others (Douzas & Bacao, 2018,
"Effective data generation for imbalanced learning using conditional GANs").

It lives above ``train`` (not in :mod:`deepdojo.data`, which imports no higher layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

__all__ = ["GANOverSampler"]


class GANOverSampler(BaseOverSampler):
    """Oversample with a conditional GAN.

    Parameters
    ----------
    sampling_strategy : str, float, dict or callable
        Which classes to grow and to how many rows (imbalanced-learn's meaning).
    epochs : int
        Passes over the data for the GAN.
    latent_dim : int
        Size of ``z``.
    hidden : tuple of int
        Hidden widths of both networks.
    batch_size : int
    lr : float
        Adam learning rate of both networks (betas 0.5, 0.999).
    random_state : int, RandomState or None
        Seeds the initialisation, the batches and the latents: the same value gives the same
        rows (on CPU).

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class: rows added}`` (set by imbalanced-learn's ``fit_resample``).
    generator_ : MLPGenerator
        The trained conditional generator (on standardized columns).
    classes_ : ndarray
        The class values, in the order of the generator's label embedding.
    history_ : History
        The GAN's training history (``train_loss_d``, ``train_loss_g`` per epoch).
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden": [tuple, list],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, sampling_strategy: Any = "auto", epochs: int = 300,
                 latent_dim: int = 16, hidden: Sequence[int] = (64, 64), batch_size: int = 64,
                 lr: float = 1e-3, random_state: Any = None) -> None:
        super().__init__(sampling_strategy=sampling_strategy)
        self.epochs = epochs
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state

    def _fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from deepdojo.models.gan import MLPDiscriminator, MLPGenerator
        from deepdojo.train import Trainer
        from deepdojo.train.tasks import AdversarialTask

        X = np.asarray(X, dtype=np.float64)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        self.classes_, codes = np.unique(y, return_inverse=True)
        mean, std = X.mean(axis=0), X.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        Xs = torch.as_tensor((X - mean) / std, dtype=torch.float32)  # (N, D)
        labels = torch.as_tensor(codes, dtype=torch.long)  # (N,)
        torch.manual_seed(seed)
        K, D = len(self.classes_), X.shape[1]
        hidden = tuple(int(h) for h in self.hidden)
        G = MLPGenerator(self.latent_dim, D, hidden, n_classes=max(K, 2), output="identity")
        Dn = MLPDiscriminator(D, hidden, n_classes=max(K, 2), projection=True,
                              spectral_norm=True)  # fmt: skip
        task = AdversarialTask(G, Dn, self.latent_dim, lr=self.lr, conditional=True)
        trainer = Trainer(task, device="cpu", progress="off", seed=seed)
        self.history_ = trainer.fit((Xs, labels), epochs=self.epochs,
                                    batch_size=min(self.batch_size, len(Xs)))
        G.eval()
        self.generator_ = G
        gen = torch.Generator().manual_seed(seed + 1)
        new_X, new_y = [X], [np.asarray(y)]
        low, high = X.min(axis=0), X.max(axis=0)
        for cls, n in self.sampling_strategy_.items():
            if n <= 0:
                continue
            index = int(np.flatnonzero(self.classes_ == cls)[0])
            z = torch.randn(n, self.latent_dim, generator=gen)
            with torch.no_grad():
                rows = G(z, torch.full((n,), index, dtype=torch.long)).double().numpy()
            new_X.append(np.clip(rows * std + mean, low, high))
            new_y.append(np.full(n, cls, dtype=np.asarray(y).dtype))
        return np.concatenate(new_X), np.concatenate(new_y)
