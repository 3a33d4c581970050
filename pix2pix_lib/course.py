"""What the notebooks run on: the profile, the dataset and the machine, decided in one place.

Every notebook has a parameters cell::

    PROFILE = os.environ.get("PIX2PIX_PROFILE", "auto")
    DATASET = os.environ.get("PIX2PIX_DATASET", "auto")

and hands both to `choose_run_settings`, which turns them into what is really used and prints
why. The rules, so a learner is never surprised:

* profile "auto": `seed` (256 px, the classic 10-epoch run) when a GPU is found, `quick`
  (128 px, a CPU classroom demo) when not. Any named profile (smoke, quick, paper, seed) is used
  as given.
* dataset "auto": the real `maps` dataset when a GPU is found (and the profile is not `smoke`),
  synthetic maps otherwise. "maps" uses ``DATA_ROOT/maps`` when it is there, downloads it
  (246 MB) when the network works, and otherwise falls back to synthetic maps, saying so.
  "synthetic" never touches the network. A path to a folder of your own pairs is used as is.
* synthetic maps are generated on first use: 400 + 50 pairs at 256 px in
  ``DATA_ROOT/synthetic_maps`` (the folder `make train` uses too), or 8 + 4 pairs at 64 px in
  ``DATA_ROOT/synthetic_maps_smoke`` for the smoke profile, so a CI run never leaves a tiny
  dataset where a learner's quick run would pick it up.

Datasets live in ``data/`` and runs in ``runs/`` beside ``notebooks/`` (both git-ignored),
found from the kernel's working directory (`default_roots`), so the course notebooks in
``notebooks/`` and the exercise copies in ``notebooks/exercises/`` share them;
PIX2PIX_DATA_ROOT and PIX2PIX_RUNS_ROOT override both (an nbgrader course folder sets them).
CI runs every notebook with ``PIX2PIX_PROFILE=smoke PIX2PIX_DATASET=synthetic``: seconds,
offline.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pix2pix_lib import datasets
from pix2pix_lib.config import PROFILES, TrainConfig, profile
from pix2pix_lib.pairs import count_images

__all__ = [
    "DATASET_CHOICES",
    "PROFILE_CHOICES",
    "RunSettings",
    "choose_run_settings",
    "default_roots",
    "ensure_synthetic_maps",
    "environment_report",
    "gpu_names",
    "network_available",
    "synthetic_maps_spec",
]

PROFILE_CHOICES = ("auto", *PROFILES)
DATASET_CHOICES = ("auto", "synthetic", "maps")  # or a path to a folder of pairs
DATA_ROOT = "../data"  # where a notebook outside any notebooks/ folder looks (default_roots)
RUNS_ROOT = "../runs"
ROOT_VARIABLES = ("PIX2PIX_DATA_ROOT", "PIX2PIX_RUNS_ROOT")


@dataclass(frozen=True)
class SyntheticSpec:
    """How big the generated synthetic maps dataset is, and where it lives under the data root."""

    folder: str
    n_train: int
    n_val: int
    size: int


def synthetic_maps_spec(profile_name: str) -> SyntheticSpec:
    """The synthetic dataset a profile uses: tiny for `smoke`, the `make train` one otherwise."""
    if profile_name == "smoke":
        return SyntheticSpec("synthetic_maps_smoke", n_train=8, n_val=4, size=64)
    return SyntheticSpec("synthetic_maps", n_train=400, n_val=50, size=256)


@dataclass(frozen=True)
class RunSettings:
    """What a notebook really runs on, and why (see the module docstring for the rules)."""

    profile: str  # a name from config.PROFILES, never "auto"
    dataset: str  # "maps", "synthetic" or "folder"
    data_dir: Path
    runs_dir: Path
    config: TrainConfig
    gpus: tuple[str, ...]
    notes: tuple[str, ...]  # one line per decision that was not simply "as asked"

    @property
    def device(self) -> str:
        return f"GPU: {', '.join(self.gpus)}" if self.gpus else "CPU only (no GPU found)"

    def run_dir(self, name: str) -> Path:
        """A run folder for this profile: ``../runs/<name>-<profile>``."""
        return self.runs_dir / f"{name}-{self.profile}"

    def describe(self) -> str:
        cfg = self.config
        length = f"{cfg.steps} steps" if cfg.steps is not None else f"{cfg.epochs:g} epochs"
        lines = [
            f"Profile: {self.profile} ({cfg.image_size} px, G/D filters "
            f"{cfg.g_filters}/{cfg.d_filters}, batch {cfg.batch_size}, {length})",
            f"Data:    {self.dataset} in {self.data_dir} "
            f"({count_images(self.data_dir / 'train')} train / "
            f"{count_images(self.data_dir / 'val')} val pairs)",
            f"Device:  {self.device}",
        ]
        lines += [f"Note:    {note}" for note in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------


def gpu_names() -> tuple[str, ...]:
    """Names of the GPUs TensorFlow can use (empty on a CPU-only machine)."""
    from pix2pix_lib.hardware import gpu_names as detected_gpu_names

    return detected_gpu_names()


def environment_report() -> dict[str, object]:
    """Python, TensorFlow and Keras versions, GPUs and CPU cores, for the setup notebook."""
    from pix2pix_lib.tf_quiet import keras, tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": gpu_names(),
        "cpu_cores": os.cpu_count() or 1,
    }


def network_available(url: str = datasets.DATASETS["maps"].url, timeout: float = 3.0) -> bool:
    """True when a TCP connection to the server of `url` opens within `timeout` seconds."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _course_root(start: Path) -> Path | None:
    """The folder holding the nearest ``notebooks/`` at or above `start`, if any."""
    for folder in (start, *start.parents):
        if folder.name == "notebooks":
            return folder.parent
    return None


def default_roots(cwd: str | os.PathLike | None = None,
                  environ: dict[str, str] | None = None) -> tuple[Path, Path]:
    """(data root, runs root) for a notebook whose kernel runs in `cwd`.

    PIX2PIX_DATA_ROOT / PIX2PIX_RUNS_ROOT when set; otherwise ``data/`` and ``runs/`` beside
    the nearest ``notebooks/`` folder at or above `cwd` (relative to `cwd`: ``../data`` from
    ``notebooks/``, ``../../data`` from ``notebooks/exercises/``); otherwise ``../data`` and
    ``../runs``.
    """
    cwd = Path.cwd() if cwd is None else Path(cwd)
    environ = os.environ if environ is None else environ
    root = _course_root(cwd.resolve())
    roots = []
    for variable, name, fallback in zip(ROOT_VARIABLES, ("data", "runs"), (DATA_ROOT, RUNS_ROOT),
                                        strict=True):
        if environ.get(variable):
            roots.append(Path(environ[variable]))
        elif root is not None:
            roots.append(Path(os.path.relpath(root / name, cwd.resolve())))
        else:
            roots.append(Path(fallback))
    return roots[0], roots[1]


def _is_complete(folder: Path) -> bool:
    return count_images(folder / "train") > 0 and count_images(folder / "val") > 0


def ensure_synthetic_maps(profile_name: str, data_root: str | os.PathLike) -> Path:
    """The synthetic maps folder for `profile_name`, generated first if it is missing.

    Generated into a temporary folder and renamed into place when complete, so an interrupted
    run, or two notebooks starting at once, never leave a half-written dataset behind.
    """
    spec = synthetic_maps_spec(profile_name)
    root = Path(data_root)
    target = root / spec.folder
    if _is_complete(target):
        return target
    if target.exists():
        raise FileExistsError(
            f"{target} exists but has no train/ and val/ images; delete it and run again."
        )
    root.mkdir(parents=True, exist_ok=True)
    print(f"Generating {spec.n_train} + {spec.n_val} synthetic photo|map pairs "
          f"({spec.size} px) in {target} ...")
    tmp = root / f".{spec.folder}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        datasets.make_synthetic_maps(tmp, n_train=spec.n_train, n_val=spec.n_val,
                                     size=spec.size, seed=0)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: use its copy
            if not _is_complete(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _maps_or_none(root: Path, network: Callable[[], bool], notes: list[str]) -> Path | None:
    """``root/maps``, downloaded if needed and possible; None (with a note) if not."""
    local = root / "maps"
    archive = root / "maps.tar.gz"
    if not (local.exists() or archive.exists() or network()):
        notes.append(
            "The maps server cannot be reached (offline?), so synthetic maps are used instead; "
            "they have the same format (photo | map). Run `pix2pix download maps` when online."
        )
        return None
    try:
        # The download's progress bar writes to stderr, which a notebook shows as an error box.
        with contextlib.redirect_stderr(sys.stdout):
            return datasets.download("maps", root=root)
    except datasets.DownloadError as error:
        notes.append(f"Could not get the maps dataset ({error}); using synthetic maps instead.")
        return None


def choose_run_settings(
    profile_name: str = "auto",
    dataset: str = "auto",
    data_root: str | os.PathLike | None = None,
    runs_root: str | os.PathLike | None = None,
    *,
    gpus: tuple[str, ...] | None = None,
    network: Callable[[], bool] | bool | None = None,
    verbose: bool = True,
) -> RunSettings:
    """Resolve a notebook's PROFILE and DATASET into a `RunSettings` (rules: module docstring).

    `data_root` / `runs_root` default to `default_roots()`. `gpus` (default: detected) and
    `network` (default: `network_available`, only asked when a download is needed) can be
    given to decide without looking, as the tests do. With `verbose` the decision is printed
    (`RunSettings.describe`).
    """
    if profile_name not in PROFILE_CHOICES:
        raise ValueError(
            f"PIX2PIX_PROFILE={profile_name!r} is not one of {', '.join(PROFILE_CHOICES)}."
        )
    default_data, default_runs = default_roots()
    data_root = default_data if data_root is None else data_root
    runs_root = default_runs if runs_root is None else runs_root
    gpus = gpu_names() if gpus is None else tuple(gpus)
    notes: list[str] = []
    profile_name = _choose_profile(profile_name, gpus, notes)
    dataset, data_dir = _choose_dataset(dataset, profile_name, gpus, Path(data_root),
                                        _network_check(network), notes)
    settings = RunSettings(
        profile=profile_name,
        dataset=dataset,
        data_dir=data_dir,
        runs_dir=Path(runs_root),
        config=profile(profile_name),
        gpus=gpus,
        notes=tuple(notes),
    )
    if verbose:
        print(settings.describe())
    return settings


def _network_check(network: Callable[[], bool] | bool | None) -> Callable[[], bool]:
    """`network` as a question to ask only when needed (a fixed answer, or the real check)."""
    if isinstance(network, bool):
        return lambda: network
    return network_available if network is None else network


def _choose_profile(profile_name: str, gpus: tuple[str, ...], notes: list[str]) -> str:
    """ "auto" -> `seed` on a GPU, `quick` on a CPU (with a note); a named profile as given."""
    if profile_name != "auto":
        return profile_name
    notes.append(
        "A GPU was found: the `seed` profile (the classic 10-epoch run at 256 px)."
        if gpus else
        "No GPU found: the `quick` profile (128 px, sized for a CPU). On a GPU the default "
        "is `seed`; set PIX2PIX_PROFILE to choose."
    )
    return "seed" if gpus else "quick"


def _choose_dataset(dataset: str, profile_name: str, gpus: tuple[str, ...], root: Path,
                    network: Callable[[], bool], notes: list[str]) -> tuple[str, Path]:
    """(what the dataset is, its folder): maps, synthetic maps (generated if needed), or a
    folder of the user's pairs; maps falls back to synthetic when it cannot be had."""
    if dataset == "auto":
        dataset = "maps" if gpus and profile_name != "smoke" else "synthetic"
        if dataset == "synthetic":
            notes.append(
                "Synthetic maps (generated offline on first use). The real maps dataset is "
                "used by default on a GPU; set PIX2PIX_DATASET=maps to download it (246 MB)."
            )
    if dataset == "maps":
        data_dir = _maps_or_none(root, network, notes)
        if data_dir is not None:
            return "maps", data_dir
        dataset = "synthetic"
    if dataset == "synthetic":
        return "synthetic", ensure_synthetic_maps(profile_name, root)
    folder = Path(dataset).expanduser()
    if not folder.is_dir():
        raise ValueError(
            f"PIX2PIX_DATASET={dataset!r} is neither one of {', '.join(DATASET_CHOICES)} "
            "nor an existing folder of pairs."
        )
    return "folder", folder
