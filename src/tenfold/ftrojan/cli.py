"""``tenfold ftrojan``: trigger images, poison a dataset, evaluate attacks against defences."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError

app = typer.Typer(
    help="FTrojan: an invisible frequency-domain backdoor (trigger, poison, attacks x defences).",
    no_args_is_help=True,
)

MagnitudeOption = Annotated[float, typer.Option(help="Value added to each DCT coefficient (0..255 scale).")]
PositionOption = Annotated[
    list[str] | None, typer.Option("--position", help="DCT position 'u,v' (repeatable); default 15,15 and 31,31.")
]
WindowOption = Annotated[int, typer.Option(help="DCT block size; must divide the image sides.")]
ChannelOption = Annotated[
    list[int] | None, typer.Option("--channel", help="Channel to mark (repeatable); default chroma 1,2 (grey: 0).")
]


def _trigger(magnitude: float, positions: list[str] | None, window: int, channels: list[int] | None, yuv: bool | None):
    from tenfold.ftrojan.trigger import DEFAULT_POSITIONS, FrequencyTrigger

    parsed = []
    for text in positions or []:
        try:
            u, v = (int(part) for part in text.split(","))
        except ValueError:
            raise BadConfigError(f"--position {text!r} is not 'u,v' with two integers, e.g. 31,31") from None
        parsed.append((u, v))
    return FrequencyTrigger(magnitude, parsed or DEFAULT_POSITIONS, channels or None, window, yuv)


def _load_npz(path: Path) -> dict:
    import numpy as np

    if not path.exists():
        raise MissingDataError(f"{path} does not exist; give an .npz file with arrays x and y")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError) as error:
        raise BadInputError(f"{path} is not a readable .npz file ({error})") from None


def _images_labels(arrays: dict, path: Path, x_key: str = "x", y_key: str = "y"):
    import numpy as np

    if x_key not in arrays or y_key not in arrays:
        raise BadInputError(f"{path} needs arrays '{x_key}' and '{y_key}'; it holds {sorted(arrays) or 'nothing'}")
    x, y = arrays[x_key], np.asarray(arrays[y_key])
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    return x, y


def _save_npz(path: Path, **arrays) -> None:
    import io

    import numpy as np

    from tenfold.core.io import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


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
    selection: Annotated[str, typer.Option(help="'random' (seeded) or 'first' (official-code parity).")] = "random",
    clean_label: Annotated[bool, typer.Option("--clean-label", help="Trigger target-class samples, keep labels.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the random selection.")] = 0,
) -> None:
    """Poison a dataset with the FTrojan trigger (dirty-label by default); writes x, y, poisoned_indices."""
    import json

    import numpy as np

    from tenfold.ftrojan.poison import poison_clean_label, poison_dirty_label

    trigger = _trigger(magnitude, position, window, channel, None)
    x, y = _images_labels(_load_npz(data), data)
    was_uint8 = _load_npz(data)["x"].dtype == np.uint8
    if clean_label:
        result = poison_clean_label(x, y, trigger, target=target, rate=rate, seed=seed)
    else:
        result = poison_dirty_label(x, y, trigger, target=target, rate=rate, selection=selection, seed=seed)
    images = np.rint(result.x * 255).astype(np.uint8) if was_uint8 else result.x
    _save_npz(output, x=images, y=result.y, poisoned_indices=result.indices, trigger=np.array(json.dumps(trigger.config())))
    typer.echo(f"poisoned {len(result.indices)} of {len(y)} samples (target {target}) -> {output}")


@app.command("trigger")
def trigger_command(
    images: Annotated[list[Path], typer.Argument(help="Image files (PNG/JPEG).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the triggered PNGs.")],
    magnitude: MagnitudeOption = 30.0,
    position: PositionOption = None,
    window: WindowOption = 32,
    channel: ChannelOption = None,
    crop: Annotated[bool, typer.Option("--crop", help="Crop each image to a multiple of the window.")] = False,
) -> None:
    """Add the trigger to image files and print PSNR/SSIM of each; outputs are lossless PNGs."""
    import io

    from PIL import Image
    from rich.console import Console
    from rich.table import Table

    from tenfold.core.data import read_image
    from tenfold.core.io import atomic_write_bytes
    from tenfold.ftrojan.metrics import image_quality, to_uint8

    trigger = _trigger(magnitude, position, window, channel, None)
    prepared = []
    for path in images:  # read and check everything before writing anything
        image = read_image(path)
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


@app.command("evaluate")
def evaluate_command(
    data: Annotated[Path, typer.Argument(help=".npz with x_train, y_train, x_test, y_test (NHWC, [0,1] or uint8).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="JSON report to write.")],
    attacks: Annotated[str, typer.Option(help="Comma list of none, ftrojan, badnets, blended, sig.")] = "none,ftrojan",
    rate: Annotated[float, typer.Option(help="Poisoning rate.")] = 0.1,
    target: Annotated[int, typer.Option(help="Target label.")] = 0,
    magnitude: MagnitudeOption = 30.0,
    epochs: Annotated[int, typer.Option(help="Training epochs per model.")] = 10,
    width: Annotated[int, typer.Option(help="CNN width (32 = the paper's model).")] = 16,
    nc_steps: Annotated[int, typer.Option(help="Neural Cleanse optimisation steps.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of poisoning, training and defences.")] = 0,
) -> None:
    """Train one model per attack on the same split and report BA, ASR and every defence as a table."""
    import json

    import numpy as np
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from tenfold.core.io import atomic_write_text
    from tenfold.ftrojan.baselines import BadNetsTrigger, BlendedTrigger, SIGTrigger
    from tenfold.ftrojan.harness import DefenceConfig, evaluate_attack
    from tenfold.ftrojan.training import TrainConfig

    if epochs < 1 or width < 1:
        raise BadConfigError(f"epochs and width must be positive, got {epochs} and {width}")
    arrays = _load_npz(data)
    x_train, y_train = _images_labels(arrays, data, "x_train", "y_train")
    x_test, y_test = _images_labels(arrays, data, "x_test", "y_test")
    known = {
        "none": None,
        "ftrojan": _trigger(magnitude, None, 32, None, None),
        "badnets": BadNetsTrigger(3),
        "blended": BlendedTrigger(0.1),
        "sig": SIGTrigger(20, 6),
    }
    chosen = [name.strip().lower() for name in attacks.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise BadConfigError(f"unknown attack(s) {unknown or attacks!r}; choose from {', '.join(known)}")
    if not 0 < rate < 1:
        raise BadConfigError(f"--rate must be in (0, 1), got {rate}")
    if target not in set(np.unique(y_train).tolist()):
        raise BadConfigError(f"--target {target} is not a label of the training set")
    for name in ("x_train", "x_test"):
        from tenfold.ftrojan.trigger import to_nhwc, validate_pixels

        validate_pixels(to_nhwc(arrays[name] if arrays[name].dtype != np.uint8 else arrays[name] / 255.0, "NHWC"), 1.0)
    config = TrainConfig(epochs=epochs, width=width, seed=seed)
    rows = {}
    with Progress(transient=True) as progress:
        task = progress.add_task("attacks", total=len(chosen))
        for name in chosen:
            progress.update(task, description=f"training + defences: {name}")
            row, _ = evaluate_attack(
                name, known[name], x_train, y_train, x_test, y_test, target=target, rate=rate, train=config,
                defence=DefenceConfig(nc_steps=nc_steps), seed=seed,
            )
            rows[name] = row.metrics
            progress.advance(task)
    atomic_write_text(output, json.dumps({"rate": rate, "target": target, "epochs": epochs, "rows": rows}, indent=2))
    columns = ["ba", "asr", "psnr", "strip_far", "nc_anomaly_index", "ac_f1", "ss_f1", "prune_asr", "gaussian_asr"]
    table = Table(title="attacks x defences")
    table.add_column("attack")
    for column in columns:
        table.add_column(column)
    for name, metrics in rows.items():
        table.add_row(name, *(f"{metrics[c]:.3f}" if c in metrics else "-" for c in columns))
    Console().print(table)
    typer.echo(f"report: {output}")
