"""InfMoE-style offloaded MoE inference: experts stream from safetensors files into K preallocated slots.

Pieces: :class:`ExpertStore` (parses each ``layer{l}.safetensors`` header once, then reads an expert with
``os.preadv`` straight into a slot's buffer — one copy, GIL released), :class:`DevicePool` (K slots under a
byte budget, checked on every load), :class:`Link` (optional bytes/s throttle that emulates PCIe on a CPU
box by sleeping the remainder of each copy), and :class:`OffloadEngine`, whose loader thread prefetches the
next expert of the schedule while the current one computes. On CUDA the same loop stages reads in pinned
host buffers and copies on a dedicated stream ordered by per-slot events.
"""

from __future__ import annotations

import math
import os
import queue
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError, TenfoldError
from tenfold.cpm.moe import mix_update, route
from tenfold.cpm.schedule import SCHEDULES, index_order, order_for
from tenfold.cpm.transformer import gated_ffn

WEIGHTS = ("ln", "wi0", "wi1", "wo")
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def resolve_device(device: str | torch.device) -> torch.device:
    """``cpu`` or an available ``cuda[:n]`` device; anything else is a named error before any work starts
    (torch itself answers an unavailable CUDA with a bare AssertionError)."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise BadConfigError(f"device {device!r} is not a device name; use cpu or cuda (cuda:0, cuda:1, ...)") from None
    if resolved.type == "cpu":
        return resolved
    if resolved.type != "cuda":
        raise BadConfigError(f"device {device!r}: the offload engine runs on cpu or cuda only")
    if not torch.cuda.is_available():
        raise BadConfigError(f"device {device!r}: this torch build has no usable CUDA device; use --device cpu")
    index = resolved.index if resolved.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise BadConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return torch.device("cuda", index)


@dataclass(frozen=True)
class TensorEntry:
    dtype: torch.dtype
    shape: tuple[int, ...]
    offset: int  # absolute byte offset in the file
    nbytes: int


def read_safetensors_header(path: Path) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """Parse a safetensors header (8-byte little-endian length + JSON) into absolute offsets; validate bounds."""
    from tenfold.core.io import parse_json

    corrupt = f"{path} is not a valid safetensors expert file"
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                raise BadInputError(f"{path} is truncated (no safetensors header); re-export the experts")
            (length,) = struct.unpack("<Q", raw)
            if length > min(size - 8, 100_000_000):
                raise BadInputError(f"{corrupt} (header length {length}); re-export the experts")
            data = handle.read(length)
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder, not an expert file; re-export the experts") from None
    try:
        header = parse_json(data)
    except BadInputError as error:
        raise BadInputError(f"{corrupt} (header {error}); re-export the experts") from None
    if not isinstance(header, dict):
        raise BadInputError(f"{corrupt} (the header is not a JSON object); re-export the experts")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict):
        raise BadInputError(f"{corrupt} (its metadata is not a JSON object); re-export the experts")
    entries: dict[str, TensorEntry] = {}
    for key, info in header.items():
        if not isinstance(info, dict):
            raise BadInputError(f"{corrupt} (entry {key!r} is not an object); re-export the experts")
        if info.get("dtype") not in _DTYPES:
            raise BadInputError(f"{path}: tensor {key!r} has dtype {info.get('dtype')}; use float32/float16/bfloat16")
        dtype = _DTYPES[info["dtype"]]
        try:
            start, end = (int(v) for v in info["data_offsets"])
            shape = tuple(int(v) for v in info["shape"])
        except (KeyError, TypeError, ValueError):
            raise BadInputError(f"{corrupt} (entry {key!r} lacks a valid shape or data_offsets)") from None
        if any(d < 0 for d in shape) or start < 0:
            raise BadInputError(f"{corrupt} (entry {key!r} has a negative size or offset)")
        expected = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        if end - start != expected or 8 + length + end > size:
            raise BadInputError(f"{path}: tensor {key!r} lies outside the file or has the wrong size (corrupt file)")
        entries[key] = TensorEntry(dtype, shape, 8 + length + start, end - start)
    return entries, metadata


class ExpertStore:
    """Expert weights on disk: ``layer{l}.safetensors`` files with keys ``{e}.ln|wi0|wi1|wo`` and ``centroids``."""

    def __init__(self, directory: str | Path, *, option: str = "") -> None:
        from tenfold.core.io import check_input_dir

        self.directory = check_input_dir(directory, option=option, what="expert folder (from `tenfold cpm infmoe create`"
                                         " or `tenfold cpm grow-moe`)")
        files = sorted(self.directory.glob("layer*.safetensors"), key=lambda p: int(p.stem[5:]) if p.stem[5:].isdigit() else -1)
        if not files:
            raise MissingDataError(f"{self.directory} holds no layer{{l}}.safetensors files")
        numbers = [int(p.stem[5:]) if p.stem[5:].isdigit() else -1 for p in files]
        if numbers != list(range(len(files))):
            raise MissingDataError(f"{self.directory}: expert files must be layer0..layer{len(files) - 1}; found {numbers}")
        self.paths = files
        self.entries: list[dict[str, TensorEntry]] = []
        self.metadata: list[dict[str, str]] = []
        for path in files:
            entries, metadata = read_safetensors_header(path)
            self.entries.append(entries)
            self.metadata.append(metadata)
        first = self.entries[0]
        if "centroids" not in first or len(first["centroids"].shape) != 2 or 0 in first["centroids"].shape:
            raise BadInputError(f"{files[0]} has no 'centroids' [experts, d_model] tensor (the gate); re-export the experts")
        self.num_experts, self.d_model = first["centroids"].shape
        if "0.wi0" not in first or len(first["0.wi0"].shape) != 2:
            raise BadInputError(f"{files[0]} has no expert 0 weights ('0.wi0' [d_ff, d_model])")
        self.d_ff = first["0.wi0"].shape[0]
        self.dtype = first["0.wi0"].dtype
        self.shapes = {
            "ln": (self.d_model,), "wi0": (self.d_ff, self.d_model),
            "wi1": (self.d_ff, self.d_model), "wo": (self.d_model, self.d_ff),
        }
        for path, entries in zip(files, self.entries, strict=True):
            if entries.get("centroids") is None or entries["centroids"].shape != (self.num_experts, self.d_model):
                raise BadInputError(f"{path}: centroids missing or not [{self.num_experts}, {self.d_model}]")
            for e in range(self.num_experts):
                for name, shape in self.shapes.items():
                    entry = entries.get(f"{e}.{name}")
                    if entry is None:
                        raise BadInputError(f"{path}: expert {e} has no {name!r} tensor")
                    if entry.shape != shape or entry.dtype != self.dtype:
                        raise BadInputError(
                            f"{path}: {e}.{name} is {entry.dtype} {list(entry.shape)}, expected {self.dtype} {list(shape)}"
                        )
        self.expert_bytes = sum(first[f"0.{n}"].nbytes for n in WEIGHTS)
        self._centroids: dict[int, torch.Tensor] = {}

    @property
    def num_layers(self) -> int:
        return len(self.paths)

    def centroids(self, layer: int) -> torch.Tensor:
        if layer not in self._centroids:
            entry = self.entries[layer]["centroids"]
            tensor = torch.empty(entry.shape, dtype=entry.dtype)
            with open(self.paths[layer], "rb") as handle:
                _pread_into(handle.fileno(), tensor, entry.offset)
            self._centroids[layer] = tensor.float()
        return self._centroids[layer]

    def read_into(self, layer: int, expert: int, slot: dict[str, torch.Tensor], fd: int | None = None) -> int:
        """Copy one expert's weights from disk into ``slot`` (host tensors) with one read each; returns bytes."""
        own = fd is None
        if own:
            fd = os.open(self.paths[layer], os.O_RDONLY)
        try:
            moved = 0
            for name in WEIGHTS:
                entry = self.entries[layer][f"{expert}.{name}"]
                _pread_into(fd, slot[name], entry.offset)
                moved += entry.nbytes
            return moved
        finally:
            if own:
                os.close(fd)


def _pread_into(fd: int, tensor: torch.Tensor, offset: int) -> None:
    """Fill a contiguous CPU tensor from ``fd`` at ``offset`` (loops over short reads)."""
    view = memoryview(tensor.view(-1).view(torch.uint8).numpy())
    done = 0
    while done < len(view):
        count = os.preadv(fd, [view[done:]], offset + done)
        if count <= 0:
            raise BadInputError(f"expert file ended early at byte {offset + done}; the file is truncated")
        done += count


class Link:
    """Emulates a host->device link of ``bytes_per_s`` by sleeping the remainder of each copy (None: no throttle)."""

    def __init__(self, bytes_per_s: float | None = None) -> None:
        if bytes_per_s is not None and not (math.isfinite(bytes_per_s) and bytes_per_s > 0):
            raise BadConfigError(f"link bandwidth {bytes_per_s} bytes/s must be a finite number > 0")
        self.bytes_per_s = bytes_per_s

    def pace(self, nbytes: int, started: float) -> None:
        if self.bytes_per_s is None:
            return
        remaining = nbytes / self.bytes_per_s - (time.perf_counter() - started)
        if remaining > 0:
            time.sleep(remaining)


class DevicePool:
    """K preallocated expert slots within ``budget_bytes`` (K = budget // expert_bytes, optionally capped)."""

    def __init__(self, store: ExpertStore, budget_bytes: int, *, max_slots: int | None = None,
                 device: str | torch.device = "cpu") -> None:
        if not (math.isfinite(budget_bytes) and budget_bytes >= store.expert_bytes):
            raise BadConfigError(
                f"memory budget {budget_bytes} bytes is smaller than one expert ({store.expert_bytes} bytes); "
                "raise the budget"
            )
        self.budget_bytes = int(budget_bytes)
        self.expert_bytes = store.expert_bytes
        slots = budget_bytes // store.expert_bytes
        if max_slots is not None:
            if max_slots < 1:
                raise BadConfigError(f"max_slots={max_slots}; need at least one slot")
            slots = min(slots, max_slots)
        self.device = resolve_device(device)
        self.slots = [
            {name: torch.empty(shape, dtype=store.dtype, device=self.device) for name, shape in store.shapes.items()}
            for _ in range(slots)
        ]
        self.resident: list[tuple[int, int] | None] = [None] * slots
        self.peak_bytes = 0

    @property
    def num_slots(self) -> int:
        return len(self.slots)

    def mark_loaded(self, slot: int, key: tuple[int, int]) -> None:
        self.resident[slot] = key
        in_use = sum(r is not None for r in self.resident) * self.expert_bytes
        # The byte budget is a hard contract: checked on every load, not only at allocation.
        assert in_use <= self.budget_bytes, f"pool holds {in_use} bytes > budget {self.budget_bytes}"
        self.peak_bytes = max(self.peak_bytes, in_use)


@dataclass
class EngineStats:
    """What one run moved and where its time went."""

    loads: int = 0
    bytes_moved: int = 0
    load_seconds: float = 0.0
    compute_seconds: float = 0.0
    wait_seconds: float = 0.0
    skipped_experts: int = 0
    orders: list[list[int]] = field(default_factory=list)


class OffloadEngine:
    """Runs MoE layers whose experts live on disk, within a byte budget.

    ``prefetch=False`` is the naive baseline (load, then compute, one slot); ``prefetch=True`` streams experts
    through K slots with a loader thread; ``schedule`` is ``"infmoe"`` (the paper's greedy rule), ``"index"``
    or ``"best-of-two"`` (whichever of the rule and largest-first simulates faster; an engine option).
    One engine per thread: a call holds the engine's slots until it returns.
    """

    def __init__(
        self,
        store: ExpertStore,
        budget_bytes: int,
        *,
        prefetch: bool = True,
        schedule: str = "best-of-two",
        link_bytes_per_s: float | None = None,
        max_slots: int | None = None,
        mix: str = "none",
        device: str | torch.device = "cpu",
        timeout_s: float = 120.0,
    ) -> None:
        if schedule not in SCHEDULES:
            raise BadConfigError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
        self.store = store
        self.prefetch = prefetch
        self.schedule = schedule
        self.mix = mix
        mix_update(torch.zeros(1, 1), torch.zeros(1), mix)  # validates the name up front
        self.link = Link(link_bytes_per_s)
        self.device = resolve_device(device)
        self.pool = DevicePool(store, budget_bytes, max_slots=max_slots if prefetch else 1, device=self.device)
        self.timeout_s = timeout_s
        self.stats = EngineStats()
        self._lock = threading.Lock()
        self._cuda = self.device.type == "cuda"
        if self._cuda:  # pinned staging per slot, a copy stream and per-slot events
            self._staging = [
                {n: torch.empty(s, dtype=store.dtype, pin_memory=True) for n, s in store.shapes.items()}
                for _ in range(self.pool.num_slots)
            ]
            self._copy_stream = torch.cuda.Stream(self.device)
            self._loaded = [torch.cuda.Event() for _ in range(self.pool.num_slots)]
            self._free = [torch.cuda.Event() for _ in range(self.pool.num_slots)]
        self._fds = [os.open(p, os.O_RDONLY) for p in store.paths]
        self.beta = self._estimate_beta()
        self.alpha_per_token = self._estimate_alpha()

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def __enter__(self) -> OffloadEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- cost model -----------------------------------------------------------------------------------
    def _estimate_beta(self) -> float:
        if self.link.bytes_per_s is not None:
            return self.store.expert_bytes / self.link.bytes_per_s
        scratch = {n: torch.empty(s, dtype=self.store.dtype) for n, s in self.store.shapes.items()}
        started = time.perf_counter()
        self.store.read_into(0, 0, scratch, self._fds[0])
        return time.perf_counter() - started

    def _estimate_alpha(self, tokens: int = 128, repeats: int = 5) -> float:
        """Seconds of expert compute per token: the median of a few timed calls, since a single timing on a
        busy machine can be off by a factor that would mislead the scheduler's cost model."""
        slot = self.pool.slots[0]
        x = torch.zeros(tokens, self.store.d_model, dtype=self.store.dtype, device=self.device)
        gated_ffn(x, slot["ln"], slot["wi0"], slot["wi1"], slot["wo"])  # warm-up
        timings = []
        for _ in range(repeats):
            if self._cuda:  # earlier kernels must not be timed as part of this call
                torch.cuda.synchronize(self.device)
            started = time.perf_counter()
            gated_ffn(x, slot["ln"], slot["wi0"], slot["wi1"], slot["wo"])
            if self._cuda:
                torch.cuda.synchronize(self.device)
            timings.append(time.perf_counter() - started)
        return sorted(timings)[len(timings) // 2] / tokens

    def plan(self, counts: list[int]) -> list[int]:
        """Order of the experts with tokens for this layer (zero-token experts never appear)."""
        alphas = [c * self.alpha_per_token for c in counts]
        if not self.prefetch:
            return index_order(alphas)
        return order_for(self.schedule, alphas, self.beta, self.pool.num_slots)

    # --- one layer ----------------------------------------------------------------------------------------
    def layer_update(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """The MoE FFN update of layer ``layer`` for tokens x [N, d] (same maths as :class:`MoEFFN`)."""
        if not self._lock.acquire(blocking=False):
            raise BadConfigError("this OffloadEngine is already running in another thread; use one engine per thread")
        try:
            return self._layer_update(layer, x)
        finally:
            self._lock.release()

    def _layer_update(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        if not 0 <= layer < self.store.num_layers:
            raise BadInputError(f"layer {layer} does not exist; the store has {self.store.num_layers} layers")
        if x.ndim != 2 or x.shape[1] != self.store.d_model:
            raise BadInputError(f"tokens must be [N, {self.store.d_model}], got {tuple(x.shape)}")
        x = x.to(self.device, self.store.dtype)
        expert, affinity = route(x.float(), self.store.centroids(layer).to(self.device))
        counts = torch.bincount(expert, minlength=self.store.num_experts).tolist()
        order = self.plan(counts)
        self.stats.orders.append(order)
        self.stats.skipped_experts += sum(c == 0 for c in counts)
        # stable counting sort of token rows by expert
        sorted_rows = torch.argsort(expert, stable=True)
        bounds = [0, *torch.cumsum(torch.tensor(counts), 0).tolist()]
        rows_of = {e: sorted_rows[bounds[e]:bounds[e + 1]] for e in order}
        out = torch.zeros_like(x)

        def compute(e: int, slot: dict[str, torch.Tensor]) -> None:
            started = time.perf_counter()
            rows = rows_of[e]
            update = gated_ffn(x[rows], slot["ln"], slot["wi0"], slot["wi1"], slot["wo"])
            out[rows] = mix_update(update, affinity[rows].to(update.dtype), self.mix)
            self.stats.compute_seconds += time.perf_counter() - started

        if not self.prefetch:
            for e in order:
                self._load(layer, e, 0)
                if self._cuda:
                    torch.cuda.current_stream(self.device).wait_event(self._loaded[0])
                compute(e, self.pool.slots[0])
                if self._cuda:
                    self._free[0].record(torch.cuda.current_stream(self.device))
                self.pool.resident[0] = None
            return out
        self._pipelined(layer, order, compute)
        return out

    def _load(self, layer: int, expert: int, slot: int) -> None:
        started = time.perf_counter()
        if self._cuda:
            self._loaded[slot].synchronize()  # the staging buffer's previous copy has finished
            staging = self._staging[slot]
            moved = self.store.read_into(layer, expert, staging, self._fds[layer])
            with torch.cuda.stream(self._copy_stream):
                self._copy_stream.wait_event(self._free[slot])
                for name, tensor in self.pool.slots[slot].items():
                    tensor.copy_(staging[name], non_blocking=True)
                self._loaded[slot].record(self._copy_stream)
        else:
            moved = self.store.read_into(layer, expert, self.pool.slots[slot], self._fds[layer])
        self.link.pace(moved, started)
        self.pool.mark_loaded(slot, (layer, expert))
        self.stats.loads += 1
        self.stats.bytes_moved += moved
        self.stats.load_seconds += time.perf_counter() - started

    def _pipelined(self, layer: int, order: list[int], compute) -> None:  # noqa: ANN001
        free: queue.Queue[int] = queue.Queue()
        ready: queue.Queue[tuple[int, int] | BaseException] = queue.Queue()
        for s in range(self.pool.num_slots):
            free.put(s)
        stop = threading.Event()

        def producer() -> None:
            try:
                for e in order:
                    while True:
                        if stop.is_set():
                            return
                        try:
                            s = free.get(timeout=0.05)
                            break
                        except queue.Empty:
                            continue
                    self._load(layer, e, s)
                    ready.put((e, s))
            except BaseException as error:  # noqa: BLE001 - handed to the consumer, never swallowed
                ready.put(error)

        loader = threading.Thread(target=producer, name="infmoe-loader", daemon=True)
        loader.start()
        try:
            for _ in order:
                waited = time.perf_counter()
                try:
                    item = ready.get(timeout=self.timeout_s)
                except queue.Empty:
                    raise TenfoldError(f"expert loader produced nothing for {self.timeout_s} s (stalled)") from None
                self.stats.wait_seconds += time.perf_counter() - waited
                if isinstance(item, BaseException):
                    raise item
                e, s = item
                if self._cuda:
                    torch.cuda.current_stream(self.device).wait_event(self._loaded[s])
                compute(e, self.pool.slots[s])
                if self._cuda:
                    self._free[s].record(torch.cuda.current_stream(self.device))
                self.pool.resident[s] = None
                free.put(s)
        finally:
            stop.set()
            loader.join(timeout=self.timeout_s)

    # --- a whole stack --------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A stack of MoE layers with residuals: x <- x + update_l(x) for every layer. x [N, d] -> [N, d]."""
        x = x.to(self.device, self.store.dtype)
        for layer in range(self.store.num_layers):
            x = x + self.layer_update(layer, x)
        if self._cuda:  # once per call (never inside the loop), so wall-clock timings are honest
            torch.cuda.synchronize(self.device)
        return x


class ResidentExperts:
    """Every expert preloaded into slot-style buffers: the in-memory reference the offloaded run must equal bitwise."""

    def __init__(self, store: ExpertStore, *, mix: str = "none", device: str | torch.device = "cpu") -> None:
        self.store = store
        self.mix = mix
        self.device = resolve_device(device)
        self.weights: list[list[dict[str, torch.Tensor]]] = []
        for layer in range(store.num_layers):
            experts = []
            for e in range(store.num_experts):
                host = {n: torch.empty(s, dtype=store.dtype) for n, s in store.shapes.items()}
                store.read_into(layer, e, host)
                experts.append({n: t.to(self.device) for n, t in host.items()})
            self.weights.append(experts)

    @property
    def nbytes(self) -> int:
        return self.store.expert_bytes * self.store.num_experts * self.store.num_layers

    def layer_update(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, self.store.dtype)
        expert, affinity = route(x.float(), self.store.centroids(layer).to(self.device))
        out = torch.zeros_like(x)
        for e in torch.unique(expert).tolist():
            rows = torch.nonzero(expert == e)[:, 0]
            w = self.weights[layer][e]
            update = gated_ffn(x[rows], w["ln"], w["wi0"], w["wi1"], w["wo"])
            out[rows] = mix_update(update, affinity[rows].to(update.dtype), self.mix)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, self.store.dtype)
        for layer in range(self.store.num_layers):
            x = x + self.layer_update(layer, x)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return x


class ExpertRunnerFFN(torch.nn.Module):
    """Puts an :class:`OffloadEngine` or :class:`ResidentExperts` layer where an LM block's FFN was."""

    def __init__(self, runner: OffloadEngine | ResidentExperts, layer: int) -> None:
        super().__init__()
        self.runner = runner
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, d] -> [B, T, d]
        return self.runner.layer_update(self.layer, x.reshape(-1, x.shape[-1])).reshape(x.shape).to(x.dtype)


def with_expert_runner(model: torch.nn.Module, runner: OffloadEngine | ResidentExperts) -> torch.nn.Module:
    """A copy of an LM whose FFNs are served by ``runner`` (one store layer per block)."""
    import copy

    if len(model.blocks) != runner.store.num_layers:
        raise BadInputError(f"model has {len(model.blocks)} blocks but the store has {runner.store.num_layers} layers")
    clone = copy.deepcopy(model)
    for index, block in enumerate(clone.blocks):
        block.ffn = ExpertRunnerFFN(runner, index)
    return clone
