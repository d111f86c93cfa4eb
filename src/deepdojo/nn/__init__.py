"""deepdojo.nn."""

from deepdojo.nn.attention import (  # noqa: E402,F401
    AdditiveAttention,
    DotProductAttention,
    GeneralAttention,
    MultiHeadAttention,
)
from deepdojo.nn.gru import GRU, GRUCell  # noqa: E402,F401
from deepdojo.nn.init import initialize  # noqa: E402,F401  (zeros/normal/uniform/Xavier/He)
from deepdojo.nn.losses import (  # noqa: E402,F401
    ClassBalancedLoss,
    FocalLoss,
    GANLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    VAELoss,
    effective_number_weights,
    gan_loss,
    gradient_penalty,
    nt_xent,
    vae_loss,
)
from deepdojo.nn.regularization import Regularizer, l1_penalty, l2_penalty  # noqa: E402,F401
from deepdojo.nn.residual import ResidualBlock  # noqa: E402,F401
from deepdojo.nn.transformer import (  # noqa: E402,F401
    Transformer,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)
