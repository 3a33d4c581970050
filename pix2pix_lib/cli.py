"""The `pix2pix` command: a thin layer over the library (README: "The command line").

Each subcommand parses its flags, calls one library function and prints the result. Errors a
user can fix (bad files, a missing folder, an existing run) go to stderr as one clear message
with exit status 1, without a traceback unless --debug is given.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import time
import typing
import warnings
from pathlib import Path

from pix2pix_lib.config import (
    CHANNEL_COUNTS,
    DIRECTIONS,
    PRECISIONS,
    PROFILES,
    TrainConfig,
    profile,
)
from pix2pix_lib.pairs import ON_BAD_POLICIES
from pix2pix_lib.run_folder import RunFolder


def _cmd_synth_maps(args) -> int:
    from pix2pix_lib.datasets import make_synthetic_maps

    started = time.perf_counter()
    root = make_synthetic_maps(
        args.out, n_train=args.train, n_val=args.val, size=args.size, seed=args.seed,
        progress=True,
    )
    seconds = time.perf_counter() - started
    count = args.train + args.val
    print(f"Wrote {count} synthetic photo|map pairs to {root}/train and {root}/val "
          f"({count / max(seconds, 1e-9):.0f} pairs/s).")
    return 0


def _cmd_download(args) -> int:
    from pix2pix_lib.datasets import download

    path = download(args.name, root=args.root)
    print(f"{args.name} is ready in {path}")
    return 0


def _cmd_check(args) -> int:
    from pix2pix_lib.pairs import check_pairs, find_splits

    folders = find_splits(args.dir) or {"": Path(args.dir)}
    n_good, bad = 0, []
    for folder in folders.values():
        good, bad_here = check_pairs(folder, channels=args.channels, report=print)
        n_good += len(good)
        bad.extend(bad_here)
    for item in bad:
        print(f"{item.path}: {item.reason}")
    where = ", ".join(f"{name}/" for name in folders if name) or str(args.dir)
    print(f"{n_good} valid pairs, {len(bad)} bad files ({where}).", file=sys.stderr)
    return 1 if bad else 0


# --- train -------------------------------------------------------------------------------------
_TRAIN_FLAGS = {  # CLI flag dest -> TrainConfig field, for the flags the README names
    "direction": "direction", "image_size": "image_size", "steps": "steps", "epochs": "epochs",
    "batch_size": "batch_size", "seed": "seed",
}


def _parse_setting(text: str) -> tuple[str, object]:
    """`field=value` -> (field, value converted to the field's type)."""
    name, sep, raw = text.partition("=")
    types = typing.get_type_hints(TrainConfig)
    if not sep or name not in types:
        known = ", ".join(f.name for f in dataclasses.fields(TrainConfig))
        raise ValueError(f"--set {text!r}: expected FIELD=VALUE with FIELD one of: {known}.")
    kind = types[name]
    options = [t for t in typing.get_args(kind) if t is not type(None)] or [kind]
    if raw.lower() in ("none", "null") and type(None) in typing.get_args(kind):
        return name, None
    target = options[0]
    try:
        if target is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return name, raw.lower() in ("true", "1", "yes")
        return name, target(raw)
    except ValueError:
        raise ValueError(f"--set {text!r}: {raw!r} is not a valid {target.__name__}.") from None


def _train_config(args) -> TrainConfig:
    overrides = {field: getattr(args, dest) for dest, field in _TRAIN_FLAGS.items()
                 if getattr(args, dest) is not None}
    if args.steps is not None:
        overrides["epochs"] = None
    elif args.epochs is not None:
        overrides["steps"] = None
    if args.precision is not None:
        overrides["precision"] = args.precision
    if args.xla is not None:
        overrides["jit_compile"] = {"auto": None, "on": True, "off": False}[args.xla]
    overrides.update(_parse_setting(text) for text in args.set)
    if args.resume:
        saved = TrainConfig.load(RunFolder(args.out).config_path)
        return saved.replace(**overrides)
    return profile(args.profile, **overrides)


def _cmd_train(args) -> int:
    config = _train_config(args)
    from pix2pix_lib.runs import tensorboard_available, train

    print(f"Training {'(resumed) ' if args.resume else ''}profile={args.profile} "
          f"image_size={config.image_size} batch_size={config.batch_size} -> {args.out}",
          file=sys.stderr)
    started = time.perf_counter()
    result = train(config, args.data, args.out, val_data=args.val_data, resume=args.resume,
                   on_bad=args.on_bad, verbose=2 if args.quiet else "auto")
    steps = result.final_step - result.start_step
    seconds = time.perf_counter() - started
    print(f"Trained steps {result.start_step}..{result.final_step} in {seconds:.0f} s "
          f"({steps / max(seconds, 1e-9):.2f} steps/s); checkpoints held training up for "
          f"{result.checkpoint_wait_s:.1f} s.")
    print(f"Samples: {result.run.samples_dir}   history: {result.run.history_path}")
    print(f"Generator: {result.run.generator_path}")
    if tensorboard_available():
        print(f"TensorBoard: tensorboard --logdir {result.run.logs_dir}")
    else:
        print("TensorBoard logs are off: pip install tensorboard (or the [tensorboard] extra) "
              "to write and view them.")
    return 0


def _json_number(value):
    """Strict JSON has no Infinity/NaN: a perfect match's PSNR (infinite) is written as null."""
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def _cmd_evaluate(args) -> int:
    from pix2pix_lib.metrics import evaluate_run, format_report

    results = evaluate_run(args.run, args.data, batch_size=args.batch_size,
                           paper_mode=not args.conventional, l1_only_run=args.l1_only,
                           report=print)
    print(format_report(results))
    if args.json:
        model = results["model"]
        line = {key: _json_number(model[key]) for key in ("l1", "psnr", "ssim")}
        line["n"] = int(model["n"])
        line["map_accuracy"] = _json_number(model["map_accuracy"])
        line["realism"] = _json_number(model["realism"])
        line["baselines"] = {
            name: {k: _json_number(v) for k, v in values.items() if k != "n"}
            for name, values in results.items() if name != "model"
        }
        print(json.dumps(line))
    return 0


def _cmd_translate(args) -> int:
    from pix2pix_lib.inference import load_run
    from pix2pix_lib.inference_files import translate_files

    generator, config = load_run(args.run)
    tile = {"auto": None, "always": True, "never": False}[args.tile]
    written = translate_files(
        generator, args.inputs, args.out, config=config, overwrite=args.overwrite,
        paper_mode=not args.conventional, pairs=args.pairs, tile=tile, scale=args.scale,
        report=print,
    )
    print(f"Translated {len(written)} image(s) into {args.out}")
    return 0


def _cmd_export(args) -> int:
    from pix2pix_lib.export import export_run

    formats = tuple(args.format or (("keras",) if args.out else ()))
    result = export_run(args.run, out=args.out, formats=formats, web=args.web, data=args.data,
                        overwrite=args.overwrite)
    for kind, path in result["paths"].items():
        print(f"{kind:12s} {path}")
    saved_model = result["paths"].get("saved_model")
    if saved_model:
        print(f'Use from plain TensorFlow: m = tf.saved_model.load("{saved_model}"); '
              "y = m.serve(x)  # x: float32 [N,S,S,C] in [-1, 1]")
    page = result["web"]
    if page is not None:
        print(f"web page     {page.folder} ({page.size_bytes / 1e6:.1f} MB). Serve it, e.g. "
              f"python -m http.server -d {page.folder} 8000, and open http://localhost:8000")
    return 0


def _cmd_web_runtime(args) -> int:
    from pix2pix_lib.web_runtime import NPM_REGISTRY, fetch_runtime

    fetch_runtime(cache_dir=args.cache, registry=args.registry or NPM_REGISTRY)
    return 0


def _cmd_bench(args) -> int:
    if args.checkpoints:
        from pix2pix_lib.bench_checkpoints import format_checkpoint_report, run_checkpoint_bench

        result = run_checkpoint_bench(image_size=args.image_size, steps=args.checkpoint_steps,
                                      every=args.checkpoint_every, rounds=args.windows,
                                      scratch=args.scratch)
        print(format_checkpoint_report(result))
        if args.json:
            print(json.dumps(result))
        return 0
    from pix2pix_lib.bench import format_report, run_bench, to_json

    result = run_bench(image_size=args.image_size, batch_size=args.batch_size, steps=args.steps,
                       windows=args.windows, large_batch=args.large_batch)
    print(format_report(result))
    if args.json:
        print(to_json(result))
    return 0


def _cmd_exercises(args) -> int:
    from pix2pix_lib import exercises

    if args.action == "write":
        out = Path(args.out) if args.out else None
        for path in exercises.write_student_notebooks(out_dir=out):
            print(f"wrote {path}")
        return 0
    if args.action == "guide":
        from pix2pix_lib.teaching import update_guide

        changed = update_guide(Path(args.guide), exercises.course_notebooks_dir())
        print(f"{'updated' if changed else 'already up to date:'} {args.guide}")
        return 0
    if args.action == "nbgrader":
        assignments = exercises.make_nbgrader_course(Path(args.folder))
        print(f"nbgrader course in {args.folder}: assignments {', '.join(assignments)}.\n"
              f"Next: cd {args.folder} && nbgrader generate_assignment ASSIGNMENT "
              "(README: Teaching with the course)")
        return 0
    from pix2pix_lib.checks.mistakes import CATALOGUE

    chosen = [m for m in CATALOGUE if not args.notebook or m.notebook.startswith(args.notebook)]
    results = [exercises.run_mistake(mistake) for mistake in chosen]
    table = exercises.catalogue_markdown if args.markdown else exercises.catalogue_table
    print(table(results), end="" if args.markdown else "\n")
    return 0 if all(result.caught for result in results) else 1


def _default_out(profile_name: str) -> str:
    return str(Path("runs") / f"{profile_name}-{time.strftime('%Y%m%d-%H%M%S')}")


# --- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pix2pix", description="pix2pix course: data, training and evaluation commands."
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser("synth-maps", help="generate the offline synthetic maps dataset")
    synth.add_argument("out", help="folder to create (train/ and val/ inside)")
    synth.add_argument("--train", type=int, default=400, help="training pairs (default 400)")
    synth.add_argument("--val", type=int, default=50, help="validation pairs (default 50)")
    synth.add_argument("--size", type=int, default=256, help="pixels per half (default 256)")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(func=_cmd_synth_maps)

    download = commands.add_parser("download", help="download an official pix2pix dataset")
    download.add_argument("name", help="facades, cityscapes, maps, edges2shoes, edges2handbags, "
                                       "night2day")
    download.add_argument("--root", default="data", help="where datasets live (default data/)")
    download.set_defaults(func=_cmd_download)

    check = commands.add_parser("check", help="validate every pair in a folder or dataset root")
    check.add_argument("dir")
    check.add_argument("--channels", type=int, default=3, choices=CHANNEL_COUNTS)
    check.set_defaults(func=_cmd_check)

    train = commands.add_parser("train", help="train pix2pix into a run folder")
    train.add_argument("--data", required=True, help="dataset root (train/ + val/) or a folder")
    train.add_argument("--val-data", help="validation folder (default: DATA/val or a split)")
    train.add_argument("--direction", choices=DIRECTIONS)
    train.add_argument("--profile", choices=tuple(PROFILES), default="quick")
    train.add_argument("--image-size", type=int)
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total steps to reach (counts resumed steps)")
    length.add_argument("--epochs", type=float, help="total epochs to reach")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--out", help="run folder (default runs/PROFILE-DATE-TIME)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--seed", type=int)
    train.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="override any TrainConfig field, e.g. --set l1_weight=10 "
                            "--set receptive_field=16 (repeatable)")
    train.add_argument("--precision", choices=PRECISIONS,
                       help="auto (default) is chosen for the devices found: on a GPU mixed "
                            "float16 (and XLA, see --xla); on a CPU mixed bfloat16 where it "
                            "has bf16 instructions (avx512_bf16, AMX), float32 elsewhere. The "
                            "PIX2PIX_PRECISION environment variable overrides auto")
    train.add_argument("--xla", choices=("auto", "on", "off"),
                       help="XLA compilation (jit_compile); auto (default): on for a GPU, off "
                            "on a CPU")
    train.add_argument("--on-bad", choices=ON_BAD_POLICIES, default="raise",
                       help="bad image files: stop with a list (default) or skip them")
    train.add_argument("--quiet", action="store_true", help="one line per log interval")
    train.set_defaults(func=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="score a run on val/test pairs vs baselines")
    evaluate.add_argument("--run", required=True, help="run folder (with generator.keras)")
    evaluate.add_argument("--data", required=True, help="folder of pairs or dataset root")
    evaluate.add_argument("--json", action="store_true",
                          help='last line: {"l1":..,"psnr":..,"ssim":..,"n":..} plus extras')
    evaluate.add_argument("--l1-only", metavar="RUN", help="an L1-only run to add as a baseline")
    evaluate.add_argument("--batch-size", type=int)
    evaluate.add_argument("--conventional", action="store_true",
                          help="training=False inference (default: the paper's, dropout on)")
    evaluate.set_defaults(func=_cmd_evaluate)

    translate = commands.add_parser("translate", help="translate your own images with a run")
    translate.add_argument("--run", required=True)
    translate.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    translate.add_argument("--out", required=True, help="output folder (same names and sizes)")
    translate.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    translate.add_argument("--pairs", action="store_true",
                           help="inputs are side-by-side pairs: translate their source half")
    translate.add_argument("--tile", choices=("auto", "always", "never"), default="auto",
                           help="auto: resize images up to 4x the model size, tile larger ones")
    translate.add_argument("--scale", type=float, default=1.0,
                           help="tiles: resize the image by this factor first")
    translate.add_argument("--conventional", action="store_true",
                           help="training=False inference (default: the paper's)")
    translate.set_defaults(func=_cmd_translate)

    export = commands.add_parser(
        "export", help="write the generator as .keras + SavedModel, ONNX, LiteRT, or a web page")
    export.add_argument("--run", required=True)
    export.add_argument("--out", help="folder for the --format files")
    export.add_argument("--format", nargs="+", metavar="FORMAT",
                        help="keras (default: .keras + SavedModel + README), onnx, litert; "
                             "onnx and litert are checked against Keras when written")
    export.add_argument("--web", metavar="DIR",
                        help="also write a static web page that runs the model in the browser")
    export.add_argument("--data", help="dataset root or folder of pairs: its first val images "
                                       "are the checks' inputs and the page's first image")
    export.add_argument("--overwrite", action="store_true")
    export.set_defaults(func=_cmd_export)

    web_runtime = commands.add_parser(
        "web-runtime", help="download the web page's browser runtime (onnxruntime-web) once")
    web_runtime.add_argument("--registry", help="npm registry (default registry.npmjs.org)")
    web_runtime.add_argument("--cache", help="cache folder (default ~/.cache/pix2pix-course)")
    web_runtime.set_defaults(func=_cmd_web_runtime)

    bench = commands.add_parser("bench", help="training speed: ours vs the reference loops")
    bench.add_argument("--image-size", type=int, default=256)
    bench.add_argument("--batch-size", type=int, default=1)
    bench.add_argument("--steps", type=int, default=5, help="steps per timed window")
    bench.add_argument("--windows", type=int, default=3,
                       help="timed windows (median); --checkpoints: runs of each kind (mean)")
    bench.add_argument("--large-batch", type=int, default=8,
                       help="the batch size of the scaling row")
    bench.add_argument("--json", action="store_true", help="last line: the results as JSON")
    bench.add_argument("--checkpoints", action="store_true",
                       help="instead: what a checkpoint costs a run, written in the loop vs "
                            "in the background")
    bench.add_argument("--checkpoint-steps", type=int, default=100,
                       help="--checkpoints: steps per run (default 100)")
    bench.add_argument("--checkpoint-every", type=int, default=20,
                       help="--checkpoints: steps between checkpoints (default 20)")
    bench.add_argument("--scratch", help="--checkpoints: a folder on the disk to measure "
                                         "(default: the temporary folder)")
    bench.set_defaults(func=_cmd_bench)

    exercise = commands.add_parser(
        "exercises", help="the exercises: student copies, the mistakes the checks catch, nbgrader")
    actions = exercise.add_subparsers(dest="action", required=True, metavar="ACTION")
    write = actions.add_parser("write", help="make notebooks/exercises/ from the course notebooks")
    write.add_argument("--out", help="folder for the student copies (default notebooks/exercises)")
    mistakes = actions.add_parser(
        "mistakes", help="plant every catalogued mistake and print what each check says")
    mistakes.add_argument("--notebook", help="only this notebook's, e.g. 02")
    mistakes.add_argument("--markdown", action="store_true", help="a Markdown table per notebook")
    guide = actions.add_parser(
        "guide", help="rewrite the generated part of the teacher's guide (docs/teaching.md)")
    guide.add_argument("--guide", default="docs/teaching.md")
    grader = actions.add_parser("nbgrader", help="make an nbgrader course folder for a class")
    grader.add_argument("folder", help="a new folder for the course")
    exercise.set_defaults(func=_cmd_exercises)
    return parser


@contextlib.contextmanager
def _warnings_as_lines(prefix: str, debug: bool):
    """Warnings (a skipped bad file, an unreadable checkpoint passed over) as one
    `pix2pix CMD: warning: ...` message on stderr, without the source line Python shows."""
    if debug:
        yield
        return

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}: warning: {message}", file=sys.stderr if file is None else file)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "train":
        if args.resume and not args.out:
            parser.error("--resume needs --out RUN (the run folder to continue).")
        args.out = args.out or _default_out(args.profile)
    try:
        with _warnings_as_lines(f"pix2pix {args.command}", args.debug):
            return args.func(args)
    except KeyboardInterrupt:
        print("Interrupted. A run continues from its last checkpoint with --resume.",
              file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, ImportError) as error:
        if args.debug:
            raise
        print(f"pix2pix {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
