"""deepdojo.nn."""

from deepdojo.nn.gru import GRU, GRUCell  # noqa: E402,F401
