"""pix2pix_lib: the tested library behind the pix2pix course.

Modules, in the order data flows through them (no module imports one further down this chain):

    config    TrainConfig and the named profiles (smoke, quick, paper, seed)
    data      scan/validate paired images, split, tf.data pipelines, the paper's jitter
    datasets  the official datasets (download) and the offline synthetic maps generator
    models    encoder/decoder blocks, U-Net and encoder-decoder generators, PatchGAN
    losses    the pix2pix generator and discriminator losses
    trainer   Pix2Pix(keras.Model), run folders, checkpoints and exact resume
    cli       the `pix2pix` command

Importing the package itself does not import TensorFlow; the modules that need it do.
"""

__version__ = "0.1.0"
