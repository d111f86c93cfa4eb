"""Registered architectures: build any of them with ``create(name, **kw)``.

``list_models()`` names them; each registration carries an example factory that the registry's
tests use to check every model (output shape, no NaN, a gradient for every parameter).
Add a model in its own module and import that module here.
"""

# Importing a model module registers its models.
from deepdojo.models import autoencoder  # registers the autoencoder family
from deepdojo.models import fewshot as _fewshot  # noqa: F401  registers protonet, siamese
from deepdojo.models import sequence as _sequence  # noqa: F401  registers seq2seq, transformer
from deepdojo.models.autoencoder import (
    VAE,
    AutoEncoder,
    AutoRec,
    ConvAutoEncoder,
    DenoisingAutoEncoder,
    MaskedAutoEncoder,
    MLPAutoEncoder,
    SmilesAutoEncoder,
    SmilesVocabulary,
)
from deepdojo.models.cnn import PlainCNN, ResNetCNN
from deepdojo.models.gan import (  # registers the GAN generators and discriminators
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    PatchDiscriminator,
    UNetGenerator,
    apply_spectral_norm,
)
from deepdojo.models.mlp import PlainMLP, ResNetMLP, init_weights
from deepdojo.models.registry import (
    MODELS,
    ModelExample,
    ModelSpec,
    create,
    get_model_spec,
    list_models,
    register_model,
)
from deepdojo.models.seq2seq import Seq2Seq
from deepdojo.models.ssl import ImageEncoder, ProjectionHead, SignalEncoder, SimCLR

__all__ = [
    "MODELS",
    "VAE",
    "AutoEncoder",
    "AutoRec",
    "ConvAutoEncoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DenoisingAutoEncoder",
    "MLPAutoEncoder",
    "MLPDiscriminator",
    "MLPGenerator",
    "MaskedAutoEncoder",
    "SmilesAutoEncoder",
    "SmilesVocabulary",
    "autoencoder",
    "ModelExample",
    "ModelSpec",
    "PatchDiscriminator",
    "PlainCNN",
    "PlainMLP",
    "ResNetCNN",
    "ResNetMLP",
    "Seq2Seq",
    "SignalEncoder",
    "SimCLR",
    "ImageEncoder",
    "ProjectionHead",
    "UNetGenerator",
    "apply_spectral_norm",
    "create",
    "get_model_spec",
    "init_weights",
    "list_models",
    "register_model",
]
