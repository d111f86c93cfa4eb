"""deepdojo.train: a lean, explicit Trainer for every task (supervised, reconstruction,
adversarial, contrastive, episodic) and its engine (tasks, loop state, optimizers, schedules,
clipping, the non-finite guard, checkpoints, LR range test)."""

from deepdojo.train import schedules
from deepdojo.train.callbacks import Callback
from deepdojo.train.checkpoint import CheckpointError, import_weights, load_checkpoint
from deepdojo.train.clipping import ClipGrad
from deepdojo.train.guard import NonFiniteError, NonFiniteGuard
from deepdojo.train.history import History
from deepdojo.train.logging import MetricsLogger
from deepdojo.train.loop import LoopState
from deepdojo.train.lr_finder import LRFinderResult, lr_find, plot_lr_find
from deepdojo.train.metrics import accuracy
from deepdojo.train.optim import make_optimizer
from deepdojo.train.schedules import Schedule, warmup_cosine
from deepdojo.train.task import EndOfEpoch, Task
from deepdojo.train.trainer import Trainer

__all__ = [
    "Callback",
    "CheckpointError",
    "ClipGrad",
    "EndOfEpoch",
    "History",
    "LoopState",
    "LRFinderResult",
    "MetricsLogger",
    "NonFiniteError",
    "NonFiniteGuard",
    "Schedule",
    "Task",
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
