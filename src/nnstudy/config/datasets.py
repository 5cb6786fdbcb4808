"""The catalog: every data set nnstudy knows, one entry each, the only place its facts live.

An entry says what the data set is, which reader decodes it (a key of
`nnstudy.data.load.READERS`), where its files are (the data block's `root` or `path`, or
nowhere), whether they hold a test split, its class names, and, for one that can be
downloaded, its mirrors, its files with their sha256, and the unpack hook (a key of
`nnstudy.data.unpack.UNPACKERS`) that turns the downloaded files into what the reader reads.
The config room validates `data.name` and its keys against the catalog; the data room
downloads, unpacks and reads by it. This module imports nothing of nnstudy, so the config
room (the ground floor) can read it.

A data set in a format nnstudy reads already (IDX, CIFAR-10 pickles, image folders, npz) is
added with one entry here; a new format also needs a reader (docs/data.md, "Adding a data
set").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The splits of every loaded data set, in order.
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class RemoteFile:
    """One published file and the sha256 of its bytes."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Download:
    """Where a data set's files are published (mirrors, tried in order), what they hash to, and
    the unpack hook run on them once they are all there (None: the reader reads them as they
    are)."""

    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    unpack: str | None = None


@dataclass(frozen=True)
class Location:
    """The key of the data block that says where the files are, and what it names."""

    key: Literal["root", "path"]
    what: str
    required: bool = True


@dataclass(frozen=True)
class Dataset:
    """One data set of the catalog.

    `classes` are the class names in label order, empty where the files name them (folders,
    npz). `own_test`: the files hold a test split (so `fractions` does not apply).
    `valid_in_files`: the files may hold a validation split (a folder's `valid/`, an npz's
    `x_valid`), so whether there is one is known only once they are read. `options`:
    further keys of the data block that only this data set's reader takes.
    """

    name: str
    summary: str
    reader: str
    location: Location | None = None
    own_test: bool = False
    valid_in_files: bool = False
    classes: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    download: Download | None = None
    homepage: str = ""


#: A downloadable data set's `root`: optional, the cache is used without it.
ROOT_OR_CACHE = Location(
    "root", "a folder with the published files (without root they are downloaded)", False
)

#: The four files of an MNIST-style data set, as published: train, then test (t10k).
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def idx_dataset(
    name: str,
    summary: str,
    mirrors: tuple[str, ...],
    sha256: dict[str, str],
    classes: tuple[str, ...],
    homepage: str,
) -> Dataset:
    """An MNIST-style data set: the four gzip IDX files of IDX_FILES, read as downloaded
    (the IDX reader gunzips in memory), with the sha256 of each file by name."""
    if set(sha256) != set(IDX_FILES):
        raise ValueError(f"{name}: sha256 must name exactly the files {', '.join(IDX_FILES)}")
    files = tuple(RemoteFile(f, sha256[f]) for f in IDX_FILES)
    return Dataset(
        name,
        summary,
        reader="idx",
        location=ROOT_OR_CACHE,
        own_test=True,
        classes=classes,
        download=Download(mirrors, files),
        homepage=homepage,
    )


_ENTRIES = (
    Dataset(
        "digits",
        "scikit-learn's 1,797 handwritten digits, 8x8, values 0..16 (ships with scikit-learn)",
        reader="digits",
        classes=tuple("0123456789"),
        homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
    ),
    idx_dataset(
        "mnist",
        "MNIST: 70,000 handwritten digits, 28x28 grey",
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        {
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        },
        tuple("0123456789"),
        "http://yann.lecun.com/exdb/mnist/",
    ),
    idx_dataset(
        "fashion_mnist",
        "Fashion-MNIST: 70,000 Zalando article images, 28x28 grey, 10 classes",
        (
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ),
        {
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
            ),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        },
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        "https://github.com/zalandoresearch/fashion-mnist",
    ),
    idx_dataset(
        "kmnist",
        "Kuzushiji-MNIST: 70,000 cursive Japanese characters, 28x28 grey",
        (
            "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        ),
        {
            "train-images-idx3-ubyte.gz": (
                "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"
            ),
            "train-labels-idx1-ubyte.gz": (
                "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"
            ),
        },
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        "https://github.com/rois-codh/kmnist",
    ),
    Dataset(
        "cifar10",
        "CIFAR-10: 60,000 colour images, 32x32, 10 classes",
        reader="cifar",
        location=ROOT_OR_CACHE,
        own_test=True,
        classes=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        download=Download(
            ("https://www.cs.toronto.edu/~kriz/",),
            (
                RemoteFile(
                    "cifar-10-python.tar.gz",
                    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                ),
            ),
            unpack="tar",
        ),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    Dataset(
        "folder",
        "an image folder: root/<split>/<class>/* or root/<class>/*",
        reader="folder",
        location=Location("root", "the image folder"),
        valid_in_files=True,
        options=("color",),
    ),
    Dataset(
        "npz",
        "arrays x, y (and x_valid, y_valid, x_test, y_test, classes) in a NumPy .npz file",
        reader="npz",
        location=Location("path", "the .npz file"),
        valid_in_files=True,
    ),
)

#: Every data set by name, in the order the docs and the CLI list them.
CATALOG: dict[str, Dataset] = {d.name: d for d in _ENTRIES}
