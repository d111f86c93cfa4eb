"""Built-in training tasks (see :mod:`deepdojo.train.task` for the contract)."""

from deepdojo.train.tasks.reconstruction import ReconstructionTask
from deepdojo.train.tasks.supervised import SupervisedTask

__all__ = ["ReconstructionTask", "SupervisedTask"]
