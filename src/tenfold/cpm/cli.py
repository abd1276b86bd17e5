"""`tenfold cpm ...`: knowledge-inheritance pre-training, MoE growth, prompt tuning and offloaded MoE inference.

Every command checks its numbers, its output path and its input files before any work starts, so a bad
invocation ends in one ``error:`` line and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.io import check_input_file, check_output_path
from tenfold.core.validation import check_number

app = typer.Typer(help="CPM-2 toolkit: knowledge inheritance, prompt tuning, InfMoE offloaded MoE inference.",
                  no_args_is_help=True)
infmoe_app = typer.Typer(help="Offloaded MoE inference (InfMoE): create, run and benchmark expert stores.",
                         no_args_is_help=True)
app.add_typer(infmoe_app, name="infmoe")

# Sizes beyond these are typing mistakes on a CPU toolkit (they would only fail later, out of memory).
MAX_WIDTH = 16384
MAX_LAYERS = 256
MAX_STEPS = 10_000_000
# Schedules of the offload engine (tenfold.cpm.schedule.SCHEDULES; repeated here so the CLI imports no torch).
SCHEDULES = ("infmoe", "index", "best-of-two")


def _progress(total: int, label: str):  # noqa: ANN202 - a rich Progress context
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeRemainingColumn(), transient=True)
    return progress, progress.add_task(label, total=total)


def _count(option: str, value: int, low: int = 1, high: int = MAX_WIDTH) -> int:
    return check_number(option, value, low=low, high=high, integer=True)


def _positive(option: str, value: float) -> float:
    return check_number(option, value, low=0, low_open=True)


def _new_folder(path: Path) -> Path:
    """An output folder that does not exist yet (or is empty): never overwrite someone's files."""
    path = check_output_path(path, option="--output", kind="directory")
    if path.is_dir() and any(path.iterdir()):
        raise BadConfigError(f"--output {path} already exists and is not empty; choose a new folder")
    return path


def _expert_bytes(d_model: int, d_ff: int) -> int:
    return 4 * (d_model + 3 * d_model * d_ff)  # float32 ln, wi0, wi1, wo


def _check_disk(path: Path, nbytes: int) -> None:
    import shutil

    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    free = shutil.disk_usage(ancestor).free
    if nbytes > free:
        raise BadConfigError(f"the expert stack needs {nbytes / 1e9:.2f} GB but {ancestor} has {free / 1e9:.2f} GB free; "
                             "use fewer or smaller experts")


@app.command("corpus")
def corpus_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="jsonl to write: one {name, module, split, text} "
                                         "per docstring.")],
) -> None:
    """Extract the stdlib-docstring corpus (the miniature's real text) with its sha256 manifest."""
    import json

    from tenfold.core.io import atomic_write_text
    from tenfold.cpm.corpus import load_corpus

    output = check_output_path(output, option="--output", suffixes=(".jsonl",))
    corpus = load_corpus()
    lines = [json.dumps({"name": i.name, "module": i.module, "split": split, "text": i.text})
             for split, items in (("train", corpus.train), ("heldout", corpus.heldout)) for i in items]
    atomic_write_text(output, "\n".join(lines) + "\n")
    typer.echo(f"{len(lines)} docstrings ({corpus.num_bytes} bytes), sha256 {corpus.sha256} -> {output}")


@app.command("pretrain")
def pretrain_command(
    text: Annotated[Path, typer.Option(help="Training text: .jsonl with a 'text' field, or plain UTF-8 text.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write (.safetensors).")],
    layers: int = 2, d_model: int = 64, heads: int = 4, d_ff: int = 192, max_len: int = 128,
    steps: int = 300, seq_len: int = 64, batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
    teacher: Annotated[Path | None, typer.Option(help="A smaller trained model to inherit from (KI).")] = None,
    t_ki: Annotated[int | None, typer.Option(help="Step at which inheritance ends (default: steps // 2).")] = None,
    tau: Annotated[float, typer.Option(help="KI temperature.")] = 1.0,
    schedule: Annotated[str, typer.Option(help="linear (a_t 1 -> 0) or distil_then_mlm (hard switch).")] = "linear",
) -> None:
    """Pre-train a byte-level LM on your text, optionally with knowledge inheritance from a teacher."""
    _count("--layers", layers, high=MAX_LAYERS)
    _count("--d-model", d_model)
    _count("--heads", heads, high=d_model)
    _count("--d-ff", d_ff, high=4 * MAX_WIDTH)
    _count("--max-len", max_len, low=2, high=MAX_WIDTH)
    _count("--steps", steps, high=MAX_STEPS)
    _count("--seq-len", seq_len, high=max_len)
    _count("--batch-size", batch_size, high=MAX_WIDTH)
    _positive("--lr", lr)
    _count("--seed", seed, low=0, high=2**63 - 1)
    _positive("--tau", tau)
    if t_ki is not None:
        _count("--t-ki", t_ki, high=steps)
    if d_model % heads:
        raise BadConfigError(f"--d-model {d_model} is not divisible by --heads {heads}")
    if schedule not in ("linear", "distil_then_mlm"):
        raise BadConfigError(f"--schedule {schedule!r}: use linear or distil_then_mlm")
    output = check_output_path(output, option="--output", suffixes=(".safetensors",))
    check_input_file(text, option="--text", what="text file")
    if teacher is not None:
        check_input_file(teacher, option="--teacher", what="teacher model (.safetensors)")

    import torch

    from tenfold.cpm.corpus import token_stream
    from tenfold.cpm.ki import KnowledgeInheritance
    from tenfold.cpm.pretrain import pretrain
    from tenfold.cpm.readers import read_texts
    from tenfold.cpm.transformer import ByteLM, LMConfig, load_lm, save_lm

    stream = token_stream(read_texts(text, option="--text"))
    if len(stream) < seq_len + 2:
        raise BadInputError(f"--text {text} holds {len(stream)} tokens, fewer than one window of --seq-len {seq_len} "
                            "+ 2; give more text or a smaller --seq-len")
    config = LMConfig(d_model=d_model, n_layers=layers, n_heads=heads, d_ff=d_ff, max_len=max_len)
    inheritance = None
    if teacher is not None:
        teacher_model = load_lm(teacher, option="--teacher")
        if teacher_model.config.vocab_size != config.vocab_size:
            raise BadConfigError(
                f"teacher vocabulary {teacher_model.config.vocab_size} != student {config.vocab_size}; KI needs a shared one"
            )
        if teacher_model.config.max_len < seq_len:
            raise BadConfigError(f"--teacher reads at most {teacher_model.config.max_len} tokens; use --seq-len <= that")
        inheritance = KnowledgeInheritance(teacher_model, t_ki if t_ki is not None else max(1, steps // 2),
                                           total_steps=steps, tau=tau, schedule=schedule)
    torch.manual_seed(seed)
    model = ByteLM(config)
    progress, task = _progress(steps, "pre-training")
    with progress:
        history = pretrain(model, stream, steps=steps, seq_len=seq_len, batch_size=batch_size, lr=lr, seed=seed,
                           inheritance=inheritance, on_step=lambda s: progress.update(task, completed=s + 1))
    save_lm(model, output)
    typer.echo(f"final train loss {history.train_losses[-1]:.4f} after {steps} steps ({history.seconds:.1f} s) -> {output}")


@app.command("grow-moe")
def grow_moe_command(
    model: Annotated[Path, typer.Option(help="Dense model file from `tenfold cpm pretrain`.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="New folder for layer{l}.safetensors expert files.")],
    experts: Annotated[int, typer.Option(help="Experts per FFN (each starts as a copy of the dense FFN).")] = 8,
    mix: Annotated[str, typer.Option(help="none (function-preserving) or base (x + sigmoid(a) FFN_e(x)).")] = "none",
    seed: int = 0,
) -> None:
    """Turn a dense model's FFNs into experts behind a fixed random gate (CPM-2's MoE stage) and export them."""
    _count("--experts", experts, high=4096)
    _count("--seed", seed, low=0, high=2**31 - 1)
    if mix not in ("none", "base"):
        raise BadConfigError(f"--mix {mix!r}: use none or base")
    output = _new_folder(output)
    check_input_file(model, option="--model", what="model file (.safetensors)")

    from tenfold.core.io import atomic_directory
    from tenfold.cpm.growth import dense_to_moe, export_experts
    from tenfold.cpm.transformer import load_lm

    dense = load_lm(model, option="--model")
    config = dense.config
    _check_disk(output, config.n_layers * experts * _expert_bytes(config.d_model, config.d_ff))
    moe = dense_to_moe(dense, experts, mix=mix, seed=seed)
    with atomic_directory(output) as staging:
        files = export_experts(moe, staging)
    typer.echo(f"{len(files)} MoE layers x {experts} experts -> {output}")


def _parse_positions(positions: str) -> str | list[float]:
    import math

    if "," not in positions:
        return positions
    try:
        ratios = [float(v) for v in positions.split(",")]
    except ValueError:
        raise BadConfigError(f"--positions {positions!r}: give a name or three numbers like 0.5,0.5,0") from None
    if not all(math.isfinite(r) for r in ratios):
        raise BadConfigError(f"--positions {positions!r}: the shares must be finite numbers")
    return ratios


@app.command("prompt-tune")
def prompt_tune_command(
    backbone: Annotated[Path, typer.Option(help="Frozen model file from `tenfold cpm pretrain`.")],
    train: Annotated[Path, typer.Option(help="jsonl with sentence1, sentence2, label (0/1).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Prompt checkpoint to write (.safetensors, prompt "
                                         "only + backbone hash).")],
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
    _count("--num-prompts", num_prompts, high=MAX_WIDTH)
    _count("--steps", steps, high=MAX_STEPS)
    _count("--batch-size", batch_size, high=MAX_WIDTH)
    _positive("--lr", lr)
    _count("--seed", seed, low=0, high=2**63 - 1)
    _count("--width", width, high=MAX_WIDTH)
    place = _parse_positions(positions)
    words = tuple(verbalizer.split(","))
    output = check_output_path(output, option="--output", suffixes=(".safetensors",))
    check_input_file(backbone, option="--backbone", what="model file (.safetensors)")
    check_input_file(train, option="--train", what="pair file (.jsonl)")

    from tenfold.cpm.prompt import PromptTuner
    from tenfold.cpm.readers import read_pairs
    from tenfold.cpm.transformer import load_lm

    tuner = PromptTuner(load_lm(backbone, option="--backbone"), num_prompts=num_prompts, positions=place, init=init,
                        init_text=init_text, steps=steps, batch_size=batch_size, lr=lr, seed=seed, scoring=scoring,
                        verbalizer=words, mask_prompt2token=mask_prompt2token,  # type: ignore[arg-type]
                        mask_token2prompt=mask_token2prompt)
    data, _ = read_pairs(train, width=width, option="--train")
    if len(set(data.labels.tolist())) < 2:
        raise BadInputError(f"--train {train}: every pair has the same label; prompt tuning needs both 0 and 1")
    tuner.fit(data)
    tuner.save(output)
    typer.echo(f"train accuracy {tuner.score(data):.3f}; {tuner.cost_.trainable_params} trainable parameters "
               f"({100 * tuner.cost_.trainable_fraction:.3f}%) -> {output}")


@app.command("prompt-predict")
def prompt_predict_command(
    backbone: Annotated[Path, typer.Option(help="The model the prompt was tuned on.")],
    prompt: Annotated[Path, typer.Option(help="Prompt checkpoint from `tenfold cpm prompt-tune`.")],
    input: Annotated[Path, typer.Option(help="jsonl with sentence1, sentence2 (label optional).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="jsonl to write: the input records with a "
                                         "'prediction' field.")],
    width: int = 25,
) -> None:
    """Label pairs with a tuned prompt; refuses a prompt trained on a different backbone."""
    _count("--width", width, high=MAX_WIDTH)
    output = check_output_path(output, option="--output", suffixes=(".jsonl",))
    for option, path, what in (("--backbone", backbone, "model file (.safetensors)"),
                               ("--prompt", prompt, "prompt checkpoint (.safetensors)"),
                               ("--input", input, "pair file (.jsonl)")):
        check_input_file(path, option=option, what=what)

    import json

    from tenfold.core.io import atomic_write_text
    from tenfold.cpm.prompt import PromptTuner
    from tenfold.cpm.readers import read_pairs
    from tenfold.cpm.transformer import load_lm

    tuner = PromptTuner.load(prompt, load_lm(backbone, option="--backbone"), option="--prompt")
    data, records = read_pairs(input, width=width, require_labels=False, option="--input")
    predictions = tuner.predict(data)
    atomic_write_text(output, "".join(json.dumps({**r, "prediction": int(p)}) + "\n"
                                      for r, p in zip(records, predictions, strict=True)))
    known = data.labels >= 0
    accuracy = f"; accuracy {float((predictions[known] == data.labels[known]).mean()):.3f}" if known.any() else ""
    typer.echo(f"{len(records)} predictions -> {output}{accuracy}")


@infmoe_app.command("create")
def infmoe_create_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="New folder for layer{l}.safetensors files.")],
    layers: int = 4, experts: int = 16, d_model: int = 512, d_ff: int = 2048, seed: int = 0,
) -> None:
    """Write a seeded synthetic MoE expert stack (the offload engine's test bed)."""
    _count("--layers", layers, high=MAX_LAYERS)
    _count("--experts", experts, high=4096)
    _count("--d-model", d_model)
    _count("--d-ff", d_ff, high=4 * MAX_WIDTH)
    _count("--seed", seed, low=0, high=2**63 - 1)
    output = _new_folder(output)
    _check_disk(output, layers * experts * _expert_bytes(d_model, d_ff))

    from tenfold.core.io import atomic_directory
    from tenfold.cpm.synthetic import create_expert_stack

    with atomic_directory(output) as staging:
        create_expert_stack(staging, num_layers=layers, num_experts=experts, d_model=d_model, d_ff=d_ff, seed=seed)
    typer.echo(f"{layers} layers x {experts} experts ({d_model}x{d_ff}) -> {output}")


@infmoe_app.command("run")
def infmoe_run_command(
    experts: Annotated[Path, typer.Option(help="Folder of layer{l}.safetensors expert files.")],
    input: Annotated[Path, typer.Option(help=".npy float array [N, d_model] of token features.")],
    output: Annotated[Path, typer.Option("-o", "--output", help=".npy to write: the tokens after every MoE layer.")],
    budget_mb: Annotated[float, typer.Option(help="Device memory for expert slots, MB.")] = 64.0,
    schedule: Annotated[str, typer.Option(help="infmoe (the paper's greedy rule), index, or best-of-two (the "
                                          "better of the rule and largest-first by simulation).")] = "best-of-two",
    link_gbps: Annotated[float | None, typer.Option(help="Emulate a host->device link of this many GB/s.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (cuda:N).")] = "cpu",
    check: Annotated[bool, typer.Option(help="Also run fully resident and require bitwise-equal output.")] = False,
) -> None:
    """Run an MoE stack with experts streamed from disk under a memory budget."""
    _positive("--budget-mb", budget_mb)
    if link_gbps is not None:
        _positive("--link-gbps", link_gbps)
    if schedule not in SCHEDULES:
        raise BadConfigError(f"--schedule {schedule!r}: use one of {', '.join(SCHEDULES)}")
    output = check_output_path(output, option="--output", suffixes=(".npy",))
    check_input_file(input, option="--input", what="token array (.npy)")

    import torch

    from tenfold.core.errors import TenfoldError
    from tenfold.core.io import atomic_save_npy
    from tenfold.cpm.offload import ExpertStore, OffloadEngine, ResidentExperts, resolve_device
    from tenfold.cpm.readers import read_tokens

    target = resolve_device(device)
    store = ExpertStore(experts, option="--experts")
    x = torch.from_numpy(read_tokens(input, store.d_model, option="--input"))
    if budget_mb * 1e6 < store.expert_bytes:
        raise BadConfigError(f"--budget-mb {budget_mb:g} is smaller than one expert ({store.expert_bytes / 1e6:.3f} MB); "
                             "raise the budget")
    link = None if link_gbps is None else link_gbps * 1e9
    with OffloadEngine(store, int(budget_mb * 1e6), schedule=schedule, link_bytes_per_s=link, device=target) as engine:
        with torch.no_grad():
            y = engine.forward(x).cpu()
        stats = engine.stats
        slots = engine.pool.num_slots
    if check:
        with torch.no_grad():
            reference = ResidentExperts(store, device=target).forward(x).cpu()
        if not torch.equal(reference, y):
            raise TenfoldError("offloaded output differs from the resident model's (please report this)")
    atomic_save_npy(output, y.numpy())
    typer.echo(f"{stats.loads} expert loads ({stats.bytes_moved / 1e6:.1f} MB, {slots} slots), "
               f"{stats.skipped_experts} empty experts skipped{'; equal to resident' if check else ''} -> {output}")


@infmoe_app.command("bench")
def infmoe_bench_command(
    experts: Annotated[Path | None, typer.Option(help="Expert folder (default: a temporary synthetic stack).")] = None,
    tokens: Annotated[str, typer.Option(help="Tokens per layer, comma separated.")] = "1,16,256",
    slots: int = 2,
    link_gbps: Annotated[float | None, typer.Option(help="Emulated link GB/s (default: unthrottled page cache).")] = None,
    zipf: Annotated[float, typer.Option(help="Routing skew (Zipf s); 0 = uniform.")] = 1.2,
    repeats: int = 5,
    accelerate: Annotated[bool, typer.Option(help="Include Accelerate disk_offload as the peer.")] = True,
    threads: Annotated[int, typer.Option(help="torch compute threads (1: the spec's protocol on 2 cores).")] = 1,
    layers: int = 4, num_experts: int = 16, d_model: int = 512, d_ff: int = 2048,
) -> None:
    """Print resident / naive / overlap (index, InfMoE rule, best-of-two) / Accelerate times, bytes moved,
    hidden-transfer share."""
    try:
        counts = [int(t) for t in tokens.split(",")]
    except ValueError:
        raise BadConfigError(f"--tokens {tokens!r}: give integers like 1,16,256") from None
    for count in counts:
        _count("--tokens", count, high=2**24)
    _count("--slots", slots, high=4096)
    _count("--repeats", repeats, high=10_000)
    _count("--threads", threads, high=1024)
    check_number("--zipf", zipf, low=0)
    if link_gbps is not None:
        _positive("--link-gbps", link_gbps)
    if experts is None:
        _count("--layers", layers, high=MAX_LAYERS)
        _count("--num-experts", num_experts, high=4096)
        _count("--d-model", d_model)
        _count("--d-ff", d_ff, high=4 * MAX_WIDTH)

    import tempfile

    import torch
    from rich.console import Console
    from rich.table import Table

    from tenfold.cpm.bench import benchmark_rows
    from tenfold.cpm.offload import ExpertStore
    from tenfold.cpm.synthetic import create_expert_stack

    torch.set_num_threads(threads)
    temporary = None
    try:
        if experts is None:
            temporary = tempfile.TemporaryDirectory(prefix="cpm_bench_")
            _check_disk(Path(temporary.name), layers * num_experts * _expert_bytes(d_model, d_ff))
            create_expert_stack(temporary.name, num_layers=layers, num_experts=num_experts, d_model=d_model, d_ff=d_ff)
            store = ExpertStore(temporary.name)
        else:
            store = ExpertStore(experts, option="--experts")
        rows = benchmark_rows(store, counts, slots=slots, link_bytes_per_s=None if link_gbps is None else link_gbps * 1e9,
                              zipf_s=zipf or None, repeats=repeats, with_accelerate=accelerate)
    finally:
        if temporary is not None:
            temporary.cleanup()
    table = Table(title=f"offloaded MoE, {store.num_layers}x{store.num_experts} experts of "
                        f"{store.expert_bytes / 1e6:.1f} MB, {slots} slots (seconds, median of {repeats})")
    columns = ["tokens", "resident_s", "naive_s", "overlap_index_s", "overlap_infmoe_s", "overlap_best_of_two_s"] + \
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
