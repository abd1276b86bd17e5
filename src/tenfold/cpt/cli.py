"""`tenfold cpt ...`: pre-train the tiny VL backbone, ground a query in your image, few-shot runs, colour search.

Every path and number is checked before any work starts, so a bad input ends in one named error line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError

app = typer.Typer(help="CPT: colour-prompt visual grounding with a masked-language VL model.", no_args_is_help=True)

WeightsOption = Annotated[
    Path | None,
    typer.Option(help="TinyVL .safetensors from `tenfold cpt pretrain -o`; default: the cached small-scale backbone."),
]


def _small_recipe():
    from tenfold.core.experiment import Scale
    from tenfold.cpt.experiment import SETTINGS

    return SETTINGS[Scale.SMALL].pretrain


def _load_backbone(weights: Path | None):
    from tenfold.cpt.pretrain import _weights_path, load_weights

    if weights is not None:
        return load_weights(weights, option="--weights")[0]
    path = _weights_path(_small_recipe())
    if not path.is_file():
        raise MissingDataError(f"no cached backbone at {path}; run `tenfold cpt pretrain` or pass --weights")
    return load_weights(path)[0]


def _parse_ints(text: str, what: str, minimum: int = 1) -> list[int]:
    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise BadConfigError(f"{what}: {text!r} is not a list of integers like '1,2,4'") from None
    if not values or min(values) < minimum:
        raise BadConfigError(f"{what}: give integers >= {minimum}, got {text!r}")
    return values


def _parse_floats(text: str, what: str) -> list[float]:
    import math

    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise BadConfigError(f"{what}: {text!r} is not a list of numbers like '1e-4,3e-4'") from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise BadConfigError(f"{what}: give finite numbers > 0, got {text!r}")
    return values


def _parse_color(color: str) -> tuple[str, tuple[int, int, int]]:
    from tenfold.cpt.synth import PALETTE_RGB

    word, _, rgb_text = color.partition(":")
    rgb = _parse_ints(rgb_text, "--color", minimum=0) if rgb_text else None
    if rgb is None and word in PALETTE_RGB:
        rgb = list(PALETTE_RGB[word])
    if rgb is None or len(rgb) != 3 or max(rgb) > 255:
        raise BadConfigError(f"--color {color!r}: use word:R,G,B with channels in 0..255, such as red:240,0,30")
    return word, (rgb[0], rgb[1], rgb[2])


def _read_boxes(path: Path) -> tuple[list, list[str] | None]:
    from tenfold.core.io import read_json

    spec = read_json(path, option="--boxes")
    tags = None
    if isinstance(spec, dict):
        tags = spec.get("tags")
        spec = spec.get("boxes")
    if not isinstance(spec, list):
        raise BadInputError(f'--boxes {path} must hold a list of boxes or {{"boxes": [...], "tags": [...]}}')
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise BadInputError(f"--boxes {path}: tags must be a list of words, one per box")
    return spec, tags


@app.command()
def pretrain(
    steps: Annotated[int, typer.Option(help="MLM steps (spec: 12000).")] = 12_000,
    scenes: Annotated[int, typer.Option(help="Synthetic captioned scenes (at least one batch of 32).")] = 12_000,
    seed: Annotated[int, typer.Option(help="Seed of the scenes, masks and initialisation (not a secret).")] = 0,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Also write the weights to this .safetensors file.")] = None,
) -> None:
    """Pre-train TinyVL with masked language modelling on synthetic scenes (cached; resumable)."""
    from tenfold.core.io import check_output_path
    from tenfold.core.validation import check_number

    check_number("--steps", steps, low=1, integer=True)
    check_number("--scenes", scenes, low=32, integer=True)
    check_number("--seed", seed, low=0, integer=True)
    if output is not None:
        check_output_path(output, option="--output", suffixes=(".safetensors",))

    import json

    import torch
    from rich.progress import Progress

    from tenfold.cpt.pretrain import PretrainConfig, load_or_pretrain, save_weights

    torch.set_num_threads(1)  # spec 5.3: small matrices, and a second thread ran ~10x slower on a busy 2-core CPU
    small = _small_recipe()
    config = small if (steps, scenes, seed) == (small.steps, small.scenes, small.seed) else PretrainConfig(
        scenes=scenes, steps=steps, seed=seed, warmup=min(200, max(1, steps // 10)))
    with Progress() as progress:
        task = progress.add_task("pre-training", total=steps)
        result = load_or_pretrain(config, on_step=lambda step, loss: progress.update(task, completed=step,
                                                                                      description=f"loss {loss:.3f}"))
        progress.update(task, completed=steps)
    if output is not None:
        metadata = {"model_config": json.dumps(result.model.config.to_dict()), "steps": str(steps)}
        save_weights(output, result.model.state_dict(), metadata)
    typer.echo(f"pre-trained {steps} steps{' (cached)' if result.from_cache else ''}"
               + (f"; weights: {output}" if output else ""))


@app.command()
def ground(
    image: Annotated[Path, typer.Argument(help="Image file (PNG/JPEG; any mode is converted to RGB).")],
    boxes: Annotated[Path, typer.Option(help='JSON: [[x1,y1,x2,y2], ...] or {"boxes": [...], "tags": [...]}.')],
    query: Annotated[str, typer.Option(help="The referring expression.")],
    box_format: Annotated[str, typer.Option(help="xyxy or xywh (explicit on purpose).")] = "xyxy",
    color: Annotated[str, typer.Option(help="Marker colour as word:R,G,B.")] = "red:240,0,30",
    alpha: Annotated[float, typer.Option(help="Mark opacity in (0, 1].")] = 0.5,
    weights: WeightsOption = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write scores as JSON here.")] = None,
) -> None:
    """Ground QUERY in IMAGE among the proposal boxes with zero-shot CPT."""
    from tenfold.core.io import check_input_file, check_output_path
    from tenfold.core.validation import check_number

    if output is not None:
        check_output_path(output, option="--output", suffixes=(".json",))
    check_number("--alpha", alpha, low=0.0, high=1.0, low_open=True)
    if not query.strip():
        raise BadConfigError("--query is empty; give the referring expression")
    if box_format not in ("xyxy", "xywh"):
        raise BadConfigError(f"--box-format {box_format!r}: use xyxy or xywh")
    word, rgb = _parse_color(color)
    check_input_file(image, option="IMAGE", what="image file")
    spec, tags = _read_boxes(boxes)

    import json

    import numpy as np

    from tenfold.core.data import read_image
    from tenfold.core.io import atomic_write_text
    from tenfold.cpt.grounder import CPTGrounder
    from tenfold.cpt.marking import check_boxes
    from tenfold.cpt.synth import PALETTE_RGB

    try:
        picture = read_image(image)
    except BadInputError:
        raise BadInputError(f"IMAGE {image} is not a readable image; give a PNG or JPEG file") from None
    try:
        check_boxes(spec if spec else np.zeros((0, 4)), picture.shape[0], picture.shape[1], box_format)
    except BadInputError as error:
        raise BadInputError(f"--boxes {boxes}: {error}") from None
    if tags is not None and len(tags) != len(spec):
        raise BadInputError(f"--boxes {boxes}: {len(tags)} tags for {len(spec)} boxes")
    backbone = _load_backbone(weights)
    fallback = [(w, v) for w, v in PALETTE_RGB.items() if w != word]
    grounder = CPTGrounder(backbone, colors=[(word, rgb)], alpha=alpha, fallback_colors=fallback)
    scores = grounder.score(picture, spec, query, box_format=box_format, tags=tags)
    report = {"query": query, "best": scores.best, "scores": scores.scores.tolist(),
              "probabilities": scores.probabilities.tolist(), "color": scores.color_word, "scored": scores.scored,
              "notes": scores.notes}
    if output is not None:
        atomic_write_text(output, json.dumps(report, indent=2))
    typer.echo(f"best proposal: {scores.best} (p={scores.probabilities[scores.best]:.3f}, colour {scores.color_word})")


@app.command()
def fewshot(
    shots: Annotated[str, typer.Option(help="Comma-separated K values.")] = "1,2,4,8,16",
    seeds: Annotated[int, typer.Option(help="Few-shot splits (K-shot draws, seeds 0..n-1) per K.")] = 5,
    train: Annotated[Path | None, typer.Option(help="JSON Lines pool of labelled examples (default: synthetic).")] = None,
    test: Annotated[Path | None, typer.Option(help="JSON Lines test examples (default: synthetic).")] = None,
    validation: Annotated[Path | None, typer.Option(
        help="JSON Lines validation examples (disjoint from the test) on which both methods choose their "
             "hyper-parameters; default: synthetic when the data are, else the spec's untuned defaults.")] = None,
    pool_size: Annotated[int, typer.Option(help="Synthetic pool size when --train is not given.")] = 400,
    test_size: Annotated[int, typer.Option(help="Synthetic test size when --test is not given.")] = 300,
    validation_size: Annotated[int, typer.Option(help="Synthetic validation size when --validation is not given.")] = 100,
    cpt_steps: Annotated[int, typer.Option(help="CPT training steps per run (spec: 100).")] = 100,
    finetune_steps: Annotated[str, typer.Option(help="Fine-tuning step counts to choose from on validation (the first without it).")] = "100,300",
    finetune_lrs: Annotated[str, typer.Option(help="Fine-tuning body learning rates to choose from (head: 10x).")] = "1e-4,3e-4,1e-3",
    weights: WeightsOption = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="results .json to write (a .md table is written beside it).")] = Path("cpt_fewshot.json"),
) -> None:
    """K-shot CPT vs fine-tuning a new head, on the same draws, each tuned on validation; writes mean/std per K."""
    from tenfold.core.io import check_output_path
    from tenfold.core.validation import check_number

    check_output_path(output, option="--output", suffixes=(".json",))
    check_output_path(output.with_suffix(".md"), option="--output (its .md table)")
    k_values = _parse_ints(shots, "--shots")
    check_number("--seeds", seeds, low=1, high=499, integer=True)  # tuning draws start at seed 500
    check_number("--pool-size", pool_size, low=1, integer=True)
    check_number("--test-size", test_size, low=1, integer=True)
    check_number("--validation-size", validation_size, low=1, integer=True)
    check_number("--cpt-steps", cpt_steps, low=1, integer=True)
    step_grid = _parse_ints(finetune_steps, "--finetune-steps")
    lr_grid = _parse_floats(finetune_lrs, "--finetune-lrs")

    from tenfold.cpt.examples import draw_shots, example_from_item, fingerprints, read_examples
    from tenfold.cpt.experiment import POOL_SEED, SETTINGS, TEST_SEED, VALIDATION_SEED
    from tenfold.cpt.synth import grounding_items

    pool = read_examples(train, option="--train") if train else [example_from_item(i) for i in grounding_items(pool_size, POOL_SEED)]
    evaluation = read_examples(test, option="--test") if test else [example_from_item(i) for i in grounding_items(test_size, TEST_SEED)]
    if validation is not None:
        held_out = read_examples(validation, option="--validation")
    elif train is None and test is None:
        held_out = [example_from_item(i) for i in grounding_items(validation_size, VALIDATION_SEED)]
    else:
        held_out = []
    shared = len(fingerprints(held_out) & fingerprints(evaluation))
    if shared:
        raise BadInputError(f"--validation shares {shared} examples with the test set; the validation split must be "
                            "disjoint from the test examples")
    for k in k_values:
        try:
            draw_shots(len(pool), k, 0)
        except BadConfigError as error:
            raise BadConfigError(f"--shots: {error}") from None

    import json

    import numpy as np
    import torch
    from rich.progress import Progress

    from tenfold.core.experiment import Scale
    from tenfold.core.io import atomic_write_text
    from tenfold.cpt.examples import hit
    from tenfold.cpt.finetune import FineTuneGrounder
    from tenfold.cpt.grounder import CPTGrounder
    from tenfold.cpt.tuning import cpt_grid, finetune_grid, tune

    torch.set_num_threads(1)
    backbone = _load_backbone(weights)
    small = SETTINGS[Scale.SMALL]
    grids = {"finetune": finetune_grid(lr_grid, step_grid, small.finetune_head_lr_factor),
             "cpt": cpt_grid(small.cpt_negative_words, small.cpt_lrs, cpt_steps)}

    def make(name: str, setting: dict):
        options = dict(setting)
        if name == "finetune":
            return FineTuneGrounder(backbone, body_lr=options.pop("body_lr"), head_lr=options.pop("head_lr")), options
        return CPTGrounder(backbone), options

    if not held_out:
        import warnings

        warnings.warn("no --validation file: both methods run with the spec's untuned defaults", stacklevel=1)
    results: dict[str, dict[str, list[float]]] = {"cpt": {}, "finetune": {}}
    chosen: dict[str, dict[str, dict]] = {"cpt": {}, "finetune": {}}
    tuning: dict[str, dict[str, list[dict]]] = {"cpt": {}, "finetune": {}}
    tuning_fits = sum(len(g) for g in grids.values()) * len(k_values) if held_out else 0
    with Progress() as progress:
        task = progress.add_task("few-shot runs", total=2 * len(k_values) * seeds + tuning_fits)
        for k in k_values:
            for name, grid in grids.items():
                if held_out:
                    setting, rows = tune(lambda s, n=name: make(n, s), grid, pool, held_out, k)
                    tuning[name][str(k)] = rows
                    progress.advance(task, len(grid))
                else:
                    setting = grid[0]
                chosen[name][str(k)] = setting
                method, options = make(name, setting)
                scores = []
                for seed in range(seeds):
                    run = method.fit_few_shot(pool, k, [seed], **options)[0]
                    choices = run.grounder.predict_many(evaluation)
                    scores.append(float(np.mean([hit(e, c) for e, c in zip(evaluation, choices, strict=True)])))
                    progress.advance(task)
                results[name][str(k)] = scores
    summary = {"shots": k_values, "splits": seeds, "accuracy": results, "chosen": chosen, "tuning": tuning,
               "validation_examples": len(held_out),
               "mean": {n: {k: float(np.mean(v)) for k, v in r.items()} for n, r in results.items()},
               "std": {n: {k: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in r.items()}
                       for n, r in results.items()}}
    lines = ["| K | fine-tuning | CPT |", "|---|---|---|"]
    for k in map(str, k_values):
        lines.append(f"| {k} | {100 * summary['mean']['finetune'][k]:.1f} ± {100 * summary['std']['finetune'][k]:.1f} "
                     f"| {100 * summary['mean']['cpt'][k]:.1f} ± {100 * summary['std']['cpt'][k]:.1f} |")
    atomic_write_text(output.with_suffix(".md"), "\n".join(lines) + "\n")
    atomic_write_text(output, json.dumps(summary, indent=2))
    typer.echo("\n".join(lines))


@app.command()
def colors(
    words: Annotated[str, typer.Option(help="Comma-separated colour words to search.")] = "red,green,blue,yellow,purple,orange,gray,pink",
    levels: Annotated[int, typer.Option(help="Levels per RGB channel (6 gives 216 colours).")] = 6,
    alpha: Annotated[float, typer.Option(help="Mark opacity in (0, 1].")] = 0.5,
    weights: WeightsOption = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the per-word best colour as JSON here.")] = None,
) -> None:
    """Cross-modal colour search: the RGB value the backbone most surely calls each colour word."""
    from tenfold.core.io import check_output_path
    from tenfold.core.validation import check_number

    if output is not None:
        check_output_path(output, option="--output", suffixes=(".json",))
    names = [w.strip() for w in words.split(",") if w.strip()]
    if not names:
        raise BadConfigError("--words is empty")
    if len(set(names)) != len(names):
        raise BadConfigError(f"--words has duplicates: {names}")
    check_number("--levels", levels, low=2, high=16, integer=True)
    check_number("--alpha", alpha, low=0.0, high=1.0, low_open=True)

    import json

    import torch

    from tenfold.core.io import atomic_write_text
    from tenfold.cpt.colors import color_search

    torch.set_num_threads(1)
    result = color_search(_load_backbone(weights), names, levels=levels, alpha=alpha)
    rows = [{"word": w, "rgb": list(rgb), "probability": p} for w, rgb, p in result.ranking()]
    if output is not None:
        atomic_write_text(output, json.dumps(rows, indent=2))
    for row in rows:
        typer.echo(f"{row['word']:>8}  rgb={tuple(row['rgb'])}  p={row['probability']:.3f}")
