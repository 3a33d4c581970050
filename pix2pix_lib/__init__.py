"""pix2pix_lib: the tested library behind the pix2pix course.

Modules, in the order data flows through them (no module imports one further down this list):

    common       small shared helpers: atomic writes, text tables, number checks, progress line
    config       TrainConfig, its allowed values (the enums) and the named profiles
    tf_quiet     TensorFlow and Keras, imported quietly (notebooks import them from here too)
    pairs        pair files without TensorFlow: find, check, split into train and val
    datasets     the official archives (download, safe extraction) and the synthetic maps
    hardware     devices, distribution strategy, what "auto" precision and XLA become
    data         pixels: load, halves, value ranges, the paper's jitter, tf.data pipelines
    models       U-Net and encoder-decoder generators, PatchGAN, receptive fields, summaries
    generation   a generator run in conventional or the paper's test-time mode (`generate`)
    losses       the pix2pix objective: D's loss and G's total (gan_weight x GAN + l1_weight x L1)
    optimizers   FusedAdam: Keras' Adam with TensorFlow's one-pass update
    trainer      Pix2Pix(keras.Model): the training step, and the builders from a config
    run_folder   RunFolder: a run folder's layout, checkpoints, samples, history (no TensorFlow)
    checkpointing  when a run checkpoints; writing checkpoints in the background
    runs         `train`: a run folder trained with `fit`, exactly resumable
    inference    a trained generator loaded and run on images of any size (resize or tiles)
    inference_files  translating image files: read, translate, write back in their format
    metrics      L1, PSNR, SSIM, map accuracy, realism, next to baselines
    portable     ONNX and LiteRT files written by Keras' `Model.export`, each checked against
                 Keras through its own runtime
    experiments  the paper's ablations at classroom scale
    classic      the classic Keras train_on_batch recipe, kept to show its traps
    bench        training throughput: our step beside the reference loops
    bench_checkpoints  what a checkpoint costs a run: written in the loop vs in the background
    viz          figures for the notebooks (matplotlib, no pyplot)
    widgets      interactive explorers for the notebooks (ipywidgets), the upload translator
    paint        the map painter: a canvas (anywidget) wired to a map -> photo generator
    web_runtime  the web page's browser runtime (onnxruntime-web): fetched once, verified, cached
    web_page     a static web page running the generator in the browser (paint, or drop a photo)
    export       a run exported: .keras + SavedModel + README, ONNX, LiteRT, the web page
    course       what a notebook runs on: profile, dataset, machine, where data and runs live
    checks       the exercises' graded checks (the learner's piece against the library's, in
                 `checks.reference`), and the catalogue of mistakes each must catch
    exercises    the course notebooks as exercises: student copies, planted mistakes, nbgrader
    teaching     the teacher's guide's generated part (Check-yourself answers, mistakes)
    cli          the `pix2pix` command

Importing the package itself does not import TensorFlow; the modules that need it do.
"""

__version__ = "0.1.0"
