"""Datasets in the standard pix2pix layout: the official archives, and synthetic maps.

Two ways to get paired data (one image per pair, A | B side by side, in ``train/``, ``val/``,
``test/`` folders):

    official         :func:`download` one of the archives the pix2pix authors publish
                     (:data:`DATASETS`), extracted safely
    synthetic_maps   :func:`make_synthetic_maps`, a procedural satellite-photo -> web-map
                     dataset: no network, seconds, the course's offline default
    map_scene        the synthetic tiles' layout (what is where), which synthetic_maps renders

Every public name is importable from here (`pix2pix_lib.datasets.download`, ...). This package
needs numpy, Pillow and the standard library only: no TensorFlow.
"""

from pix2pix_lib.datasets.official import (
    BASE_URL,
    DATASETS,
    SYNTH_MAPS_COMMAND,
    DatasetInfo,
    DownloadError,
    download,
)
from pix2pix_lib.datasets.synthetic_maps import (
    MAP_PALETTE,
    make_synthetic_maps,
    render_synthetic_pair,
)

__all__ = [
    "BASE_URL",
    "DATASETS",
    "DatasetInfo",
    "DownloadError",
    "MAP_PALETTE",
    "SYNTH_MAPS_COMMAND",
    "download",
    "make_synthetic_maps",
    "render_synthetic_pair",
]
