"""deepdojo.train: a lean, explicit Trainer and its engine (optimizers, schedules, clipping,
the non-finite guard, checkpoints, LR range test)."""

from deepdojo.train import schedules
from deepdojo.train.callbacks import Callback
from deepdojo.train.checkpoint import CheckpointError, import_weights, load_checkpoint
from deepdojo.train.clipping import ClipGrad
from deepdojo.train.guard import NonFiniteError, NonFiniteGuard
from deepdojo.train.history import History
from deepdojo.train.logging import MetricsLogger
from deepdojo.train.lr_finder import LRFinderResult, lr_find, plot_lr_find
from deepdojo.train.metrics import accuracy
from deepdojo.train.optim import make_optimizer
from deepdojo.train.schedules import Schedule, warmup_cosine
from deepdojo.train.trainer import Trainer

__all__ = [
    "Callback",
    "CheckpointError",
    "ClipGrad",
    "History",
    "LRFinderResult",
    "MetricsLogger",
    "NonFiniteError",
    "NonFiniteGuard",
    "Schedule",
    "Trainer",
    "accuracy",
    "import_weights",
    "load_checkpoint",
    "lr_find",
    "make_optimizer",
    "plot_lr_find",
    "schedules",
    "warmup_cosine",
]
