"""`tenfold bodyreshape ...`: reshape a photo from keypoints, detect keypoints (optional), train, evaluate.

Every path and number is checked before any work starts, so a bad invocation ends in one named
error line and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError
from tenfold.core.io import check_input_file, check_output_path
from tenfold.core.validation import check_number

app = typer.Typer(help="Body reshaping with structure-aware flows (FBBR, CVPR 2022).", no_args_is_help=True)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
METHOD_NAMES = ("learned", "capsule", "mls", "liquify")
VARIANT_NAMES = ("full", "no_aff", "no_sp")


@app.command("reshape")
def reshape_command(
    image: Annotated[Path, typer.Argument(help="Photo to reshape (PNG/JPEG; EXIF orientation is applied).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the reshaped image.")],
    keypoints: Annotated[Path | None, typer.Option(help="COCO-18 keypoints JSON: (18,3) or (P,18,3) of x, y, conf in pixels.")] = None,
    method: Annotated[str, typer.Option(help="learned (the shipped model, or --checkpoint), capsule, mls or liquify.")] = "capsule",
    checkpoint: Annotated[Path | None, typer.Option(help="Flow-generator .safetensors from `tenfold bodyreshape train` (default: the shipped one).")] = None,
    degree: Annotated[float, typer.Option(help="Strength µ: 0 = unchanged, 1 = the method's default, <0 widens; |µ| <= 2.")] = 1.0,
    torso: Annotated[float | None, typer.Option(help="Per-part degree for the torso (multiplies --degree).")] = None,
    arms: Annotated[float | None, typer.Option(help="Per-part degree for the arms.")] = None,
    legs: Annotated[float | None, typer.Option(help="Per-part degree for the legs.")] = None,
    strength: Annotated[float | None, typer.Option(help="Slimming strength of capsule/MLS/liquify in [0, 1] (default per method).")] = None,
    width_scale: Annotated[float | None, typer.Option(help="Multiplies the body widths guessed from bone lengths, in [0.25, 4] (default per method).")] = None,
    suppress_px: Annotated[float, typer.Option(help="Soft-threshold |flow| by this many pixels (official CVPR setting: 3).")] = 0.0,
    detect: Annotated[bool, typer.Option("--detect", help="Find keypoints with mediapipe (extra 'pose') instead of --keypoints.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when no person is found instead of copying the input.")] = False,
    flow_out: Annotated[Path | None, typer.Option(help="Also save the backward flow (H, W, 2) as .npy.")] = None,
) -> None:
    """Reshape the people in IMAGE and write OUTPUT (written atomically; nothing is left on error)."""
    if (keypoints is None) == (not detect):
        raise BadConfigError("give either --keypoints K.json or --detect (mediapipe, extra 'pose')")
    if method not in METHOD_NAMES:
        raise BadConfigError(f"--method {method!r}: use one of {', '.join(METHOD_NAMES)}")
    if checkpoint is not None and method != "learned":
        raise BadConfigError("--checkpoint is only used by --method learned")
    check_input_file(image, option="IMAGE", what="image")
    if keypoints is not None:
        check_input_file(keypoints, option="--keypoints", suffixes=(".json",), what="keypoints JSON file")
    if checkpoint is not None:
        check_input_file(checkpoint, option="--checkpoint", what="checkpoint")
    check_output_path(output, option="--output", suffixes=IMAGE_SUFFIXES)
    if flow_out is not None:
        check_output_path(flow_out, option="--flow-out", suffixes=(".npy",))
        if flow_out.resolve() == output.resolve():
            raise BadConfigError("--flow-out and --output name the same file; give two paths")
    check_number("--suppress-px", suppress_px, low=0.0, high=1000.0)

    import numpy as np

    from tenfold.bodyreshape.images import prepare_image, read_image_file, write_image_file
    from tenfold.bodyreshape.keypoints import load_keypoints
    from tenfold.bodyreshape.pipeline import BodyReshaper, check_degree

    degree = check_degree(degree, what="--degree")
    parts = {name: check_degree(value, what=f"--{name}")
             for name, value in (("torso", torso), ("arms", arms), ("legs", legs)) if value is not None}
    if strength is not None:
        check_number("--strength", strength, low=0.0, high=1.0)
    if width_scale is not None:
        check_number("--width-scale", width_scale, low=0.25, high=4.0)
    model = None
    if method == "learned":
        from tenfold.bodyreshape.training import load_checkpoint, shipped_checkpoint

        model = load_checkpoint(checkpoint if checkpoint is not None else shipped_checkpoint())
    reshaper = BodyReshaper(method=method, model=model, degree=degree, parts=parts or None, strength=strength,
                            width_scale=width_scale, suppress_px=suppress_px, strict=strict)
    pixels = read_image_file(image)
    prepare_image(pixels, what=f"IMAGE {image}")  # size and range first: the keypoints are judged against it
    if detect:
        from tenfold.bodyreshape.pose import detect_keypoints

        people = detect_keypoints(pixels)
    else:
        assert keypoints is not None
        people = load_keypoints(keypoints, image_size=(pixels.shape[1], pixels.shape[0]))
    result = reshaper.reshape(pixels, people)
    if flow_out is not None:
        from tenfold.core.io import atomic_save_npy

        atomic_save_npy(flow_out, result.flow)
    write_image_file(output, result.image, result.alpha)
    magnitude = float(np.linalg.norm(result.flow, axis=-1).max()) if result.flow.size else 0.0
    typer.echo(f"{result.status}: {result.people} person(s), max |flow| {magnitude:.1f} px, "
               f"min det {result.min_det:.2f}; {result.guard_text()} -> {output}")


@app.command("keypoints")
def keypoints_command(
    image: Annotated[Path, typer.Argument(help="Photo to find a person in.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON file for the COCO-18 keypoints.")],
) -> None:
    """Detect COCO-18 keypoints with mediapipe 0.10.21 (optional extra 'pose') and save them as JSON."""
    check_input_file(image, option="IMAGE", what="image")
    check_output_path(output, option="--output", suffixes=(".json",))

    from tenfold.bodyreshape.images import read_image_file
    from tenfold.bodyreshape.keypoints import keypoints_to_json
    from tenfold.bodyreshape.pose import detect_keypoints
    from tenfold.core.io import atomic_write_text

    pixels = read_image_file(image)
    people = detect_keypoints(pixels)
    atomic_write_text(output, keypoints_to_json(people, image_size=(pixels.shape[1], pixels.shape[0])))
    typer.echo(f"keypoints -> {output}")


@app.command("train")
def train_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint file to write (.safetensors; its recipe goes beside it as .recipe.json).")],
    variant: Annotated[str, typer.Option(help="full, no_aff (w/o structure affinity) or no_sp (w/o structure priors).")] = "full",
    pairs: Annotated[int, typer.Option(help="Synthetic training pairs to generate.")] = 400,
    steps: Annotated[int, typer.Option(help="Optimiser steps (rounded up to whole epochs; the small reproduction uses 700).")] = 700,
    width: Annotated[int, typer.Option(help="Width multiplier, even, 2..64 (64 = the paper's 67 M-parameter net).")] = 8,
    net_size: Annotated[int, typer.Option(help="Network input side (multiple of 16, 32..512; paper 256).")] = 64,
    size: Annotated[int, typer.Option(help="Side of the rendered synthetic pairs (a multiple of --net-size, <= 2048).")] = 128,
    batch_size: Annotated[int, typer.Option(help="Batch size (1..--pairs).")] = 8,
    lr: Annotated[float, typer.Option(help="Adam learning rate in (0, 1) (paper: 2e-5 at width 64, batch 32).")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed of the data, the initialisation and the data order.")] = 0,
    dtype: Annotated[str, typer.Option(help="Weights in the file: float32, or float16 for half the size.")] = "float32",
    checkpoint_dir: Annotated[Path | None, typer.Option(help="Folder for resumable training-state checkpoints.")] = None,
) -> None:
    """Train a flow generator on seeded synthetic pairs (spec 5.1) and save it as safetensors."""
    if variant not in VARIANT_NAMES:
        raise BadConfigError(f"--variant {variant!r}: use one of {', '.join(VARIANT_NAMES)}")
    if dtype not in ("float32", "float16"):
        raise BadConfigError(f"--dtype {dtype!r}: use float32 or float16")
    check_number("--width", width, low=2, high=64, integer=True)
    if width % 2:
        raise BadConfigError(f"--width {width} must be even (the last decoder layer has width/2 channels)")
    check_number("--net-size", net_size, low=32, high=512, integer=True)
    if net_size % 16:
        raise BadConfigError(f"--net-size {net_size} must be a multiple of 16 (the encoder pools four times)")
    check_number("--size", size, low=net_size, high=2048, integer=True)
    if size % net_size:
        raise BadConfigError(f"--size {size} must be a multiple of --net-size {net_size}")
    check_number("--pairs", pairs, low=1, high=100_000, integer=True)
    check_number("--batch-size", batch_size, low=1, high=pairs, integer=True)
    check_number("--steps", steps, low=1, high=1_000_000, integer=True)
    check_number("--lr", lr, low=0.0, low_open=True, high=1.0, high_open=True)
    check_number("--seed", seed, low=0, integer=True)
    check_output_path(output, option="--output", suffixes=(".safetensors",))
    if checkpoint_dir is not None:
        check_output_path(checkpoint_dir, option="--checkpoint-dir", kind="directory")

    from tenfold.bodyreshape.synthetic import make_set
    from tenfold.bodyreshape.training import TrainConfig, save_checkpoint, train_generator
    from tenfold.core.io import atomic_write_json

    data = make_set(pairs, seed, size=size, net_size=net_size, progress=True)
    config = TrainConfig(variant=variant, width=width, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                         checkpoint_dir=checkpoint_dir, progress=True)
    model, losses = train_generator(data, config)
    command = (f"tenfold bodyreshape train -o {output.name} --variant {variant} --pairs {pairs} --steps {steps} "
               f"--width {width} --net-size {net_size} --size {size} --batch-size {batch_size} --lr {lr:g} "
               f"--seed {seed} --dtype {dtype}")
    recipe = {"command": command, "variant": variant, "pairs": pairs, "steps": steps, "width": width,
              "net_size": net_size, "size": size, "batch_size": batch_size, "lr": lr, "seed": seed,
              "data": f"make_set({pairs}, seed={seed}, size={size}, net_size={net_size})", "epoch_losses": losses}
    save_checkpoint(model, output, extra={"recipe": recipe}, dtype=dtype)
    atomic_write_json(output.with_suffix(".recipe.json"), recipe)  # the recipe, readable beside the weights
    typer.echo(f"trained {variant} (width {width}, {net_size} px): final epoch loss {losses[-1]:.4f} -> {output} "
               f"(recipe: {output.with_suffix('.recipe.json').name})")


@app.command("evaluate")
def evaluate_command(
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint to evaluate (default: the shipped one).")] = None,
    pairs: Annotated[int, typer.Option(help="Synthetic test pairs (seeds disjoint from training), 1..10000.")] = 100,
    validation_pairs: Annotated[int, typer.Option(help="Pairs on which the baselines' settings are tuned, 1..10000.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the test and validation pairs.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics as JSON.")] = None,
) -> None:
    """EPE (whole image, body), distractor leakage and min det J of a checkpoint, beside tuned baselines."""
    if checkpoint is not None:
        check_input_file(checkpoint, option="--checkpoint", what="checkpoint")
    check_number("--pairs", pairs, low=1, high=10_000, integer=True)
    check_number("--validation-pairs", validation_pairs, low=1, high=10_000, integer=True)
    check_number("--seed", seed, low=0, integer=True)
    if json_out is not None:
        check_output_path(json_out, option="--json", suffixes=(".json",))

    from dataclasses import asdict

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from tenfold.bodyreshape.evaluation import (
        BASELINES,
        TEST_SEED_OFFSET,
        VALIDATION_SEED_OFFSET,
        baseline_flows,
        flow_scores,
        tune_baseline,
    )
    from tenfold.bodyreshape.synthetic import make_set
    from tenfold.bodyreshape.training import load_checkpoint, predict_flows, shipped_checkpoint
    from tenfold.core.io import atomic_write_json

    path = checkpoint if checkpoint is not None else shipped_checkpoint()
    model = load_checkpoint(path)
    net = model.config.input_size
    test = make_set(pairs, seed + TEST_SEED_OFFSET, size=2 * net, net_size=net, progress=True)
    validation = make_set(validation_pairs, seed + VALIDATION_SEED_OFFSET, size=2 * net, net_size=net)
    choices = {name: tune_baseline(name, validation) for name in BASELINES}
    flows = {"zero": np.zeros_like(test.flows)}
    for name, choice in choices.items():
        flows[name] = baseline_flows(name, test.keypoints, net, choice.strength, choice.width_scale)
    flows["model"] = predict_flows(model, test.images, test.skeletons)
    rows = {name: flow_scores(f, test) for name, f in flows.items()}
    table = Table(title=f"{path.name} on {pairs} synthetic test pairs (EPE in px at {net} px)")
    for column in ("flow", "EPE", "EPE / zero", "EPE body", "leak", "min det J"):
        table.add_column(column)
    for name, row in rows.items():
        table.add_row(name, f"{row['epe']:.4f}", f"{row['epe'] / rows['zero']['epe']:.3f}", f"{row['epe_body']:.4f}",
                      f"{row['leak_distractors']:.4f}", f"{row['min_det']:.3f}")
    Console().print(table)
    tuned = ", ".join(f"{c.method}: strength {c.strength:g}, width x{c.width_scale:g}" for c in choices.values())
    typer.echo(f"baselines tuned on {validation_pairs} validation pairs: {tuned}")
    if json_out is not None:
        atomic_write_json(json_out, {"checkpoint": str(path), "pairs": pairs, "rows": rows,
                                     "baselines": {name: asdict(choice) for name, choice in choices.items()}})
