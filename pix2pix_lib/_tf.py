"""Old name of `pix2pix_lib.tf_quiet`, kept so that older notebooks keep working.

New code: `from pix2pix_lib.tf_quiet import keras, tf`.
"""

from pix2pix_lib.tf_quiet import MIN_TF_VERSION, keras, tf

__all__ = ["MIN_TF_VERSION", "keras", "tf"]
