"""``tenfold ftrojan``: trigger images, poison a dataset, evaluate attacks against defences.

Every argument is checked before any work starts (numbers, the output path, then the input files and
their arrays), so a mistake ends in one ``error:`` line and nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.validation import check_number

app = typer.Typer(
    help="FTrojan: an invisible frequency-domain backdoor (trigger, poison, attacks x defences).",
    no_args_is_help=True,
)

MAX_MAGNITUDE = 255.0  # one DCT coefficient on the 0..255 scale; the paper uses 10-50

MagnitudeOption = Annotated[float, typer.Option(help="Value added to each DCT coefficient (0..255 scale, in (0, 255]).")]
PositionOption = Annotated[
    list[str] | None, typer.Option("--position", help="DCT position 'u,v' (repeatable); default 15,15 and 31,31.")
]
WindowOption = Annotated[int, typer.Option(help="DCT block size; must divide the image sides.")]
ChannelOption = Annotated[
    list[int] | None, typer.Option("--channel", help="Channel to mark (repeatable); default chroma 1,2 (grey: 0).")
]
OfficialOption = Annotated[
    bool, typer.Option("--official-uint8", help="Reproduce the official code's truncating uint8 casts (needs OpenCV).")
]


def _trigger(magnitude: float, positions: list[str] | None, window: int, channels: list[int] | None, official: bool = False):
    from tenfold.ftrojan.trigger import DEFAULT_POSITIONS, FrequencyTrigger

    check_number("--magnitude", magnitude, low=0, high=MAX_MAGNITUDE, low_open=True)
    check_number("--window", window, low=1, high=4096, integer=True)
    parsed = []
    for text in positions or []:
        try:
            u, v = (int(part) for part in text.split(","))
        except ValueError:
            raise BadConfigError(f"--position {text!r} is not 'u,v' with two integers, e.g. 31,31") from None
        parsed.append((u, v))
    for channel in channels or []:
        check_number("--channel", channel, low=0, high=2, integer=True)
    return FrequencyTrigger(magnitude, parsed or DEFAULT_POSITIONS, channels or None, window, official_uint8=official)


def _images(arrays: dict, key: str, path: Path) -> Any:
    """An image array of an .npz as float32 NHWC in [0, 1] (uint8 is divided by 255); every pixel checked."""
    import numpy as np

    x = arrays[key]
    label = f"{path}: array '{key}'"
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3)):
        raise BadInputError(f"{label} has shape {x.shape}; give images as (N, H, W) or NHWC (N, H, W, 1 or 3)")
    if x.shape[0] == 0:
        raise BadInputError(f"{label} is empty (shape {x.shape}); give at least one image")
    if x.dtype == np.uint8:
        return (x.astype(np.float32) / 255.0).reshape(*x.shape[:3], -1)
    if not np.issubdtype(x.dtype, np.floating):
        raise BadInputError(f"{label} has dtype {x.dtype}; give floats in [0, 1] or uint8 pixels")
    if not np.isfinite(x).all():
        raise BadInputError(f"{label} holds {int((~np.isfinite(x)).sum())} NaN or infinite pixel(s); clean them first")
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        hint = " (0..255 values: store them as uint8)" if high <= 255.0 and low >= 0.0 else ""
        raise BadInputError(f"{label} spans [{low:.4g}, {high:.4g}]; float pixels must lie in [0, 1]{hint}")
    return x.astype(np.float32).reshape(*x.shape[:3], -1)


def _labels(arrays: dict, key: str, path: Path, count: int) -> Any:
    import numpy as np

    y = arrays[key]
    if y.ndim != 1 or len(y) != count:
        raise BadInputError(f"{path}: array '{key}' has shape {y.shape}; give one label per image, shape ({count},)")
    if not np.issubdtype(y.dtype, np.integer):
        raise BadInputError(f"{path}: array '{key}' has dtype {y.dtype}; labels must be integers")
    if y.min() < 0:
        raise BadInputError(f"{path}: array '{key}' holds negative labels; use 0..classes-1")
    return y.astype(np.int64)


def _check_window(images: Any, window: int, path: Path, key: str) -> None:
    height, width = images.shape[1:3]
    if height % window or width % window:
        raise BadInputError(
            f"{path}: array '{key}' holds {height}x{width} images, not a multiple of --window {window}; "
            "choose a window that divides both sides"
        )


@app.command("poison")
def poison_command(
    data: Annotated[Path, typer.Argument(help=".npz with x (N,H,W[,C], [0,1] floats or uint8) and y (N,).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Poisoned .npz to write.")],
    rate: Annotated[float, typer.Option(help="Fraction of the whole set to poison, in (0, 1).")] = 0.05,
    target: Annotated[int, typer.Option(help="Target label.")] = 0,
    magnitude: MagnitudeOption = 30.0,
    position: PositionOption = None,
    window: WindowOption = 32,
    channel: ChannelOption = None,
    official_uint8: OfficialOption = False,
    selection: Annotated[str, typer.Option(help="'random' (seeded) or 'first' (official-code parity).")] = "random",
    clean_label: Annotated[bool, typer.Option("--clean-label", help="Trigger target-class samples, keep labels.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the random selection.")] = 0,
) -> None:
    """Poison a dataset with the FTrojan trigger (dirty-label by default); writes x, y, poisoned_indices."""
    import json

    import numpy as np

    from tenfold.core.io import atomic_save_npz, check_output_path, read_npz
    from tenfold.ftrojan.poison import poison_clean_label, poison_dirty_label

    check_number("--rate", rate, low=0, high=1, low_open=True, high_open=True)
    check_number("--target", target, low=0, integer=True)
    check_number("--seed", seed, low=0, integer=True)
    if selection not in ("random", "first"):
        raise BadConfigError(f"--selection {selection!r}; use 'random' or 'first'")
    trigger = _trigger(magnitude, position, window, channel, official_uint8)
    output = check_output_path(output, option="--output", suffixes=(".npz",))
    arrays = read_npz(data, required=("x", "y"))
    x = _images(arrays, "x", data)
    y = _labels(arrays, "y", data, len(x))
    _check_window(x, window, data, "x")
    if clean_label:
        result = poison_clean_label(x, y, trigger, target=target, rate=rate, seed=seed)
    else:
        result = poison_dirty_label(x, y, trigger, target=target, rate=rate, selection=selection, seed=seed)
    images = np.rint(result.x * 255).astype(np.uint8) if arrays["x"].dtype == np.uint8 else result.x
    images = images.reshape(arrays["x"].shape)
    atomic_save_npz(output, {"x": images, "y": result.y, "poisoned_indices": result.indices,
                             "trigger": np.array(json.dumps(trigger.config()))})
    typer.echo(f"poisoned {len(result.indices)} of {len(y)} samples (target {target}) -> {output}")


@app.command("trigger")
def trigger_command(
    images: Annotated[list[Path], typer.Argument(help="Image files (PNG/JPEG).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the triggered PNGs.")],
    magnitude: MagnitudeOption = 30.0,
    position: PositionOption = None,
    window: WindowOption = 32,
    channel: ChannelOption = None,
    official_uint8: OfficialOption = False,
    crop: Annotated[bool, typer.Option("--crop", help="Crop each image to a multiple of the window.")] = False,
) -> None:
    """Add the trigger to image files and print PSNR/SSIM of each; outputs are lossless PNGs."""
    import io

    from PIL import Image
    from rich.console import Console
    from rich.table import Table

    from tenfold.core.data import read_image
    from tenfold.core.io import atomic_write_bytes, check_input_file, check_output_path
    from tenfold.ftrojan.metrics import image_quality, to_uint8

    trigger = _trigger(magnitude, position, window, channel, official_uint8)
    output = check_output_path(output, option="--output", kind="directory")
    stems = [path.stem for path in images]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:
        raise BadInputError(f"several inputs are named {', '.join(repeated)}; their outputs would overwrite each other")
    prepared = []
    for path in images:  # read and check everything before writing anything
        image = read_image(check_input_file(path, what="image file"))
        if crop:
            height, width = (image.shape[0] // window) * window, (image.shape[1] // window) * window
            if height == 0 or width == 0:
                raise BadInputError(f"{path} ({image.shape[0]}x{image.shape[1]}) is smaller than the {window}px window")
            image = image[:height, :width]
        elif image.shape[0] % window or image.shape[1] % window:
            raise BadInputError(
                f"{path} is {image.shape[0]}x{image.shape[1]}, not a multiple of the {window}px window; "
                "pass --crop or choose --window"
            )
        prepared.append((path, image, trigger(image[None])[0]))
    table = Table(title=f"FTrojan trigger, magnitude {magnitude:g}")
    for column in ("image", "PSNR dB", "SSIM", "max change /255", "written"):
        table.add_column(column)
    for path, clean, poisoned in prepared:
        buffer = io.BytesIO()
        Image.fromarray(to_uint8(poisoned)).save(buffer, format="PNG")
        target = output / f"{path.stem}_ftrojan.png"
        atomic_write_bytes(target, buffer.getvalue())
        quality = image_quality(clean[None], poisoned[None])
        table.add_row(str(path), f"{quality['psnr']:.2f}", f"{quality['ssim']:.4f}", f"{quality['linf']:.0f}", str(target))
    Console().print(table)


ATTACKS = ("none", "ftrojan", "badnets", "blended", "sig")


@app.command("evaluate")
def evaluate_command(
    data: Annotated[Path, typer.Argument(help=".npz with x_train, y_train, x_test, y_test (NHWC, [0,1] or uint8).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="JSON report to write.")],
    attacks: Annotated[str, typer.Option(help="Comma list of none, ftrojan, badnets, blended, sig.")] = "none,ftrojan",
    rate: Annotated[float, typer.Option(help="Poisoning rate, in (0, 1).")] = 0.1,
    target: Annotated[int, typer.Option(help="Target label.")] = 0,
    magnitude: MagnitudeOption = 30.0,
    epochs: Annotated[int, typer.Option(help="Training epochs per model.")] = 10,
    width: Annotated[int, typer.Option(help="CNN width (32 = the paper's model).")] = 16,
    nc_epochs: Annotated[
        int, typer.Option(help="Neural Cleanse epoch cap (the authors' 1,000; their early stop usually ends sooner); 0 skips it.")
    ] = 1000,
    nc_samples: Annotated[int, typer.Option(help="Neural Cleanse clean samples per epoch (the authors' 1,000).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of poisoning, training and defences.")] = 0,
) -> None:
    """Train one model per attack on the same split and report BA, ASR and every defence as a table."""
    check_number("--rate", rate, low=0, high=1, low_open=True, high_open=True)
    check_number("--target", target, low=0, integer=True)
    check_number("--epochs", epochs, low=1, high=10_000, integer=True)
    check_number("--width", width, low=1, high=1024, integer=True)
    check_number("--nc-epochs", nc_epochs, low=0, high=100_000, integer=True)
    check_number("--nc-samples", nc_samples, low=32, high=10**7, integer=True)
    check_number("--seed", seed, low=0, integer=True)
    chosen = [name.strip().lower() for name in attacks.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in ATTACKS]
    if unknown or not chosen:
        raise BadConfigError(f"--attacks: unknown attack(s) {', '.join(unknown) or repr(attacks)}; choose from {', '.join(ATTACKS)}")
    trigger = _trigger(magnitude, None, 32, None)
    from tenfold.core.io import check_output_path

    output = check_output_path(output, option="--output", suffixes=(".json",))
    _evaluate(data, output, chosen, trigger, rate=rate, target=target, epochs=epochs, width=width,
              nc_epochs=nc_epochs, nc_samples=nc_samples, seed=seed)


def _evaluate(data: Path, output: Path, chosen: list[str], trigger, *, rate: float, target: int, epochs: int,
              width: int, nc_epochs: int, nc_samples: int, seed: int) -> None:
    import numpy as np
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from tenfold.core.io import atomic_write_json, read_npz
    from tenfold.ftrojan.baselines import BadNetsTrigger, BlendedTrigger, SIGTrigger
    from tenfold.ftrojan.harness import DefenceConfig, evaluate_attack
    from tenfold.ftrojan.neural_cleanse import NeuralCleanseConfig
    from tenfold.ftrojan.training import TrainConfig

    arrays = read_npz(data, required=("x_train", "y_train", "x_test", "y_test"))
    x_train = _images(arrays, "x_train", data)
    y_train = _labels(arrays, "y_train", data, len(x_train))
    x_test = _images(arrays, "x_test", data)
    y_test = _labels(arrays, "y_test", data, len(x_test))
    for key, x in (("x_train", x_train), ("x_test", x_test)):
        _check_window(x, 32, data, key)
        if x.shape[1] != x.shape[2]:
            raise BadInputError(f"{data}: array '{key}' holds {x.shape[1]}x{x.shape[2]} images; the CNN needs square images")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise BadInputError(f"{data}: train images {x_train.shape[1:]} and test images {x_test.shape[1:]} differ in shape")
    if target not in set(np.unique(y_train).tolist()):
        raise BadConfigError(f"--target {target} is not a label of the training set")
    known = {"none": None, "ftrojan": trigger, "badnets": BadNetsTrigger(3), "blended": BlendedTrigger(0.1), "sig": SIGTrigger(20, 6)}
    classes = int(max(y_train.max(), y_test.max())) + 1
    config = TrainConfig(epochs=epochs, width=width, seed=seed)
    nc = NeuralCleanseConfig(samples_per_epoch=nc_samples, max_epochs=nc_epochs, batch_size=min(32, nc_samples)) if nc_epochs else None
    rows = {}
    with Progress(transient=True) as progress:
        task = progress.add_task("attacks", total=len(chosen))
        for name in chosen:
            progress.update(task, description=f"training + defences: {name}")
            row, _ = evaluate_attack(
                name, known[name], x_train, y_train, x_test, y_test, target=target, rate=rate, train=config,
                defence=DefenceConfig(neural_cleanse=nc), num_classes=classes, seed=seed,
            )
            rows[name] = row.metrics
            progress.advance(task)
    atomic_write_json(output, {"rate": rate, "target": target, "epochs": epochs, "trigger": trigger.config(), "rows": rows})
    columns = ["ba", "asr", "psnr", "strip_far", "nc_anomaly_index", "ac_f1", "ss_f1", "prune_asr", "gaussian_asr"]
    table = Table(title="attacks x defences")
    table.add_column("attack")
    for column in columns:
        table.add_column(column)
    for name, metrics in rows.items():
        table.add_row(name, *(f"{metrics[c]:.3f}" if isinstance(metrics.get(c), float) else "-" for c in columns))
    Console().print(table)
    typer.echo(f"report: {output}")
