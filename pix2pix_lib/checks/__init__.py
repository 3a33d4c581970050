"""Graded checks: the learner's piece of pix2pix against the library's, mistakes named.

The course notebooks 01-05 are exercises: the learner writes a piece (the input pipeline,
the encoder and decoder blocks, the U-Net, the PatchGAN, the losses, the training step), and
a graded check cell calls one function from here, e.g. ``checks.encoder_block(ck)``. The
check compares the piece with the library's version (`reference`) and raises `CheckFailed`
at the first difference, with a message that names the piece and what differs; when it
passes it prints one line saying what was checked.

Every check comes with the mistakes it must catch (`mistakes.CATALOGUE`, planted into the
course notebooks' solutions by tests/test_exercises.py).
"""

from pix2pix_lib.checks.core import CheckFailed
from pix2pix_lib.checks.discriminator import patchgan, receptive_field
from pix2pix_lib.checks.generator import decoder_block, encoder_block, unet
from pix2pix_lib.checks.objective import discriminator_loss, generator_loss
from pix2pix_lib.checks.pipeline import jitter, pair_split, scaling
from pix2pix_lib.checks.training import optimizers, train_step, training_loop

__all__ = [
    "CheckFailed",
    "decoder_block",
    "discriminator_loss",
    "encoder_block",
    "generator_loss",
    "jitter",
    "optimizers",
    "pair_split",
    "patchgan",
    "receptive_field",
    "scaling",
    "train_step",
    "training_loop",
    "unet",
]
