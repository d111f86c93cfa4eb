"""Built-in training tasks (see :mod:`deepdojo.train.task` for the contract)."""

from deepdojo.train.tasks.adversarial import AdversarialTask
from deepdojo.train.tasks.contrastive import ContrastiveTask
from deepdojo.train.tasks.episodic import EpisodicTask
from deepdojo.train.tasks.reconstruction import ReconstructionTask
from deepdojo.train.tasks.supervised import SupervisedTask

__all__ = [
    "AdversarialTask",
    "ContrastiveTask",
    "EpisodicTask",
    "ReconstructionTask",
    "SupervisedTask",
]
