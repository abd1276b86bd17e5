"""`tenfold bodyreshape ...`: reshape a photo from keypoints, detect keypoints (optional), train, evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Body reshaping with structure-aware flows (FBBR, CVPR 2022).", no_args_is_help=True)


@app.command("reshape")
def reshape_command(
    image: Annotated[Path, typer.Argument(help="Photo to reshape (PNG/JPEG; EXIF orientation is applied).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the reshaped image.")],
    keypoints: Annotated[Path | None, typer.Option(help="COCO-18 keypoints JSON: (18,3) or (P,18,3) of x, y, conf in pixels.")] = None,
    method: Annotated[str, typer.Option(help="learned (needs --checkpoint), capsule, mls or liquify.")] = "capsule",
    checkpoint: Annotated[Path | None, typer.Option(help="Flow-generator checkpoint from `tenfold bodyreshape train`.")] = None,
    degree: Annotated[float, typer.Option(help="Strength µ: 0 = unchanged, 1 = trained strength, <0 widens; |µ| <= 2.")] = 1.0,
    torso: Annotated[float | None, typer.Option(help="Per-part degree for the torso (multiplies --degree).")] = None,
    arms: Annotated[float | None, typer.Option(help="Per-part degree for the arms.")] = None,
    legs: Annotated[float | None, typer.Option(help="Per-part degree for the legs.")] = None,
    strength: Annotated[float, typer.Option(help="Slimming strength of the capsule/MLS/liquify methods.")] = 0.2,
    suppress_px: Annotated[float, typer.Option(help="Soft-threshold |flow| by this many pixels (official CVPR setting: 3).")] = 0.0,
    detect: Annotated[bool, typer.Option("--detect", help="Find keypoints with mediapipe (extra 'pose') instead of --keypoints.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when no person is found instead of copying the input.")] = False,
    flow_out: Annotated[Path | None, typer.Option(help="Also save the backward flow (H, W, 2) as .npy.")] = None,
) -> None:
    """Reshape the people in IMAGE and write OUTPUT (written atomically; nothing is left on error)."""
    import numpy as np

    from tenfold.bodyreshape.images import read_image_file, write_image_file
    from tenfold.bodyreshape.keypoints import load_keypoints
    from tenfold.bodyreshape.pipeline import BodyReshaper
    from tenfold.core.errors import BadConfigError

    if (keypoints is None) == (not detect):
        raise BadConfigError("give either --keypoints K.json or --detect (mediapipe, extra 'pose')")
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
        raise BadConfigError(f"--output {output}: use an image suffix such as .png or .jpg")
    model = None
    if method == "learned":
        if checkpoint is None:
            raise BadConfigError("--method learned needs --checkpoint C (train one with `tenfold bodyreshape train`)")
        from tenfold.bodyreshape.training import load_checkpoint

        model = load_checkpoint(checkpoint)
    parts = {name: value for name, value in (("torso", torso), ("arms", arms), ("legs", legs)) if value is not None}
    reshaper = BodyReshaper(method=method, model=model, degree=degree, parts=parts or None, strength=strength,
                            suppress_px=suppress_px, strict=strict)
    pixels = read_image_file(image)
    if detect:
        from tenfold.bodyreshape.pose import detect_keypoints

        people = detect_keypoints(pixels)
    else:
        assert keypoints is not None
        people = load_keypoints(keypoints)
    result = reshaper.reshape(pixels, people)
    if flow_out is not None:
        import io

        from tenfold.core.io import atomic_write_bytes

        buffer = io.BytesIO()
        np.save(buffer, result.flow)
        atomic_write_bytes(flow_out, buffer.getvalue())
    write_image_file(output, result.image, result.alpha)
    magnitude = float(np.linalg.norm(result.flow, axis=-1).max()) if result.flow.size else 0.0
    typer.echo(f"{result.status}: {result.people} person(s), max |flow| {magnitude:.1f} px, "
               f"min det {result.min_det:.2f}{'; ' + '; '.join(result.notes) if result.notes else ''} -> {output}")


@app.command("keypoints")
def keypoints_command(
    image: Annotated[Path, typer.Argument(help="Photo to find a person in.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON file for the COCO-18 keypoints.")],
) -> None:
    """Detect COCO-18 keypoints with mediapipe 0.10.21 (optional extra 'pose') and save them as JSON."""
    from tenfold.bodyreshape.images import read_image_file
    from tenfold.bodyreshape.keypoints import keypoints_to_json
    from tenfold.bodyreshape.pose import detect_keypoints
    from tenfold.core.io import atomic_write_text

    people = detect_keypoints(read_image_file(image))
    atomic_write_text(output, keypoints_to_json(people))
    typer.echo(f"keypoints -> {output}")


@app.command("train")
def train_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint file to write (.pt).")],
    variant: Annotated[str, typer.Option(help="full, no_aff (w/o structure affinity) or no_sp (w/o structure priors).")] = "full",
    pairs: Annotated[int, typer.Option(help="Synthetic training pairs to generate.")] = 480,
    steps: Annotated[int, typer.Option(help="Optimiser steps (rounded up to whole epochs).")] = 240,
    width: Annotated[int, typer.Option(help="Width multiplier (64 = the paper's 67 M-parameter net).")] = 8,
    net_size: Annotated[int, typer.Option(help="Network input side (multiple of 16; paper 256).")] = 64,
    size: Annotated[int, typer.Option(help="Full-resolution side of the synthetic pairs (multiple of --net-size).")] = 256,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 8,
    lr: Annotated[float, typer.Option(help="Adam learning rate (paper: 2e-5 at width 64, batch 32).")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed of the data and the initialisation.")] = 0,
    checkpoint_dir: Annotated[Path | None, typer.Option(help="Folder for resumable training-state checkpoints.")] = None,
) -> None:
    """Train a flow generator on seeded synthetic pairs (spec 5.1) and save a checkpoint."""
    from tenfold.bodyreshape.synthetic import make_set
    from tenfold.bodyreshape.training import VARIANTS, TrainConfig, save_checkpoint, train_generator
    from tenfold.core.errors import BadConfigError

    if variant not in VARIANTS:
        raise BadConfigError(f"unknown variant {variant!r}; use one of: {', '.join(VARIANTS)}")
    if net_size < 32 or net_size % 16:
        raise BadConfigError(f"--net-size {net_size} must be a multiple of 16 and >= 32")
    if size % net_size:
        raise BadConfigError(f"--size {size} must be a multiple of --net-size {net_size}")
    if pairs < batch_size or steps < 1:
        raise BadConfigError("need --pairs >= --batch-size and --steps >= 1")
    data = make_set(pairs, seed, size=size, net_size=net_size, progress=True)
    config = TrainConfig(variant=variant, width=width, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                         checkpoint_dir=checkpoint_dir, progress=True)
    model, losses = train_generator(data, config)
    save_checkpoint(model, output, extra={"epoch_losses": losses, "pairs": pairs, "seed": seed})
    typer.echo(f"trained {variant} (width {width}, {net_size} px): final epoch loss {losses[-1]:.4f} -> {output}")


@app.command("evaluate")
def evaluate_command(
    checkpoint: Annotated[Path, typer.Option(help="Checkpoint to evaluate.")],
    pairs: Annotated[int, typer.Option(help="Synthetic test pairs (a seed range disjoint from training).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the test pairs.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics as JSON.")] = None,
) -> None:
    """EPE (whole image, body), distractor leakage and min det J of a checkpoint, beside the baselines."""
    import json

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from tenfold.bodyreshape.capsule import slimming_flow
    from tenfold.bodyreshape.experiment import BASELINE_STRENGTH, TEST_SEED_OFFSET
    from tenfold.bodyreshape.flow_field import end_point_error, min_determinant
    from tenfold.bodyreshape.metrics import leakage
    from tenfold.bodyreshape.mls import mls_flow
    from tenfold.bodyreshape.synthetic import make_set
    from tenfold.bodyreshape.training import load_checkpoint, predict_flows
    from tenfold.core.errors import BadConfigError
    from tenfold.core.io import atomic_write_text

    if pairs < 1:
        raise BadConfigError("--pairs must be >= 1")
    model = load_checkpoint(checkpoint)
    net = model.config.input_size
    test = make_set(pairs, seed + TEST_SEED_OFFSET, size=4 * net, net_size=net, progress=True)
    flows = {
        "zero": np.zeros_like(test.flows),
        "capsule": np.stack([slimming_flow(k, net, net, strength=BASELINE_STRENGTH) for k in test.keypoints]),
        "mls": np.stack([mls_flow(k, net, net, slim=BASELINE_STRENGTH / 2, step=2) for k in test.keypoints]),
        "model": predict_flows(model, test.images, test.skeletons),
    }
    rows = {name: {"epe": end_point_error(f, test.flows), "epe_body": end_point_error(f, test.flows, test.body_masks),
                   "leak_distractors": leakage(f, test.distractor_masks),
                   "min_det": float(min(min_determinant(x) for x in f))} for name, f in flows.items()}
    table = Table(title=f"{checkpoint.name} on {pairs} synthetic test pairs (EPE in px at {net} px)")
    for column in ("flow", "EPE", "EPE body", "leak", "min det J"):
        table.add_column(column)
    for name, row in rows.items():
        table.add_row(name, *(f"{row[k]:.4f}" for k in ("epe", "epe_body", "leak_distractors", "min_det")))
    Console().print(table)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps({"checkpoint": str(checkpoint), "pairs": pairs, "rows": rows}, indent=2))
