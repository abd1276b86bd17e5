"""`tenfold cpm ...`: knowledge-inheritance pre-training, MoE growth, prompt tuning and offloaded MoE inference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError

app = typer.Typer(help="CPM-2 toolkit: knowledge inheritance, prompt tuning, InfMoE offloaded MoE inference.",
                  no_args_is_help=True)
infmoe_app = typer.Typer(help="Offloaded MoE inference (InfMoE): create, run and benchmark expert stores.",
                         no_args_is_help=True)
app.add_typer(infmoe_app, name="infmoe")


def _progress(total: int, label: str):  # noqa: ANN202 - a rich Progress context
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeRemainingColumn(), transient=True)
    return progress, progress.add_task(label, total=total)


@app.command("corpus")
def corpus_command(
    out: Annotated[Path, typer.Option(help="jsonl to write: one {name, module, split, text} per docstring.")],
) -> None:
    """Extract the stdlib-docstring corpus (the miniature's real text) with its sha256 manifest."""
    import json

    from tenfold.core.io import atomic_write_text
    from tenfold.cpm.corpus import load_corpus

    corpus = load_corpus()
    lines = [json.dumps({"name": i.name, "module": i.module, "split": split, "text": i.text})
             for split, items in (("train", corpus.train), ("heldout", corpus.heldout)) for i in items]
    atomic_write_text(out, "\n".join(lines) + "\n")
    typer.echo(f"{len(lines)} docstrings ({corpus.num_bytes} bytes), sha256 {corpus.sha256} -> {out}")


@app.command("pretrain")
def pretrain_command(
    text: Annotated[Path, typer.Option(help="Training text: .jsonl with a 'text' field, or plain UTF-8 text.")],
    out: Annotated[Path, typer.Option(help="Model file to write (.safetensors).")],
    layers: int = 2, d_model: int = 64, heads: int = 4, d_ff: int = 192, max_len: int = 128,
    steps: int = 300, seq_len: int = 64, batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
    teacher: Annotated[Path | None, typer.Option(help="A smaller trained model to inherit from (KI).")] = None,
    t_ki: Annotated[int | None, typer.Option(help="Step at which inheritance ends (default: steps // 2).")] = None,
    tau: Annotated[float, typer.Option(help="KI temperature.")] = 1.0,
    schedule: Annotated[str, typer.Option(help="linear (a_t 1 -> 0) or distil_then_mlm (hard switch).")] = "linear",
) -> None:
    """Pre-train a byte-level LM on your text, optionally with knowledge inheritance from a teacher."""
    import torch

    from tenfold.cpm.corpus import token_stream
    from tenfold.cpm.ki import KnowledgeInheritance
    from tenfold.cpm.pretrain import pretrain
    from tenfold.cpm.readers import read_texts
    from tenfold.cpm.transformer import ByteLM, LMConfig, load_lm, save_lm

    stream = token_stream(read_texts(text))
    config = LMConfig(d_model=d_model, n_layers=layers, n_heads=heads, d_ff=d_ff, max_len=max_len)
    inheritance = None
    if teacher is not None:
        teacher_model = load_lm(str(teacher))
        if teacher_model.config.vocab_size != config.vocab_size:
            raise BadConfigError(
                f"teacher vocabulary {teacher_model.config.vocab_size} != student {config.vocab_size}; KI needs a shared one"
            )
        inheritance = KnowledgeInheritance(teacher_model, t_ki if t_ki is not None else max(1, steps // 2),
                                           total_steps=steps, tau=tau, schedule=schedule)
    torch.manual_seed(seed)
    model = ByteLM(config)
    progress, task = _progress(steps, "pre-training")
    with progress:
        history = pretrain(model, stream, steps=steps, seq_len=seq_len, batch_size=batch_size, lr=lr, seed=seed,
                           inheritance=inheritance, on_step=lambda s: progress.update(task, completed=s + 1))
    save_lm(model, str(out))
    typer.echo(f"final train loss {history.train_losses[-1]:.4f} after {steps} steps ({history.seconds:.1f} s) -> {out}")


@app.command("grow-moe")
def grow_moe_command(
    model: Annotated[Path, typer.Option(help="Dense model file from `tenfold cpm pretrain`.")],
    out: Annotated[Path, typer.Option(help="Folder for layer{l}.safetensors expert files.")],
    experts: Annotated[int, typer.Option(help="Experts per FFN (each starts as a copy of the dense FFN).")] = 8,
    mix: Annotated[str, typer.Option(help="none (function-preserving) or base (x + sigmoid(a) FFN_e(x)).")] = "none",
    seed: int = 0,
) -> None:
    """Turn a dense model's FFNs into experts behind a fixed random gate (CPM-2's MoE stage) and export them."""
    from tenfold.core.io import atomic_directory
    from tenfold.cpm.growth import dense_to_moe, export_experts
    from tenfold.cpm.transformer import load_lm

    if experts < 1:
        raise BadConfigError(f"--experts {experts}; need at least one expert")
    dense = load_lm(str(model))
    moe = dense_to_moe(dense, experts, mix=mix, seed=seed)
    if out.exists():
        raise BadConfigError(f"{out} already exists; choose a new folder")
    with atomic_directory(out) as staging:
        files = export_experts(moe, staging)
    typer.echo(f"{len(files)} MoE layers x {experts} experts -> {out}")


@app.command("prompt-tune")
def prompt_tune_command(
    backbone: Annotated[Path, typer.Option(help="Frozen model file from `tenfold cpm pretrain`.")],
    train: Annotated[Path, typer.Option(help="jsonl with sentence1, sentence2, label (0/1).")],
    out: Annotated[Path, typer.Option(help="Prompt checkpoint to write (.safetensors, prompt only + backbone hash).")],
    num_prompts: int = 10,
    positions: Annotated[str, typer.Option(help="F, M, B, F+B, F+M, M+B, F+M+B or a ratio list like 0.5,0.5,0.")] = "F+M",
    init: Annotated[str, typer.Option(help="random, vocab or text.")] = "vocab",
    init_text: str | None = None,
    steps: int = 300, batch_size: int = 32, lr: float = 3e-2, seed: int = 0,
    scoring: Annotated[str, typer.Option(help="restricted (verbalizer only) or full (whole-vocabulary argmax).")] = "restricted",
    verbalizer: Annotated[str, typer.Option(help="Words for label 0 and 1, comma separated.")] = "n,y",
    mask_prompt2token: bool = False, mask_token2prompt: bool = False, width: int = 25,
) -> None:
    """Prompt-tune a frozen backbone on your pair data; the checkpoint holds only the prompt."""
    from tenfold.cpm.prompt import PromptTuner
    from tenfold.cpm.readers import read_pairs
    from tenfold.cpm.transformer import load_lm

    place: str | list[float] = positions
    if "," in positions:
        try:
            place = [float(v) for v in positions.split(",")]
        except ValueError:
            raise BadConfigError(f"--positions {positions!r}: give a name or three numbers like 0.5,0.5,0") from None
    words = tuple(verbalizer.split(","))
    tuner = PromptTuner(load_lm(str(backbone)), num_prompts=num_prompts, positions=place, init=init,
                        init_text=init_text, steps=steps, batch_size=batch_size, lr=lr, seed=seed, scoring=scoring,
                        verbalizer=words, mask_prompt2token=mask_prompt2token,  # type: ignore[arg-type]
                        mask_token2prompt=mask_token2prompt)
    data, _ = read_pairs(train, width=width)
    tuner.fit(data)
    tuner.save(out)
    typer.echo(f"train accuracy {tuner.score(data):.3f}; {tuner.cost_.trainable_params} trainable parameters "
               f"({100 * tuner.cost_.trainable_fraction:.3f}%) -> {out}")


@app.command("prompt-predict")
def prompt_predict_command(
    backbone: Annotated[Path, typer.Option(help="The model the prompt was tuned on.")],
    prompt: Annotated[Path, typer.Option(help="Prompt checkpoint from `tenfold cpm prompt-tune`.")],
    input: Annotated[Path, typer.Option(help="jsonl with sentence1, sentence2 (label optional).")],
    out: Annotated[Path, typer.Option(help="jsonl to write: the input records with a 'prediction' field.")],
    width: int = 25,
) -> None:
    """Label pairs with a tuned prompt; refuses a prompt trained on a different backbone."""
    import json

    from tenfold.core.io import atomic_write_text
    from tenfold.cpm.prompt import PromptTuner
    from tenfold.cpm.readers import read_pairs
    from tenfold.cpm.transformer import load_lm

    tuner = PromptTuner.load(prompt, load_lm(str(backbone)))
    data, records = read_pairs(input, width=width, require_labels=False)
    predictions = tuner.predict(data)
    atomic_write_text(out, "".join(json.dumps({**r, "prediction": int(p)}) + "\n"
                                   for r, p in zip(records, predictions, strict=True)))
    known = data.labels >= 0
    accuracy = f"; accuracy {float((predictions[known] == data.labels[known]).mean()):.3f}" if known.any() else ""
    typer.echo(f"{len(records)} predictions -> {out}{accuracy}")


@infmoe_app.command("create")
def infmoe_create_command(
    out: Annotated[Path, typer.Option(help="Folder for layer{l}.safetensors files (must not exist).")],
    layers: int = 4, experts: int = 16, d_model: int = 512, d_ff: int = 2048, seed: int = 0,
) -> None:
    """Write a seeded synthetic MoE expert stack (the offload engine's test bed)."""
    from tenfold.core.io import atomic_directory
    from tenfold.cpm.synthetic import create_expert_stack

    if out.exists():
        raise BadConfigError(f"{out} already exists; choose a new folder")
    if min(layers, experts, d_model, d_ff) < 1:
        raise BadConfigError("layers, experts, d-model and d-ff must all be >= 1")
    with atomic_directory(out) as staging:
        create_expert_stack(staging, num_layers=layers, num_experts=experts, d_model=d_model, d_ff=d_ff, seed=seed)
    typer.echo(f"{layers} layers x {experts} experts ({d_model}x{d_ff}) -> {out}")


@infmoe_app.command("run")
def infmoe_run_command(
    experts: Annotated[Path, typer.Option(help="Folder of layer{l}.safetensors expert files.")],
    input: Annotated[Path, typer.Option(help=".npy float array [N, d_model] of token features.")],
    out: Annotated[Path, typer.Option(help=".npy to write: the tokens after every MoE layer.")],
    budget_mb: Annotated[float, typer.Option(help="Device memory for expert slots, MB.")] = 64.0,
    schedule: Annotated[str, typer.Option(help="greedy (InfMoE) or index.")] = "greedy",
    link_gbps: Annotated[float | None, typer.Option(help="Emulate a host->device link of this many GB/s.")] = None,
    device: str = "cpu",
    check: Annotated[bool, typer.Option(help="Also run fully resident and require bitwise-equal output.")] = False,
) -> None:
    """Run an MoE stack with experts streamed from disk under a memory budget."""
    import io

    import numpy as np
    import torch

    from tenfold.core.errors import TenfoldError
    from tenfold.core.io import atomic_write_bytes
    from tenfold.cpm.offload import ExpertStore, OffloadEngine, ResidentExperts
    from tenfold.cpm.readers import read_tokens

    store = ExpertStore(experts)
    x = torch.from_numpy(read_tokens(input, store.d_model))
    link = None if link_gbps is None else link_gbps * 1e9
    with OffloadEngine(store, int(budget_mb * 1e6), schedule=schedule, link_bytes_per_s=link, device=device) as engine:
        with torch.no_grad():
            y = engine.forward(x).cpu()
        stats = engine.stats
        slots = engine.pool.num_slots
    if check:
        with torch.no_grad():
            reference = ResidentExperts(store, device=device).forward(x).cpu()
        if not torch.equal(reference, y):
            raise TenfoldError("offloaded output differs from the resident model's (please report this)")
    buffer = io.BytesIO()
    np.save(buffer, y.numpy())
    atomic_write_bytes(out, buffer.getvalue())
    typer.echo(f"{stats.loads} expert loads ({stats.bytes_moved / 1e6:.1f} MB, {slots} slots), "
               f"{stats.skipped_experts} empty experts skipped{'; equal to resident' if check else ''} -> {out}")


@infmoe_app.command("bench")
def infmoe_bench_command(
    experts: Annotated[Path | None, typer.Option(help="Expert folder (default: a temporary synthetic stack).")] = None,
    tokens: Annotated[str, typer.Option(help="Tokens per layer, comma separated.")] = "1,16,256",
    slots: int = 2,
    link_gbps: Annotated[float | None, typer.Option(help="Emulated link GB/s (default: unthrottled page cache).")] = None,
    zipf: Annotated[float, typer.Option(help="Routing skew (Zipf s); 0 = uniform.")] = 1.2,
    repeats: int = 5,
    accelerate: Annotated[bool, typer.Option(help="Include Accelerate disk_offload as the peer.")] = True,
    layers: int = 4, num_experts: int = 16, d_model: int = 512, d_ff: int = 2048,
) -> None:
    """Print resident / naive / overlap / overlap+greedy / Accelerate times, bytes moved, hidden-transfer share."""
    import tempfile

    import torch
    from rich.console import Console
    from rich.table import Table

    from tenfold.cpm.bench import benchmark_rows
    from tenfold.cpm.offload import ExpertStore
    from tenfold.cpm.synthetic import create_expert_stack

    try:
        counts = [int(t) for t in tokens.split(",")]
    except ValueError:
        raise BadConfigError(f"--tokens {tokens!r}: give integers like 1,16,256") from None
    if any(c < 1 for c in counts) or repeats < 1:
        raise BadConfigError("token counts and repeats must be >= 1")
    torch.set_num_threads(1)
    temporary = None
    if experts is None:
        temporary = tempfile.TemporaryDirectory(prefix="cpm_bench_")
        create_expert_stack(temporary.name, num_layers=layers, num_experts=num_experts, d_model=d_model, d_ff=d_ff)
        experts = Path(temporary.name)
    try:
        store = ExpertStore(experts)
        rows = benchmark_rows(store, counts, slots=slots, link_bytes_per_s=None if link_gbps is None else link_gbps * 1e9,
                              zipf_s=zipf or None, repeats=repeats, with_accelerate=accelerate)
    finally:
        if temporary is not None:
            temporary.cleanup()
    table = Table(title=f"offloaded MoE, {store.num_layers}x{store.num_experts} experts of "
                        f"{store.expert_bytes / 1e6:.1f} MB, {slots} slots (seconds, median of {repeats})")
    columns = ["tokens", "resident_s", "naive_s", "overlap_s", "overlap_greedy_s"] + \
        (["accelerate_s"] if accelerate else []) + ["naive_bytes", "hidden_fraction", "speedup_overlap"]
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*[f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in columns])
    Console().print(table)
    equal = all(row[k] == 1.0 for row in rows for k in row if k.endswith("_equal") and not k.startswith("accelerate"))
    typer.echo(f"offloaded outputs bitwise equal to resident: {equal}")
    if accelerate:
        same = all(row.get("accelerate_equal") == 1.0 for row in rows)
        typer.echo(f"Accelerate disk_offload output bitwise equal to resident: {same}")
