"""Import TensorFlow once, quietly, and check that it is a version this course supports.

Every module of the library, and every notebook, gets `tf` and `keras` from here::

    from pix2pix_lib.tf_quiet import keras, tf

for two reasons:

* TensorFlow's native start-up chatter ("All log messages before absl::InitializeLog()...",
  "oneDNN custom operations are on...") is written to file descriptor 2 by C++ code, so neither
  `TF_CPP_MIN_LOG_LEVEL` nor Python's `warnings` stop all of it, and Jupyter shows it as a red
  stderr box in the first cell. We point fd 2 at /dev/null for the duration of the import only.
* Cloud notebooks often come with an older TensorFlow or Keras. The floor is TensorFlow 2.16
  with Keras 3.8: the oldest pair the test suite passes on (`make test-oldest`). Older Keras 3
  releases train our step but break the classic recipe's per-output losses (3.3-3.5) or do
  not import beside TensorFlow 2.16 (3.6-3.7); a clear message beats an error deep inside.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

MIN_TF_VERSION = (2, 16)
MIN_KERAS_VERSION = (3, 8)  # also declared in pyproject.toml, so `pip install -e .` upgrades it


@contextlib.contextmanager
def stderr_silenced():
    """Redirect the process-level stderr (fd 2) to /dev/null, restoring it afterwards (also for
    native libraries' chatter later on: the LiteRT interpreter's "Created TensorFlow Lite
    XNNPACK delegate" line)."""
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved_fd, 2)
        os.close(saved_fd)


@contextlib.contextmanager
def quiet_assets_log():
    """Drop TensorFlow's "INFO:tensorflow:Assets written to: ..." line while a SavedModel is
    written (our export, and Keras' ONNX and LiteRT exports, which go through one): even with
    verbose=False it reaches stdout and stderr, a red box in a notebook."""
    logger = logging.getLogger("tensorflow")

    def not_assets(record: logging.LogRecord) -> bool:
        return "Assets written to" not in record.getMessage()

    logger.addFilter(not_assets)
    try:
        yield
    finally:
        logger.removeFilter(not_assets)


def _import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with stderr_silenced():
            import tensorflow as tf_module
    except ImportError as error:
        raise ImportError(
            "pix2pix_lib needs TensorFlow >= 2.16 (Keras 3), which is not installed. Install "
            "it with `pip install 'tensorflow>=2.16'` (or `pip install 'tensorflow-cpu>=2.16'` on"
            " a machine without a GPU), or run `make install` from the project folder."
        ) from error
    if _version(tf_module.__version__) < MIN_TF_VERSION:
        raise ImportError(
            f"pix2pix_lib needs TensorFlow >= 2.16 (Keras 3); this environment has "
            f"{tf_module.__version__}. Upgrade with `pip install -U 'tensorflow>=2.16'` and "
            "restart the kernel (on Colab/Paperspace: Runtime > Restart)."
        )
    return tf_module


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def _check_keras(keras_module) -> None:
    if _version(keras_module.__version__) < MIN_KERAS_VERSION:
        raise ImportError(
            f"pix2pix_lib needs Keras >= 3.8; this environment has {keras_module.__version__}. "
            "Upgrade with `pip install -U 'keras>=3.8'` (or `pip install -e .` in the course "
            "folder) and restart the kernel (on Colab/Paperspace: Runtime > Restart)."
        )
    if _version(keras_module.__version__) >= (4,):
        warnings.warn(
            f"pix2pix_lib is tested with Keras 3 and this environment has Keras "
            f"{keras_module.__version__}: its training step overrides a private Keras 3 method "
            "(Pix2Pix._maybe_symbolic_build). If training fails or resumes inexactly, install "
            "Keras 3 with `pip install 'keras>=3.8,<4'` and restart the kernel.", stacklevel=2)


tf = _import_tensorflow()
import keras  # noqa: E402  (Keras 3 comes with TF >= 2.16; imported after TF so its chatter is gone)

_check_keras(keras)

__all__ = ["keras", "quiet_assets_log", "stderr_silenced", "tf"]
