"""pytest plugin: TensorFlow answers as on a machine with one GPU ("Simulated T4") wherever it
is asked for physical devices (nothing can run on it): a check that the tests inject the
machine they assume. Run, from the project folder:

    PYTHONPATH=tests PIX2PIX_PRECISION=fp16 PIX2PIX_PROFILE=paper PIX2PIX_DATASET=maps \
        .venv/bin/python -m pytest -p helpers.fake_gpu tests --ignore=tests/e2e
"""
import tensorflow as tf

_real_list = tf.config.list_physical_devices
_real_details = tf.config.experimental.get_device_details
FAKE = tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")


def list_physical_devices(device_type=None):
    if device_type == "GPU":
        return [FAKE]
    if device_type is None:
        return [*_real_list(), FAKE]
    return _real_list(device_type)


def get_device_details(device):
    if device.device_type == "GPU":
        return {"device_name": "Simulated T4", "compute_capability": (7, 5)}
    return _real_details(device)


tf.config.list_physical_devices = list_physical_devices
tf.config.experimental.get_device_details = get_device_details
