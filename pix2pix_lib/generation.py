"""Running a generator: conventional inference, or the paper's test-time mode without its trap.

`generate(generator, source, paper_mode=True)` follows the paper (section 3.3): dropout on and
BatchNorm on the statistics of the batch being translated, as in training, but without the Keras
trap of folding those statistics into the moving mean and variance (`call_restoring` puts them
back). paper_mode=False is Keras' `training=False`. Training (validation, sample grids), metrics
and translation all call it.
"""

from __future__ import annotations

from pix2pix_lib.tf_quiet import keras, tf

__all__ = ["call_restoring", "generate"]


def call_restoring(variables, function, *args, **kwargs):
    """function(*args, **kwargs), with `variables` set back to their values from before it.

    The values are read before the call and assigned back after it; the reads and writes are
    ordinary ops ordered by data and control dependencies (the writes wait for every output),
    so this also works inside a tf.function and creates no variable.
    """
    variables = list(variables)
    saved = [tf.identity(tf.convert_to_tensor(variable)) for variable in variables]
    outputs = function(*args, **kwargs)
    with tf.control_dependencies(tf.nest.flatten(outputs)):
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)
    return outputs


def _call_keeping_state(generator: keras.Model, source: tf.Tensor) -> tf.Tensor:
    """generator(source, training=True) with every weight left as it was.

    In training mode Keras BatchNorm normalises with the batch's own statistics, as the paper
    wants at test time, but it also folds them into its moving mean and variance, so each such
    "inference" call silently changes the model. We read the non-trainable weights (the moving
    statistics; a forward pass changes nothing else) before the call and assign them back after
    it (`call_restoring`). Dropout's random-seed state is not a weight (`non_trainable_weights`
    excludes it) and keeps advancing, so each call draws a fresh dropout mask, as in the paper.
    """
    return call_restoring(generator.non_trainable_weights, generator, source, training=True)


def generate(generator: keras.Model, source, paper_mode: bool = True) -> tf.Tensor:
    """Translate `source` (a batch, or one image without batch axis) with `generator`; float32.

    paper_mode=True follows the paper (section 3.3): the generator runs exactly as in training,
    dropout on and BatchNorm on the statistics of the batch being translated (instance
    normalisation at batch size 1), but without touching the moving statistics (see
    `_call_keeping_state`). The output is then stochastic, and depends on the other images of the
    batch when the generator uses BatchNorm at batch size > 1. paper_mode=False is the
    conventional `training=False`: no dropout, BatchNorm on its moving statistics, deterministic.
    """
    source = tf.convert_to_tensor(source)
    single = source.shape.rank == 3
    if single:
        source = source[tf.newaxis]
    if paper_mode:
        outputs = _call_keeping_state(generator, source)
    else:
        outputs = generator(source, training=False)
    outputs = tf.cast(outputs, tf.float32)
    return outputs[0] if single else outputs
