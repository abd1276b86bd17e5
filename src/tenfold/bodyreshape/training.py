"""Training the flow generator on paired data, checkpoints with their config, and batched prediction.

Training runs through ``tenfold.core.train.fit`` (Accelerate), so ``accelerate launch`` scales it
to GPUs; the paper's settings (width 64, 256², batch 32, lr 2e-5) are a TrainConfig away.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from tenfold.bodyreshape.flow_generator import FlowGenerator, GeneratorConfig
from tenfold.bodyreshape.losses import ORTH_WEIGHT, reshape_loss
from tenfold.bodyreshape.synthetic import SyntheticSet
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.core.io import check_input_file, jsonable

# variant → (structure priors in the input, structure affinity in the attention)
VARIANTS: dict[str, tuple[bool, bool]] = {"full": (True, True), "no_aff": (True, False), "no_sp": (False, False)}


@dataclass
class TrainConfig:
    """How to train one variant. ``steps`` is approximate: whole epochs of ``len(data) // batch_size`` steps."""

    variant: str = "full"
    width: int = 8
    steps: int = 300
    batch_size: int = 8
    lr: float = 1e-3
    orth_weight: float = ORTH_WEIGHT
    coef: float = 0.2
    seed: int = 0
    checkpoint_dir: str | Path | None = None
    progress: bool = False

    def generator_config(self, input_size: int = 64) -> GeneratorConfig:
        if self.variant not in VARIANTS:
            raise BadConfigError(f"unknown variant {self.variant!r}; use one of: {', '.join(VARIANTS)}")
        structure, affinity = VARIANTS[self.variant]
        return GeneratorConfig(width=self.width, structure_priors=structure, affinity=affinity, coef=self.coef,
                               input_size=input_size)


def as_tensors(data: SyntheticSet, coef: float = 0.2) -> tuple[torch.Tensor, ...]:
    """(images [0,1], skeletons ±1, targets [0,1], normalised flows, pafs), all (N, C, s, s) float32."""
    size = data.images.shape[1]

    def chw(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(array, -1, 1), dtype=np.float32))

    flows = chw(data.flows) / (coef * size)
    return (chw(data.images), torch.from_numpy(data.skeletons), chw(data.targets), flows,
            torch.from_numpy(data.pafs))


def train_generator(data: SyntheticSet, config: TrainConfig | None = None) -> tuple[FlowGenerator, list[float]]:
    """Train a fresh generator of ``config.variant`` on ``data``; returns (model in eval mode, epoch losses)."""
    from tenfold.core.train import FitConfig, fit

    config = config or TrainConfig()
    if len(data) < config.batch_size:
        raise BadInputError(f"{len(data)} training pairs is fewer than one batch of {config.batch_size}")
    torch.manual_seed(config.seed)
    model = FlowGenerator(config.generator_config(input_size=data.images.shape[1]))
    tensors = as_tensors(data, config.coef)
    steps_per_epoch = len(data) // config.batch_size
    epochs = max(1, math.ceil(config.steps / steps_per_epoch))

    def loss_fn(network: torch.nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
        images, skeletons, targets, flows, pafs = batch
        predicted = network(images * 2 - 1, skeletons if model.config.structure_priors else None)
        return reshape_loss(predicted, images, targets, flows, pafs, coef=config.coef,
                            orth_weight=config.orth_weight)

    history = fit(model, tensors, loss_fn, FitConfig(
        epochs=epochs, batch_size=config.batch_size, lr=config.lr, optimizer="adam", seed=config.seed,
        checkpoint_dir=config.checkpoint_dir, progress=config.progress, drop_last=True))
    model.cpu()  # fit may have moved it to an accelerator; inference here runs on the CPU
    recalibrate_batchnorm(model, tensors, batch_size=config.batch_size)
    return model.eval(), list(history.epoch_losses)


@torch.no_grad()
def recalibrate_batchnorm(model: FlowGenerator, tensors: tuple[torch.Tensor, ...], *, batch_size: int = 8,
                          batches: int = 16) -> None:
    """Re-estimate BatchNorm running statistics with the final weights (a cumulative average).

    After a few hundred small-batch steps the momentum-averaged statistics still mix in early
    weights, and eval-mode flows drift far from train-mode ones; recomputing them fixes that.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    images, skeletons = tensors[0], tensors[1]
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    for start in range(0, min(len(images), batches * batch_size), batch_size):
        index = order[start : start + batch_size]
        model(images[index] * 2 - 1, skeletons[index] if model.config.structure_priors else None)
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    model.eval()


@torch.no_grad()
def predict_flows(model: FlowGenerator, images: np.ndarray, skeletons: np.ndarray | None = None,
                  batch_size: int = 32) -> np.ndarray:
    """Pixel flows (N, s, s, 2) for images (N, s, s, 3) in [0, 1] and ±1 skeletons (N, 13, s, s)."""
    model.eval()
    size = images.shape[1]
    out = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(np.moveaxis(images[start : start + batch_size], -1, 1),
                                                      dtype=np.float32))
        skeleton = None
        if model.config.structure_priors:
            if skeletons is None:
                raise BadInputError("this model uses structure priors; pass the skeleton maps")
            skeleton = torch.from_numpy(np.ascontiguousarray(skeletons[start : start + batch_size],
                                                             dtype=np.float32))
        flow = model(batch * 2 - 1, skeleton) * model.config.coef * size
        out.append(flow.permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


CHECKPOINT_FORMAT = "tenfold.bodyreshape/2"
SHIPPED_CHECKPOINT = "flow_generator.safetensors"  # in tenfold/bodyreshape/weights/, beside its recipe
DTYPES = {"float32": torch.float32, "float16": torch.float16}


def save_checkpoint(model: FlowGenerator, path: str | Path, *, extra: dict | None = None,
                    dtype: str = "float32") -> Path:
    """Write the weights as safetensors (no pickle), with the config and ``extra`` as JSON metadata.

    ``dtype="float16"`` stores the convolution kernels (nearly all of the bytes) in half precision, which
    halves the file; biases and BatchNorm statistics stay float32, since running variances of 1e-5 lose
    most of their digits in float16. :func:`load_checkpoint` turns everything back into float32.
    """
    from tenfold.core.io import atomic_save_safetensors

    if dtype not in DTYPES:
        raise BadConfigError(f"checkpoint dtype {dtype!r}; use one of: {', '.join(DTYPES)}")
    tensors = {key: (value.to(DTYPES[dtype]) if value.is_floating_point() and value.dim() > 1 else value)
               for key, value in model.state_dict().items()}
    metadata = {"format": CHECKPOINT_FORMAT, "config": json.dumps(model.config.to_dict()),
                "extra": json.dumps(jsonable(extra or {})), "dtype": dtype}
    path = Path(path)
    atomic_save_safetensors(path, tensors, metadata=metadata)
    return path


def read_checkpoint_metadata(path: str | Path) -> dict:
    """The config, extra (training recipe) and format of a checkpoint, without loading its weights."""
    from safetensors import SafetensorError, safe_open

    path = check_input_file(path, option="--checkpoint", what="checkpoint")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        hint = (" (tenfold reads .safetensors checkpoints written by `tenfold bodyreshape train`; pickled .pt/.pth "
                "files, such as the official FBBR checkpoint, are not read)")
        raise BadInputError(f"checkpoint {path} is not a readable safetensors file ({error}){hint}") from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise BadInputError(f"checkpoint {path} was not written by `tenfold bodyreshape train` "
                            f"(format {metadata.get('format')!r}, expected {CHECKPOINT_FORMAT!r})")
    try:
        config = json.loads(metadata["config"])
        extra = json.loads(metadata.get("extra", "{}"))
    except (KeyError, json.JSONDecodeError) as error:
        raise BadInputError(f"checkpoint {path} has unreadable metadata ({error})") from None
    return {"format": metadata["format"], "config": config, "extra": extra, "dtype": metadata.get("dtype", "float32")}


def load_checkpoint(path: str | Path, *, expect: GeneratorConfig | None = None) -> FlowGenerator:
    """Load a checkpoint written by :func:`save_checkpoint` on the CPU; mismatches name the expected config."""
    from safetensors.torch import load_file

    path = Path(path)
    metadata = read_checkpoint_metadata(path)
    try:
        config = GeneratorConfig(**metadata["config"])
    except TypeError as error:
        raise BadInputError(f"checkpoint {path} has an unreadable config ({error})") from None
    if expect is not None and expect != config:
        raise BadInputError(f"checkpoint {path} holds {asdict(config)}, but {asdict(expect)} was expected")
    state = load_file(str(path), device="cpu")
    try:
        model = FlowGenerator(config)
    except ValueError as error:
        raise BadInputError(f"checkpoint {path} has an impossible config {asdict(config)} ({error})") from None
    own = model.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    mismatched = [key for key, value in state.items() if key in own and own[key].shape != tuple(value.shape)]
    if missing or unexpected or mismatched:
        raise BadInputError(
            f"checkpoint {path} does not fit its config {asdict(config)}: "
            f"{len(missing)} missing, {len(unexpected)} unexpected, {len(mismatched)} mis-shaped tensors "
            f"(e.g. {(missing + unexpected + mismatched)[:2]})"
        )
    model.load_state_dict({key: value.to(own[key].dtype) for key, value in state.items()})
    model.eval()
    return model


def shipped_checkpoint() -> Path:
    """The small flow generator that ships in the package (trained by ``tenfold bodyreshape train``; see
    ``weights/flow_generator.recipe.json`` beside it for the exact command)."""
    from importlib import resources

    path = Path(str(resources.files("tenfold.bodyreshape").joinpath("weights").joinpath(SHIPPED_CHECKPOINT)))
    if not path.is_file():
        raise MissingDataError(f"the shipped checkpoint {path} is missing from this installation; reinstall "
                               "tenfold or pass --checkpoint from `tenfold bodyreshape train`")
    return path
