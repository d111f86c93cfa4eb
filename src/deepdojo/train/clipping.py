r"""Gradient clipping and normalization, applied between backward and the optimizer step.

Modes of :class:`ClipGrad` (gradients :math:`g_k` of parameter tensors :math:`k`,
global norm :math:`\|g\| = (\sum_k \|g_k\|^p)^{1/p}`):

- ``max_norm=c``: :math:`g \leftarrow g \cdot \min(1, c / (\|g\| + 10^{-6}))`, exactly
  ``torch.nn.utils.clip_grad_norm_``.
- ``max_value=v``: :math:`g \leftarrow \mathrm{clamp}(g, -v, v)` element-wise, exactly
  ``torch.nn.utils.clip_grad_value_``.
- ``target_norm=c``: global normalization, :math:`g \leftarrow g \cdot c / (\|g\| + 10^{-6})`
  (scales up as well as down: the step size no longer depends on the gradient's size).
- ``per_layer=True`` with ``max_norm`` or ``target_norm``: the same rule applied to each
  parameter tensor with its own norm :math:`\|g_k\|` (layer-wise normalization, as in LARS).

Sparse gradients (``nn.Embedding(sparse=True)``) work in every mode: their norms are taken,
and ``max_value`` clamps, on the coalesced values (an index listed twice is summed first), so
the result equals that of the same gradient held dense.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.nn.utils.clip_grad import _clip_grads_with_norm_, _get_total_norm

_EPS = 1e-6  # the same epsilon torch's clip_grad_norm_ uses


def grad_norms(grads: list[torch.Tensor], norm_type: float = 2.0) -> list[torch.Tensor]:
    """Per-tensor ``norm_type``-norms of ``grads`` (0-d tensors), dense ones by one fused
    ``torch._foreach_norm``. A sparse gradient (``nn.Embedding(sparse=True)``), which that
    call has no kernel for, is measured on its coalesced values (a sparse gradient may list
    an index twice; coalescing sums them first)."""
    try:
        return list(torch._foreach_norm(grads, norm_type))
    except (NotImplementedError, RuntimeError):
        if not any(g.is_sparse for g in grads):
            raise
    return [torch.linalg.vector_norm(g.coalesce().values() if g.is_sparse else g, norm_type)
            for g in grads]  # fmt: skip


class ClipGrad:
    """Clip or normalize gradients in place; ``Trainer(clip=ClipGrad(max_norm=1.0))``.

    Parameters
    ----------
    max_norm : float or None
        Upper bound on the gradient norm (global, or per tensor with ``per_layer``).
    max_value : float or None
        Bound on each gradient element's absolute value.
    target_norm : float or None
        Rescale the gradient to exactly this norm (global, or per tensor with ``per_layer``).
    norm_type : float
        The p of the p-norm (``float("inf")`` allowed).
    per_layer : bool
        Apply ``max_norm``/``target_norm`` per parameter tensor instead of globally.

    Exactly one of ``max_norm``, ``max_value``, ``target_norm`` must be given. Calling the object
    returns the global gradient norm before clipping (a 0-d tensor), like ``clip_grad_norm_``.
    """

    def __init__(
        self,
        max_norm: float | None = None,
        max_value: float | None = None,
        *,
        target_norm: float | None = None,
        norm_type: float = 2.0,
        per_layer: bool = False,
    ) -> None:
        given = {
            k: v
            for k, v in (("max_norm", max_norm), ("max_value", max_value),
                         ("target_norm", target_norm))
            if v is not None
        }  # fmt: skip
        if len(given) != 1:
            raise ValueError(
                f"ClipGrad needs exactly one of max_norm, max_value, target_norm; got {given}"
            )
        ((name, value),) = given.items()
        if not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
        if per_layer and max_value is not None:
            raise ValueError("per_layer applies to max_norm or target_norm, not max_value")
        self.max_norm = max_norm
        self.max_value = max_value
        self.target_norm = target_norm
        self.norm_type = float(norm_type)
        self.per_layer = per_layer

    def __call__(
        self,
        parameters: Iterable[torch.Tensor],
        norms: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Clip the ``.grad`` of ``parameters`` in place; return the global norm before.

        ``norms`` may pass the per-tensor gradient norms already computed for this step (the
        non-finite guard does), in the order of the parameters that have a gradient.
        """
        params = [p for p in parameters if p.grad is not None]
        if not params:
            return torch.zeros(())
        grads = [p.grad for p in params]
        if norms is None or self.norm_type != 2.0:
            norms = grad_norms(grads, self.norm_type)
        total = _get_total_norm(norms, self.norm_type)
        if self.max_value is not None:
            if any(g.is_sparse for g in grads):
                grads = _clamp_sparse(params, self.max_value)
            if grads:
                torch._foreach_clamp_min_(grads, -self.max_value)
                torch._foreach_clamp_max_(grads, self.max_value)
        elif self.per_layer:
            self._per_layer(grads, norms)
        elif self.max_norm is not None:
            _clip_grads_with_norm_(params, self.max_norm, total)
        else:
            torch._foreach_mul_(grads, self.target_norm / (total + _EPS))
        return total

    def _per_layer(self, grads: list[torch.Tensor], norms: list[torch.Tensor]) -> None:
        bound = self.max_norm if self.max_norm is not None else self.target_norm
        coefs = torch._foreach_reciprocal(torch._foreach_add(norms, _EPS))
        torch._foreach_mul_(coefs, bound)  # bound / (||g_k|| + eps)
        if self.max_norm is not None:
            torch._foreach_clamp_max_(coefs, 1.0)
        torch._foreach_mul_(grads, coefs)

    def __repr__(self) -> str:
        mode = {k: v for k, v in vars(self).items() if v is not None and v is not False}
        return f"ClipGrad({', '.join(f'{k}={v}' for k, v in mode.items())})"


def _clamp_sparse(params: list[torch.Tensor], bound: float) -> list[torch.Tensor]:
    """Clamp every sparse ``.grad`` of ``params`` (each has one) to ``[-bound, bound]``
    element-wise, on its coalesced values (an index listed twice is summed first, as the dense
    gradient would be), which replace the gradient; return the dense gradients, left for the
    caller to clamp."""
    dense = []
    for p in params:
        g = p.grad
        if g.is_sparse:
            g = g.coalesce()
            g.values().clamp_(-bound, bound)
            p.grad = g
        else:
            dense.append(g)
    return dense
