"""Estimator (train on state sequences) and learned model (sample long synthetic trajectories).

Training budget = Adam steps on random windows of ``window + 1`` tokens, so budgets compare across
strides and partitions (spec 5.2). Follows deeptime's split: ``StateLanguageModel(...).fit(dtrajs)``
returns a :class:`KineticLanguageModel` that generates and saves.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.mdlm.trajectories import as_dtrajs

ARCHITECTURES = ("lstm", "transformer")


@dataclass
class LanguageModelConfig:
    """Architecture and training settings (defaults: the spec's E2 LSTM, E=16, H=64)."""

    architecture: str = "lstm"
    embedding_dim: int = 16
    hidden_dim: int = 64
    n_layers: int = 1
    n_heads: int = 4
    window: int = 100
    batch_size: int = 64
    steps: int = 1000
    lr: float = 1e-3
    seed: int = 0

    def validate(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise BadConfigError(f"model must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}")
        for name in ("embedding_dim", "hidden_dim", "n_layers", "n_heads", "window", "batch_size", "steps"):
            if int(getattr(self, name)) < 1:
                raise BadConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise BadConfigError(f"lr must be > 0, got {self.lr}")
        if self.architecture == "transformer" and self.hidden_dim % self.n_heads:
            raise BadConfigError(f"transformer width {self.hidden_dim} must be divisible by n_heads={self.n_heads}")


def build_network(config: LanguageModelConfig, vocab_size: int):
    """The torch module for ``config`` (the Transformer's width is ``hidden_dim``, its context ``window``)."""
    from tenfold.mdlm.lstm import StateLSTM
    from tenfold.mdlm.transformer import StateTransformer

    if config.architecture == "lstm":
        return StateLSTM(vocab_size, config.embedding_dim, config.hidden_dim, config.n_layers)
    return StateTransformer(vocab_size, config.hidden_dim, config.n_layers, config.n_heads, config.window)


@dataclass
class Vocabulary:
    """Map between the user's state ids and contiguous token ids (keeps gaps from wasting logits)."""

    states: np.ndarray  # token id -> state id

    @classmethod
    def from_dtrajs(cls, dtrajs: list[np.ndarray], n_states: int | None = None) -> Vocabulary:
        if n_states is not None:
            top = max(int(d.max()) for d in dtrajs)
            if top >= n_states:
                raise BadInputError(f"state {top} is outside the declared {n_states} states")
            return cls(np.arange(n_states, dtype=np.int64))
        return cls(np.unique(np.concatenate(dtrajs)).astype(np.int64))

    @property
    def size(self) -> int:
        return int(self.states.size)

    def encode(self, states: np.ndarray) -> np.ndarray:
        states = np.asarray(states, dtype=np.int64)
        index = np.searchsorted(self.states, states)
        index = np.clip(index, 0, self.size - 1)
        if np.any(self.states[index] != states):
            unknown = np.setdiff1d(np.unique(states), self.states)
            raise BadInputError(f"states {unknown.tolist()[:10]} are not in the model's vocabulary "
                                f"({self.size} states seen in training); use a model trained on this partition")
        return index

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        return self.states[np.asarray(tokens)]


@dataclass
class TrainingHistory:
    """Mean training loss every ``log_every`` steps."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)


class KineticLanguageModel:
    """A trained state language model: generate synthetic trajectories, save and load."""

    def __init__(self, network, config: LanguageModelConfig, vocabulary: Vocabulary,
                 history: TrainingHistory | None = None, steps_done: int = 0, metadata: dict | None = None) -> None:
        self.network = network
        self.metadata = dict(metadata or {})  # provenance, e.g. which walkers were trained on
        self.config = config
        self.vocabulary = vocabulary
        self.history = history or TrainingHistory()
        self.steps_done = steps_done

    def generate(self, seeds: np.ndarray, n_tokens: int, *, temperature: float = 1.0, seed: int = 0,
                 progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Sample ``n_tokens`` states after each seed row; ``seeds`` (chains, L) of held-out MD states.

        The LSTM carries its hidden state; the Transformer keeps a key/value cache over a sliding window.
        Returns (chains, n_tokens) state ids.
        """
        import torch

        if not temperature > 0:
            raise BadConfigError(f"temperature must be > 0, got {temperature}")
        if n_tokens < 1:
            raise BadConfigError(f"n_tokens must be >= 1, got {n_tokens}")
        seeds = np.asarray(seeds)
        if seeds.ndim == 1:
            seeds = seeds[None, :]
        if seeds.ndim != 2 or seeds.shape[1] < 1:
            raise BadInputError(f"seeds must be (chains, length >= 1), got shape {seeds.shape}")
        tokens = torch.as_tensor(self.vocabulary.encode(seeds))
        generator = torch.Generator().manual_seed(int(seed))
        net = self.network.eval()
        out = torch.empty((tokens.shape[0], n_tokens), dtype=torch.long)
        context = self.config.window
        with torch.inference_mode():
            if self.config.architecture == "lstm":
                logits, state = net(tokens)
                last = logits[:, -1]
                for t in range(n_tokens):
                    probs = torch.softmax(last / temperature, dim=-1)
                    nxt = torch.multinomial(probs, 1, generator=generator)  # (chains, 1)
                    out[:, t] = nxt[:, 0]
                    logits, state = net(nxt, state)
                    last = logits[:, -1]
                    if progress is not None and t % 1000 == 0:
                        progress(t)
            else:
                keep = max(1, context // 2)
                window = tokens[:, -context:]
                logits, cache = net(window)
                last = logits[:, -1]
                for t in range(n_tokens):
                    probs = torch.softmax(last / temperature, dim=-1)
                    nxt = torch.multinomial(probs, 1, generator=generator)
                    out[:, t] = nxt[:, 0]
                    window = torch.cat([window, nxt], dim=1)
                    if window.shape[1] > context:  # slide: re-encode the last half from position 0
                        window = window[:, -keep:]
                        logits, cache = net(window)
                    else:
                        logits, cache = net(nxt, cache)
                    last = logits[:, -1]
                    if progress is not None and t % 1000 == 0:
                        progress(t)
        return self.vocabulary.decode(out.numpy())

    def n_parameters(self) -> int:
        return int(sum(p.numel() for p in self.network.parameters()))

    def save(self, path: Path) -> None:
        """Write weights, config and vocabulary to one file (atomically)."""
        import torch

        from tenfold.core.io import atomic_write_bytes

        buffer = io.BytesIO()
        torch.save({"state_dict": self.network.state_dict(), "config": json.dumps(asdict(self.config)),
                    "vocabulary": torch.as_tensor(self.vocabulary.states), "steps_done": self.steps_done,
                    "metadata": json.dumps(self.metadata),
                    "format": "tenfold.mdlm/1"}, buffer)
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path, *, option: str = "") -> KineticLanguageModel:
        """Read a file written by :meth:`save` (weights only; no pickled code is executed)."""
        import torch

        from tenfold.core.io import check_input_file

        path = check_input_file(path, option=option, what="model file written by `tenfold mdlm train`")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            config = LanguageModelConfig(**json.loads(blob["config"]))
            vocabulary = Vocabulary(blob["vocabulary"].numpy().astype(np.int64))
            metadata = json.loads(blob.get("metadata", "{}"))
            network = build_network(config, vocabulary.size)
            network.load_state_dict(blob["state_dict"])
        except Exception as error:
            raise BadInputError(f"{path} is not a tenfold mdlm model file ({type(error).__name__}: {error})") from None
        return cls(network, config, vocabulary, steps_done=int(blob.get("steps_done", 0)), metadata=metadata)


class StateLanguageModel:
    """Estimator: next-state cross-entropy on random windows; ``fit(dtrajs)`` -> KineticLanguageModel.

    ``snapshots`` lists step counts at which ``on_snapshot(step, model)`` is called (budget curves
    from one run: the model at step 1000 of a 3000-step run equals a 1000-step run).
    """

    def __init__(self, architecture: str = "lstm", *, embedding_dim: int = 16, hidden_dim: int = 64,
                 n_layers: int = 1, n_heads: int = 4, window: int = 100, batch_size: int = 64,
                 steps: int = 1000, lr: float = 1e-3, seed: int = 0, n_states: int | None = None) -> None:
        self.config = LanguageModelConfig(architecture, embedding_dim, hidden_dim, n_layers, n_heads, window,
                                          batch_size, steps, lr, seed)
        self.config.validate()
        self.n_states = n_states

    def fit(self, dtrajs: list[np.ndarray], *, snapshots: tuple[int, ...] = (),
            on_snapshot: Callable[[int, KineticLanguageModel], None] | None = None,
            progress: Callable[[int], None] | None = None, log_every: int = 50) -> KineticLanguageModel:
        """Train for ``steps`` Adam steps on windows drawn uniformly from all trajectories."""
        import torch
        import torch.nn.functional as F

        config = self.config
        dtrajs = [d for d in as_dtrajs(dtrajs)]
        need = config.window + 1
        usable = [d for d in dtrajs if len(d) >= need]
        if not usable:
            raise BadInputError(f"every state sequence is shorter than window+1 = {need} tokens; "
                                "use longer trajectories, a smaller stride or a smaller --window")
        vocabulary = Vocabulary.from_dtrajs(dtrajs, self.n_states)
        if vocabulary.size < 2:
            raise BadInputError("the state sequences visit a single state; nothing to learn")
        encoded = [torch.as_tensor(vocabulary.encode(d)) for d in usable]
        starts_per = np.array([len(d) - need + 1 for d in usable])
        offsets = np.concatenate([[0], np.cumsum(starts_per)])
        torch.manual_seed(config.seed)
        network = build_network(config, vocabulary.size)
        optimiser = torch.optim.Adam(network.parameters(), lr=config.lr)
        rng = np.random.default_rng(config.seed)
        model = KineticLanguageModel(network, config, vocabulary)
        window_index = torch.arange(need)
        running = 0.0
        for step in range(1, config.steps + 1):
            flat = rng.integers(0, offsets[-1], config.batch_size)
            which = np.searchsorted(offsets, flat, side="right") - 1
            start = flat - offsets[which]
            batch = torch.stack([encoded[w][s + window_index] for w, s in zip(which, start, strict=True)])
            network.train()
            logits, _ = network(batch[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, vocabulary.size), batch[:, 1:].reshape(-1))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            running += loss.item()
            if step % log_every == 0 or step == config.steps:
                span = log_every if step % log_every == 0 else step % log_every
                model.history.steps.append(step)
                model.history.losses.append(running / span)
                running = 0.0
            model.steps_done = step
            if progress is not None:
                progress(step)
            if on_snapshot is not None and step in snapshots:
                on_snapshot(step, model)
        return model
