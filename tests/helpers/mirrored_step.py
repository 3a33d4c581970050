"""Run in a fresh process (logical devices must be set before TensorFlow starts):
one Pix2Pix on two logical CPU devices under MirroredStrategy vs the same on one device.
Prints a JSON line with the largest relative difference of every weight after 3 SGD steps, and
the result of a short `runs.train` under the strategy."""

import json
import sys

import numpy as np

from pix2pix_lib.tf_quiet import keras, tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from pix2pix_lib.config import profile  # noqa: E402
from pix2pix_lib.runs import train  # noqa: E402
from pix2pix_lib.trainer import build_pix2pix  # noqa: E402

config = profile("smoke", batch_size=2, dropout=0.0)  # dropout masks differ per replica
rng = np.random.default_rng(0)
source, target = (rng.uniform(-1, 1, (2, 64, 64, 3)).astype("float32") for _ in range(2))


def variables(model):
    return [*model.generator.variables, *model.discriminator.variables]


def trained(strategy, replicas, initial=None):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        # float32 on every machine: "auto" would be mixed bf16 on a CPU with bf16 instructions,
        # too coarse for the 1e-4 comparison below
        model = build_pix2pix(config.replace(precision="fp32"), 10, replicas=replicas)
        # SGD, not Adam: Adam normalises gradients, so it would hide a wrong gradient scale
        # (e.g. forgetting the 1/replicas loss scaling doubles every gradient).
        model.compile(g_optimizer=keras.optimizers.SGD(0.05),
                      d_optimizer=keras.optimizers.SGD(0.05))
    if initial is not None:
        for variable, value in zip(variables(model), initial, strict=True):
            variable.assign(value)
    before = [v.numpy() for v in variables(model)]
    dataset = tf.data.Dataset.from_tensors((source, target)).repeat()
    model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)
    return model, before


single, initial = trained(tf.distribute.get_strategy(), 1)
mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
mirrored, _ = trained(mirrored_strategy, 2, initial)
worst = 0.0
for a, b in zip(variables(single), variables(mirrored), strict=True):
    a, b = a.numpy(), b.numpy()
    if a.dtype.kind == "f":
        worst = max(worst, float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + 1e-12)))
result = train(config.replace(steps=4, log_every=2, checkpoint_every=2, sample_every=2),
               sys.argv[1], sys.argv[2], strategy=mirrored_strategy, verbose=0)
print(json.dumps({
    "replicas": int(mirrored_strategy.num_replicas_in_sync),
    "worst_relative_difference": worst,
    "steps": [int(single.step_counter.numpy()), int(mirrored.step_counter.numpy())],
    "train_final_step": result.final_step,
}))
