"""`tenfold ietrans ...`: IETrans on your own VG-150 files (pairs, transfer, train, evaluate) and SynthSGG.

A typical run with your own model: ``pairs`` lists what to score, your model writes probs.npz, ``transfer``
writes an augmented h5 that Scene-Graph-Benchmark trains on unchanged. Without a model of your own,
``train --probs-out`` fits MotifsLite/PairMLP on the labels and boxes and writes probs.npz for you.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError

app = typer.Typer(
    help="IETrans: relabel a scene-graph training set (internal + external transfer) and train/evaluate on it.",
    no_args_is_help=True,
)

H5 = Annotated[Path, typer.Option("--h5", help="VG-SGG-with-attri.h5")]
DICTS = Annotated[Path, typer.Option("--dicts", help="VG-SGG-dicts-with-attri.json")]
IMAGE_DATA = Annotated[
    Path | None, typer.Option("--image-data", help="image_data.json (optional: boxes in pixels, alignment check)")
]
VAL_MODE = Annotated[str, typer.Option(help="auto, flag (split=1 images) or carve (val from the end of train)")]


def _check_inputs(h5: Path, dicts: Path, image_data: Path | None = None) -> None:
    """The three VG files exist and are files, before any work."""
    from tenfold.core.io import check_input_file

    check_input_file(h5, option="--h5", what="VG-SGG h5 file")
    check_input_file(dicts, option="--dicts", what="VG-SGG dicts JSON")
    if image_data is not None:
        check_input_file(image_data, option="--image-data", what="image_data.json")


def _read(
    h5: Path,
    dicts: Path,
    image_data: Path | None,
    split: str = "train",
    val_mode: str = "auto",
    *,
    include_unannotated: bool = False,
):
    """One split; ``include_unannotated`` keeps images with boxes but no relation (external-transfer candidates,
    as the official relabelling does), otherwise only images with relations (the official training filter)."""
    import warnings

    from tenfold.ietrans.vg_h5 import read_vg_h5

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graphs = read_vg_h5(
            h5, dicts, split=split, image_data_path=image_data, val_mode=val_mode,
            filter_empty_rels=not include_unannotated,
        )
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)
    if graphs.num_relations == 0:
        raise BadInputError(f"the {split} split of {h5} has no image with relations")
    return graphs


def _share(name: str, value: float) -> float:
    from tenfold.core.validation import check_number

    return check_number(name, value, low=0.0, high=1.0)


def _head_ids(names: tuple[str, ...], head: str | None) -> tuple[int, ...]:
    from tenfold.ietrans.experiment import VG50_HEAD

    index = {name: i for i, name in enumerate(names)}
    if head is None:
        return tuple(sorted(index[n] for n in VG50_HEAD if n in index))
    wanted = [h.strip() for h in head.split(",") if h.strip()]
    unknown = [h for h in wanted if h not in index or h == "__background__"]
    if unknown:
        raise BadConfigError(f"--head names unknown predicates: {', '.join(unknown)}")
    return tuple(sorted(index[h] for h in wanted))


@app.command("pairs")
def pairs_command(
    h5: H5,
    dicts: DICTS,
    output: Annotated[Path, typer.Option("-o", "--output", help="pairs.npz to write")],
    image_data: IMAGE_DATA = None,
    val_mode: VAL_MODE = "auto",
) -> None:
    """List the training relations and the external candidates your model must score (pairs.npz).

    Candidates include training images that have boxes but no annotated relation, as the official code does.
    """
    import numpy as np

    from tenfold.core.io import check_output_path
    from tenfold.ietrans.probabilities_file import h5_box_indices, save_npz
    from tenfold.ietrans.transfer import external_candidates
    from tenfold.ietrans.vg_h5 import read_first_box

    _check_inputs(h5, dicts, image_data)
    check_output_path(output, suffixes=(".npz",))
    graphs = _read(h5, dicts, image_data, val_mode=val_mode, include_unannotated=True)
    first_box = read_first_box(h5)
    candidates = external_candidates(graphs)
    rel = graphs.relations
    save_npz(
        output,
        rel_boxes=np.stack([h5_box_indices(graphs, rel[:, 0], first_box), h5_box_indices(graphs, rel[:, 1], first_box)], 1),
        rel_predicates=rel[:, 2],
        rel_h5_rows=graphs.h5_rows[graphs.relation_image],
        cand_boxes=np.stack(
            [h5_box_indices(graphs, candidates.subject, first_box), h5_box_indices(graphs, candidates.object, first_box)], 1
        ).reshape(-1, 2),
        cand_h5_rows=graphs.h5_rows[graphs.object_image[candidates.subject]],
    )
    typer.echo(f"{output}: {len(rel)} relations and {len(candidates)} candidate pairs to score")


@app.command("transfer")
def transfer_command(
    h5: H5,
    dicts: DICTS,
    probs: Annotated[Path, typer.Option("--probs", help="probs.npz: rel_probs|rel_logits [, cand_probs|cand_logits]")],
    output: Annotated[Path, typer.Option("-o", "--output", help="augmented h5 to write")],
    k_int: Annotated[float, typer.Option("--k-int", help="internal share k_I in [0, 1]")] = 0.7,
    k_ext: Annotated[float, typer.Option("--k-ext", help="external share k_E in [0, 1]")] = 1.0,
    head: Annotated[
        str | None, typer.Option(help="comma-separated predicates never added externally (default: VG-50's 15)")
    ] = None,
    rounding: Annotated[
        str, typer.Option(help="k x pool size: floor (default), official (the official code's int(k*n)), round or ceil")
    ] = "floor",
    report: Annotated[Path | None, typer.Option(help="JSON report path (default: OUTPUT with .json)")] = None,
    image_data: IMAGE_DATA = None,
    val_mode: VAL_MODE = "auto",
) -> None:
    """Run internal + external transfer with your model's probabilities and write the augmented h5.

    Candidates include unannotated training images (official). Ties, rounding and the merge follow
    `tenfold.ietrans.transfer`'s notes: stable ranking, internal labels win, no pair is annotated twice.
    """
    import numpy as np

    from tenfold.core.io import atomic_write_text, check_input_file, check_output_path
    from tenfold.ietrans.probabilities_file import (
        candidate_pairs,
        check_alignment,
        h5_box_indices,
        load_npz,
        probabilities_from,
    )
    from tenfold.ietrans.transfer import TransferConfig, external_candidates, ietrans_transfer
    from tenfold.ietrans.vg_h5 import read_first_box, write_transferred_h5

    config = TransferConfig(k_int=_share("--k-int", k_int), k_ext=_share("--k-ext", k_ext), rounding=rounding)
    config.validate()
    _check_inputs(h5, dicts, image_data)
    check_input_file(probs, option="--probs", what="probabilities .npz")
    check_output_path(output, suffixes=(".h5",))
    report_path = check_output_path(report or output.with_suffix(".json"), option="--report", suffixes=(".json",))
    arrays = load_npz(probs)
    graphs = _read(h5, dicts, image_data, val_mode=val_mode, include_unannotated=True)
    config.head_predicates = _head_ids(graphs.predicate_names, head)
    first_box = read_first_box(h5)
    num_p = graphs.num_predicates
    rel_probs = probabilities_from(arrays, "rel", graphs.num_relations, num_p)
    if rel_probs is None:
        raise BadInputError(f"{probs} has neither rel_probs nor rel_logits")
    rel = graphs.relations
    check_alignment(
        arrays, "rel_boxes", np.stack([h5_box_indices(graphs, rel[:, 0], first_box), h5_box_indices(graphs, rel[:, 1], first_box)], 1)
    )
    candidates = external_candidates(graphs)
    cand_probs = probabilities_from(arrays, "cand", len(candidates), num_p)
    if cand_probs is None:
        typer.echo("warning: no cand_probs/cand_logits in the probabilities file: external transfer skipped", err=True)
        config.external = False
    else:
        pairs = candidate_pairs(candidates)
        check_alignment(
            arrays, "cand_boxes", np.stack([h5_box_indices(graphs, pairs[:, 0], first_box), h5_box_indices(graphs, pairs[:, 1], first_box)], 1)
        )
    result = ietrans_transfer(graphs, rel_probs, candidates, cand_probs, config)
    write_transferred_h5(h5, output, result.graphs)
    atomic_write_text(report_path, json.dumps(result.report, indent=1))
    internal = result.report.get("internal", {})
    external = result.report.get("external", {})
    typer.echo(
        f"{output}: {internal.get('changed', 0)} relabelled internally, {external.get('added', 0)} added externally, "
        f"{result.report['relations_after']} relations; report {report_path}"
    )


@app.command("train")
def train_command(
    h5: H5,
    dicts: DICTS,
    output: Annotated[Path, typer.Option("-o", "--output", help="folder for model.safetensors + config.json")],
    model: Annotated[str, typer.Option(help="motifs (MotifsLite) or pairmlp")] = "motifs",
    loss: Annotated[str, typer.Option(help="ce or rwt (official reweighted CE)")] = "ce",
    epochs: Annotated[int, typer.Option(help="training epochs")] = 6,
    lr: Annotated[float, typer.Option(help="Adam learning rate")] = 2e-3,
    background_ratio: Annotated[
        float | None, typer.Option(help="background pairs per foreground pair (default: every pair, official)")
    ] = None,
    frequency_bias: Annotated[bool, typer.Option(help="add the Motifs frequency-bias table")] = False,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    probs_out: Annotated[Path | None, typer.Option(help="also write probs.npz for `transfer` on this split")] = None,
    image_data: IMAGE_DATA = None,
    val_mode: VAL_MODE = "auto",
) -> None:
    """Train a predicate classifier (PredCls: labels + boxes) on the h5's training split (images with relations).

    ``--probs-out`` scores every training relation and every external candidate, unannotated images included.
    """
    import numpy as np

    from tenfold.core.io import (
        atomic_directory,
        atomic_save_safetensors,
        atomic_write_text,
        check_output_path,
    )
    from tenfold.core.validation import check_number
    from tenfold.ietrans.pipeline import relation_probabilities
    from tenfold.ietrans.probabilities_file import save_npz
    from tenfold.ietrans.scene_graphs import images_with_relations, select_images
    from tenfold.ietrans.training import PredicateClassifier
    from tenfold.ietrans.transfer import external_candidates

    check_number("--epochs", epochs, low=1, integer=True)
    check_number("--lr", lr, low=0.0, low_open=True, high=10.0)
    check_number("--background-ratio", background_ratio, low=0.0, allow_none=True)
    check_number("--seed", seed, low=0, integer=True)
    _check_inputs(h5, dicts, image_data)
    check_output_path(output, kind="directory", replaced=True)
    if probs_out is not None:
        check_output_path(probs_out, option="--probs-out", suffixes=(".npz",))
    classifier = PredicateClassifier(
        model=model, loss=loss, epochs=epochs, lr=lr, background_ratio=background_ratio,
        frequency_bias=frequency_bias, seed=seed, progress=True,
    )
    classifier.validate()
    if output.exists() and any(output.iterdir()):
        raise BadConfigError(f"--output {output} exists and is not empty; choose a new folder")
    everything = _read(h5, dicts, image_data, val_mode=val_mode, include_unannotated=probs_out is not None)
    graphs = select_images(everything, images_with_relations(everything))
    classifier.fit(graphs)
    with atomic_directory(output) as staging:
        atomic_save_safetensors(staging / "model.safetensors", {k: v.cpu() for k, v in classifier.network_.state_dict().items()})
        atomic_write_text(staging / "config.json", json.dumps(classifier.state(), indent=1))
    typer.echo(f"{output}: model trained, final loss {classifier.history_[-1]:.4f}")
    if probs_out is not None:
        pair_probs, rel_probs = relation_probabilities(classifier, everything)
        candidates = external_candidates(everything)
        save_npz(probs_out, rel_probs=rel_probs.astype(np.float32), cand_probs=pair_probs[candidates.pair_rows].astype(np.float32))
        typer.echo(f"{probs_out}: probabilities for {everything.num_relations} relations and {len(candidates)} candidates")


def load_classifier(folder: Path):
    """Rebuild a PredicateClassifier saved by `train`."""
    import numpy as np
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tenfold.core.io import check_input_dir, read_json
    from tenfold.ietrans.training import PredicateClassifier

    check_input_dir(folder, option="--model", what="model folder written by `tenfold ietrans train`")
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise MissingDataError(f"--model {folder} does not hold config.json and model.safetensors from `tenfold ietrans train`")
    state = read_json(config_path, option="--model")
    try:
        prior = state.pop("prior")
        shape = (state.pop("num_object_classes"), state.pop("num_predicates"), state.pop("feature_dim"))
        classifier = PredicateClassifier(**state)
        classifier.build(*shape)
        classifier.network_.load_state_dict(load_file(str(weights_path)))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, SafetensorError) as error:
        raise BadInputError(f"--model {folder} holds a model this version cannot load ({error}); retrain it") from None
    classifier.prior_ = None if prior is None else np.asarray(prior)
    return classifier


@app.command("evaluate")
def evaluate_command(
    h5: H5,
    dicts: DICTS,
    model: Annotated[Path, typer.Option("--model", help="folder written by `tenfold ietrans train`")],
    split: Annotated[str, typer.Option(help="test or val")] = "test",
    ks: Annotated[str, typer.Option("--k", help="comma-separated K values")] = "20,50,100",
    no_graph_constraint: Annotated[bool, typer.Option(help="score every (pair, predicate), not one per pair")] = False,
    logit_adjustment: Annotated[float, typer.Option(help="subtract tau x log prior from foreground logits")] = 0.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the metrics as JSON")] = None,
    image_data: IMAGE_DATA = None,
    val_mode: VAL_MODE = "auto",
) -> None:
    """PredCls R@K / mR@K / F@K of a trained model on the h5's test (or val) split."""
    from rich.console import Console
    from rich.table import Table

    from tenfold.core.io import atomic_write_text, check_output_path
    from tenfold.core.validation import check_number
    from tenfold.ietrans.metrics import recall_metrics

    try:
        k_values = tuple(int(k) for k in ks.split(","))
    except ValueError:
        raise BadConfigError(f"--k {ks!r} must be comma-separated integers") from None
    for k in k_values:
        check_number("--k", k, low=1)
    check_number("--logit-adjustment", logit_adjustment, low=0.0, high=10.0)
    if split not in ("test", "val"):
        raise BadConfigError(f"--split {split!r}; use test or val")
    _check_inputs(h5, dicts, image_data)
    if json_out is not None:
        check_output_path(json_out, option="--json", suffixes=(".json",))
    graphs = _read(h5, dicts, image_data, split=split, val_mode=val_mode)
    classifier = load_classifier(model)
    classifier.logit_adjustment = logit_adjustment
    metrics = recall_metrics(graphs, classifier.predict_proba(graphs), ks=k_values, graph_constraint=not no_graph_constraint)
    table = Table(title=f"PredCls on {split} ({metrics['images_evaluated']} images)")
    for column in ("K", "R", "mR", "F"):
        table.add_column(column)
    for k in k_values:
        table.add_row(str(k), *(f"{100 * metrics[f'{m}@{k}']:.2f}" for m in ("R", "mR", "F")))
    Console().print(table)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(metrics, indent=1))


@app.command("synth")
def synth_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="folder for the VG-format files")],
    seed: Annotated[int, typer.Option(help="world and sampling seed")] = 0,
    train_images: Annotated[int, typer.Option("--train", help="training images")] = 2500,
    test_images: Annotated[int, typer.Option("--test", help="test images")] = 1000,
    alpha: Annotated[float, typer.Option(help="P(a specific predicate is written as its general parent)")] = 0.5,
    beta: Annotated[float, typer.Option(help="P(a true relation is annotated)")] = 0.6,
) -> None:
    """Write a SynthSGG world as VG-150 files (biased labels; latent test truth in latent/)."""
    from tenfold.core.io import atomic_directory, check_output_path
    from tenfold.core.validation import check_number
    from tenfold.ietrans.synth import SynthConfig, make_synth
    from tenfold.ietrans.vg_h5 import write_vg_files

    check_number("--train", train_images, low=1, high=1_000_000, integer=True)
    check_number("--test", test_images, low=1, high=1_000_000, integer=True)
    check_number("--alpha", alpha, low=0.0, high=1.0)
    check_number("--beta", beta, low=0.0, high=1.0, low_open=True)
    check_number("--seed", seed, low=0, integer=True)
    check_output_path(output, kind="directory", replaced=True)
    _, train, test = make_synth(seed, train_images, test_images, SynthConfig(alpha=alpha, beta=beta))
    with atomic_directory(output) as staging:
        write_vg_files(staging, {"train": train.annotated, "test": test.annotated})
        write_vg_files(staging / "latent", {"train": train.latent, "test": test.latent})
    paths = {"h5": output / "VG-SGG-with-attri.h5"}
    typer.echo(f"{paths['h5']}: {train_images} train / {test_images} test images (pair appearance is not stored)")

