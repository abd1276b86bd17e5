"""`tenfold cpt ...`: pre-train the tiny VL backbone, ground a query in your image, few-shot runs, colour search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError

app = typer.Typer(help="CPT: colour-prompt visual grounding with a masked-language VL model.", no_args_is_help=True)

WeightsOption = Annotated[
    Path | None,
    typer.Option(help="TinyVL safetensors from `tenfold cpt pretrain --out`; default: the cached small-scale backbone."),
]


def _load_backbone(weights: Path | None):
    from tenfold.core.experiment import Scale
    from tenfold.cpt.experiment import PLANS
    from tenfold.cpt.pretrain import _weights_path, load_weights

    if weights is not None:
        return load_weights(weights)[0]
    path = _weights_path(PLANS[Scale.SMALL].pretrain)
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


@app.command()
def pretrain(
    steps: Annotated[int, typer.Option(help="MLM steps (spec: 12000).")] = 12_000,
    scenes: Annotated[int, typer.Option(help="Synthetic captioned scenes.")] = 12_000,
    seed: Annotated[int, typer.Option(help="Seed of the scenes, masks and initialisation.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Also write the weights to this .safetensors file.")] = None,
) -> None:
    """Pre-train TinyVL with masked language modelling on synthetic scenes (cached; resumable)."""
    import torch
    from rich.progress import Progress

    from tenfold.core.experiment import Scale
    from tenfold.cpt.experiment import PLANS
    from tenfold.cpt.pretrain import PretrainConfig, load_or_pretrain, save_weights

    if steps < 1 or scenes < 32:
        raise BadConfigError("pretrain needs --steps >= 1 and --scenes >= 32")
    if out is not None and out.suffix != ".safetensors":
        raise BadConfigError(f"--out {out} must end in .safetensors")
    torch.set_num_threads(1)
    small = PLANS[Scale.SMALL].pretrain
    config = small if (steps, scenes, seed) == (small.steps, small.scenes, small.seed) else PretrainConfig(
        scenes=scenes, steps=steps, seed=seed, warmup=min(200, max(1, steps // 10)))
    with Progress() as progress:
        task = progress.add_task("pre-training", total=steps)
        result = load_or_pretrain(config, on_step=lambda step, loss: progress.update(task, completed=step,
                                                                                      description=f"loss {loss:.3f}"))
        progress.update(task, completed=steps)
    if out is not None:
        metadata = {"model_config": json.dumps(result.model.config.to_dict()), "steps": str(steps)}
        save_weights(out, result.model.state_dict(), metadata)
    typer.echo(f"pre-trained {steps} steps{' (cached)' if result.from_cache else ''}"
               + (f"; weights: {out}" if out else ""))


@app.command()
def ground(
    image: Annotated[Path, typer.Argument(help="Image file (PNG/JPEG; any mode is converted to RGB).")],
    boxes: Annotated[Path, typer.Option(help='JSON: [[x1,y1,x2,y2], ...] or {"boxes": [...], "tags": [...]}.')],
    query: Annotated[str, typer.Option(help="The referring expression.")],
    box_format: Annotated[str, typer.Option(help="xyxy or xywh (explicit on purpose).")] = "xyxy",
    color: Annotated[str, typer.Option(help="Marker colour as word:R,G,B.")] = "red:240,0,30",
    alpha: Annotated[float, typer.Option(help="Mark opacity in (0, 1].")] = 0.5,
    weights: WeightsOption = None,
    out: Annotated[Path | None, typer.Option(help="Write scores as JSON here.")] = None,
) -> None:
    """Ground QUERY in IMAGE among the proposal boxes with zero-shot CPT."""
    import numpy as np

    from tenfold.core.data import read_image
    from tenfold.core.io import atomic_write_text
    from tenfold.cpt.grounder import CPTGrounder
    from tenfold.cpt.synth import PALETTE_RGB

    if not boxes.is_file():
        raise MissingDataError(f"--boxes {boxes} does not exist")
    try:
        spec = json.loads(boxes.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BadInputError(f"--boxes {boxes} is not valid JSON ({error})") from None
    tags = None
    if isinstance(spec, dict):
        tags = spec.get("tags")
        spec = spec.get("boxes")
    if not isinstance(spec, list):
        raise BadInputError(f"--boxes {boxes} must hold a list of boxes")
    word, _, rgb_text = color.partition(":")
    rgb = _parse_ints(rgb_text, "--color", minimum=0) if rgb_text else None
    if rgb is None and word in PALETTE_RGB:
        rgb = list(PALETTE_RGB[word])
    if rgb is None or len(rgb) != 3:
        raise BadConfigError(f"--color {color!r}: use word:R,G,B such as red:240,0,30")
    picture = read_image(image)
    backbone = _load_backbone(weights)
    fallback = [(w, v) for w, v in PALETTE_RGB.items() if w != word]
    grounder = CPTGrounder(backbone, colors=[(word, tuple(rgb))], alpha=alpha, fallback_colors=fallback)
    scores = grounder.score(picture, spec if spec else np.zeros((0, 4)), query, box_format=box_format, tags=tags)
    report = {"query": query, "best": scores.best, "scores": scores.scores.tolist(),
              "probabilities": scores.probabilities.tolist(), "color": scores.color_word, "scored": scores.scored,
              "notes": scores.notes}
    if out is not None:
        atomic_write_text(out, json.dumps(report, indent=2))
    typer.echo(f"best proposal: {scores.best} (p={scores.probabilities[scores.best]:.3f}, colour {scores.color_word})")


@app.command()
def fewshot(
    shots: Annotated[str, typer.Option(help="Comma-separated K values.")] = "1,2,4,8,16",
    seeds: Annotated[int, typer.Option(help="Seeds (draws) per K.")] = 5,
    steps: Annotated[int, typer.Option(help="Training steps per run.")] = 100,
    train: Annotated[Path | None, typer.Option(help="JSON Lines pool of labelled examples (default: synthetic).")] = None,
    test: Annotated[Path | None, typer.Option(help="JSON Lines test examples (default: synthetic).")] = None,
    pool_size: Annotated[int, typer.Option(help="Synthetic pool size when --train is not given.")] = 400,
    test_size: Annotated[int, typer.Option(help="Synthetic test size when --test is not given.")] = 300,
    weights: WeightsOption = None,
    out: Annotated[Path, typer.Option(help="results.json to write (a .md table is written beside it).")] = Path("cpt_fewshot.json"),
) -> None:
    """K-shot CPT vs fine-tuning a new head, on the same draws; writes mean/std per K."""
    import numpy as np
    import torch
    from rich.progress import Progress

    from tenfold.core.io import atomic_write_text
    from tenfold.cpt.examples import draw_shots, hit, read_examples
    from tenfold.cpt.experiment import _example
    from tenfold.cpt.finetune import FineTuneGrounder
    from tenfold.cpt.grounder import CPTGrounder
    from tenfold.cpt.synth import grounding_items

    k_values = _parse_ints(shots, "--shots")
    if seeds < 1 or steps < 1:
        raise BadConfigError("--seeds and --steps must be >= 1")
    pool = read_examples(train) if train else [_example(i) for i in grounding_items(pool_size, 20_000)]
    evaluation = read_examples(test) if test else [_example(i) for i in grounding_items(test_size, 10_000)]
    for k in k_values:
        draw_shots(len(pool), k, 0)  # K larger than the pool fails before any work
    torch.set_num_threads(1)
    backbone = _load_backbone(weights)
    results: dict[str, dict[str, list[float]]] = {"cpt": {}, "finetune": {}}
    with Progress() as progress:
        task = progress.add_task("few-shot runs", total=2 * len(k_values) * seeds)
        for k in k_values:
            for name, method in (("cpt", CPTGrounder(backbone)), ("finetune", FineTuneGrounder(backbone))):
                scores = []
                for seed in range(seeds):
                    run = method.fit_few_shot(pool, k, [seed], steps=steps)[0]
                    choices = run.grounder.predict_many(evaluation)
                    scores.append(float(np.mean([hit(e, c) for e, c in zip(evaluation, choices, strict=True)])))
                    progress.advance(task)
                results[name][str(k)] = scores
    summary = {"shots": k_values, "seeds": seeds, "steps": steps, "accuracy": results,
               "mean": {n: {k: float(np.mean(v)) for k, v in r.items()} for n, r in results.items()},
               "std": {n: {k: float(np.std(v)) for k, v in r.items()} for n, r in results.items()}}
    lines = ["| K | fine-tuning | CPT |", "|---|---|---|"]
    for k in map(str, k_values):
        lines.append(f"| {k} | {100 * summary['mean']['finetune'][k]:.1f} ± {100 * summary['std']['finetune'][k]:.1f} "
                     f"| {100 * summary['mean']['cpt'][k]:.1f} ± {100 * summary['std']['cpt'][k]:.1f} |")
    atomic_write_text(out, json.dumps(summary, indent=2))
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


@app.command()
def colors(
    words: Annotated[str, typer.Option(help="Comma-separated colour words to search.")] = "red,green,blue,yellow,purple,orange,gray,pink",
    levels: Annotated[int, typer.Option(help="Levels per RGB channel (6 gives 216 colours).")] = 6,
    alpha: Annotated[float, typer.Option(help="Mark opacity in (0, 1].")] = 0.5,
    weights: WeightsOption = None,
    out: Annotated[Path | None, typer.Option(help="Write the per-word best colour as JSON here.")] = None,
) -> None:
    """Cross-modal colour search: the RGB value the backbone most surely calls each colour word."""
    import torch

    from tenfold.core.io import atomic_write_text
    from tenfold.cpt.colors import color_search

    names = [w.strip() for w in words.split(",") if w.strip()]
    if not names:
        raise BadConfigError("--words is empty")
    if len(set(names)) != len(names):
        raise BadConfigError(f"--words has duplicates: {names}")
    if levels < 2 or levels > 16:
        raise BadConfigError("--levels must lie in 2..16")
    torch.set_num_threads(1)
    result = color_search(_load_backbone(weights), names, levels=levels, alpha=alpha)
    rows = [{"word": w, "rgb": list(rgb), "probability": p} for w, rgb, p in result.ranking()]
    if out is not None:
        atomic_write_text(out, json.dumps(rows, indent=2))
    for row in rows:
        typer.echo(f"{row['word']:>8}  rgb={tuple(row['rgb'])}  p={row['probability']:.3f}")
