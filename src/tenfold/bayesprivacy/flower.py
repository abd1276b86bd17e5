"""Flower (``flwr``) adapter: the same client as the in-process loop, as a ``NumPyClient``/``ClientApp``
for real deployments (``flwr run``) or Flower's simulation engine. Passports stay in the client: the
parameters it sends are the shared state only (checked on every send).

``flwr`` is imported lazily, so the rest of the method works without it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from tenfold.bayesprivacy.fedavg import FedClient
from tenfold.bayesprivacy.keystore import shared_state
from tenfold.core.errors import BadConfigError, BadInputError


def _require_flwr():
    try:
        import flwr
    except ImportError:  # pragma: no cover - flwr ships with the [fl] extra
        raise BadConfigError("Flower is not installed; install tenfold[fl] (pip install flwr)") from None
    return flwr


def state_to_arrays(state: dict[str, torch.Tensor]) -> list[np.ndarray]:
    return [value.detach().cpu().numpy() for value in state.values()]


def arrays_to_state(keys: list[str], arrays: list[np.ndarray]) -> dict[str, torch.Tensor]:
    if len(keys) != len(arrays):
        raise BadInputError(f"the server sent {len(arrays)} arrays but the model has {len(keys)} shared tensors")
    return {key: torch.from_numpy(np.asarray(array).copy()) for key, array in zip(keys, arrays, strict=True)}


def make_numpy_client(client: FedClient, x_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None):
    """Wrap a :class:`FedClient` as a Flower ``NumPyClient``."""
    flwr = _require_flwr()
    keys = list(shared_state(client.model))

    class PassportNumPyClient(flwr.client.NumPyClient):
        def get_parameters(self, config):  # noqa: ANN001, ANN202 - Flower's signature
            return state_to_arrays(shared_state(client.model))

        def fit(self, parameters, config):  # noqa: ANN001, ANN202
            state, count = client.fit(arrays_to_state(keys, parameters))
            assert not any("passport" in key for key in state), "passports must never leave the client"
            return state_to_arrays(state), count, {}

        def evaluate(self, parameters, config):  # noqa: ANN001, ANN202
            if x_test is None or y_test is None:
                return 0.0, 0, {}
            accuracy = client.evaluate(arrays_to_state(keys, parameters), x_test, y_test)
            return 1.0 - accuracy, len(y_test), {"accuracy": accuracy}

    return PassportNumPyClient()


def client_app(make_client: Callable[[int], FedClient]):
    """A Flower ``ClientApp`` whose node builds its client (data shard + keystore) from ``partition-id``."""
    flwr = _require_flwr()

    def client_fn(context):  # noqa: ANN001, ANN202
        partition = int(context.node_config.get("partition-id", 0))
        return make_numpy_client(make_client(partition)).to_client()

    return flwr.client.ClientApp(client_fn=client_fn)


def flower_round(clients: list[FedClient], state: dict[str, torch.Tensor], server_round: int = 1) -> dict[str, torch.Tensor]:
    """One FedAvg round through Flower's own message types and its ``FedAvg`` strategy, in process
    (no Ray, no sockets): each client is driven through ``NumPyClient.to_client().fit``."""
    flwr = _require_flwr()
    from flwr.common import FitIns, ndarrays_to_parameters, parameters_to_ndarrays

    keys = list(state)
    parameters = ndarrays_to_parameters(state_to_arrays(state))
    results = []
    for client in clients:
        fit_res = make_numpy_client(client).to_client().fit(FitIns(parameters, {}))
        results.append((None, fit_res))
    strategy = flwr.server.strategy.FedAvg(min_fit_clients=len(clients), min_available_clients=len(clients))
    aggregated, _ = strategy.aggregate_fit(server_round, results, [])
    if aggregated is None:
        raise BadInputError("Flower's FedAvg returned no aggregate")
    return arrays_to_state(keys, parameters_to_ndarrays(aggregated))
