"""deepdojo.data: bundled and generated datasets, seeded splits and real-format loaders.

Nothing here downloads: digits, breast cancer and the sample photos ship with scikit-learn,
MNIST-1D is generated from the ``mnist1d`` package's templates, and the format loaders read
files the user gives.
"""

from deepdojo.data import augment, prompts
from deepdojo.data.datasets import (
    DataSplits,
    Split,
    load_breast_cancer,
    load_digits,
    load_mnist1d,
    sample_images,
    train_val_test_split,
)
from deepdojo.data.episodes import (
    Episode,
    EpisodeBatch,
    EpisodeDataset,
    EpisodeSampler,
    collate_episode,
    episode_loader,
)
from deepdojo.data.formats import (
    DataFormatError,
    load_cifar10_batch,
    load_csv,
    load_mnist_idx,
    read_idx,
)
from deepdojo.data.gestures import make_gestures, rasterise_strokes
from deepdojo.data.glyphs import glyph_splits, make_glyphs
from deepdojo.data.omniglot import (
    ImageClasses,
    OneShotRun,
    load_image_folder,
    load_omniglot,
    load_runs,
)

__all__ = [
    "ImageClasses",
    "OneShotRun",
    "glyph_splits",
    "load_image_folder",
    "load_omniglot",
    "load_runs",
    "make_glyphs",
    "make_gestures",
    "rasterise_strokes",
    "DataFormatError",
    "DataSplits",
    "Episode",
    "EpisodeBatch",
    "EpisodeDataset",
    "EpisodeSampler",
    "Split",
    "collate_episode",
    "episode_loader",
    "augment",
    "prompts",
    "load_breast_cancer",
    "load_cifar10_batch",
    "load_csv",
    "load_digits",
    "load_mnist1d",
    "load_mnist_idx",
    "read_idx",
    "sample_images",
    "train_val_test_split",
]
