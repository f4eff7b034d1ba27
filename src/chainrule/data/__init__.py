"""Data: datasets, batching, transforms, file formats, and named datasets.

* ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split`` — map-style
  datasets as in ``torch.utils.data``.
* ``DataLoader`` — batches with reproducible shuffling from an explicit NumPy generator, and a
  fast path for ``TensorDataset`` (one indexing per batch, no per-sample loop).
* ``transforms`` — ``Normalize``, ``Flatten``, ``OneHot``, ``Compose``, ``standardize``, and the
  image-batch augmentations ``random_crop`` and ``random_horizontal_flip`` (``MappedLoader``
  applies them batch by batch).
* ``load_dataset(name, root=None, split="train")`` / ``available_datasets()`` — digits, mnist1d,
  fashion-mnist, mnist, cifar10, moons, spirals, circles.
* ``formats`` — IDX and CIFAR-10 readers (the CIFAR reader never runs arbitrary pickle code).
"""

from chainrule.data import formats, synthetic, transforms
from chainrule.data.dataloader import DataLoader, MappedLoader, default_collate
from chainrule.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from chainrule.data.datasets import (
    available_datasets,
    data_dir,
    load_cifar10,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_mnist1d,
    register_dataset,
)
from chainrule.data.formats import read_cifar10_batch, read_idx, write_idx
from chainrule.data.synthetic import make_circles, make_moons, make_spirals
from chainrule.data.transforms import (
    Compose,
    Flatten,
    Normalize,
    OneHot,
    normalize,
    one_hot,
    random_crop,
    random_horizontal_flip,
    standardize,
)

__all__ = [
    "Dataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "random_split",
    "DataLoader",
    "MappedLoader",
    "default_collate",
    "formats",
    "synthetic",
    "transforms",
    "available_datasets",
    "data_dir",
    "load_dataset",
    "register_dataset",
    "load_digits",
    "load_mnist1d",
    "load_fashion_mnist",
    "load_mnist",
    "load_cifar10",
    "read_idx",
    "write_idx",
    "read_cifar10_batch",
    "make_moons",
    "make_spirals",
    "make_circles",
    "Compose",
    "Flatten",
    "Normalize",
    "OneHot",
    "normalize",
    "one_hot",
    "random_crop",
    "random_horizontal_flip",
    "standardize",
]
