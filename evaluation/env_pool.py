"""The environments an evaluation steps: in this process, or spread over worker processes.

Evaluation is bound by rendering (every step renders each camera of each environment), and one
process renders one frame at a time. With ``workers`` > 0 the environments live in that many
processes (environment i in worker i mod workers), each with its own MuJoCo model and rendering
context, made lazily by the first render there; a step sends every active environment's action at
once and then collects the observations, so the workers render side by side while the policy waits
for the batch. The policy and the episode bookkeeping stay in the calling process, so the episodes,
their seeds and their order are those of the in-process loop: the per-episode results are identical.

Built on the standard library's ``multiprocessing`` (spawn: a child must not inherit this process's
GL contexts; pipes, one per worker): gymnasium's vector envs step every environment in lockstep and
reset them on their own schedule, while an evaluation gives each environment its next seed when its
episode ends.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any, Self

import numpy as np

from envs import EnvConfig, MetaWorldEnv

# what a step or reset sends back for one environment
StepResult = tuple[dict[str, Any], float, bool, dict[str, Any], np.ndarray | None]  # obs, reward, success, info, frame
ResetResult = tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray | None]  # obs, initial positions, frame


def _reset(env: MetaWorldEnv, seed: int, render: tuple[str, int] | None) -> ResetResult:
    obs = env.reset(seed)
    return obs, env.initial_positions(), env.render(*render) if render else None


def _step(env: MetaWorldEnv, action: np.ndarray, render: tuple[str, int] | None) -> StepResult:
    obs, reward, success, info = env.step(action)
    return obs, reward, success, info, env.render(*render) if render else None


def _worker(connection: Any, env_config: EnvConfig, env_ids: list[int]) -> None:
    """Serves reset/step requests for its environments until told to close (or the pipe breaks)."""
    import envs  # noqa: F401  (chooses the same headless GL backend as the parent)

    environments = {env_id: MetaWorldEnv(env_config) for env_id in env_ids}
    try:
        while True:
            try:
                command, payload = connection.recv()
            except EOFError:
                return
            try:
                if command == "reset":
                    env_id, seed, render = payload
                    connection.send(("ok", _reset(environments[env_id], seed, render)))
                elif command == "step":
                    connection.send(("ok", {env_id: _step(environments[env_id], action, render)
                                            for env_id, action, render in payload}))
                elif command == "close":
                    connection.send(("ok", None))
                    return
            except Exception as error:  # noqa: BLE001  (any failure is sent back and raised in the parent)
                connection.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        for env in environments.values():
            env.close()


class EnvPoolError(RuntimeError):
    """A worker process failed; the message carries its error."""


class EnvPool:
    """`num_envs` copies of one task's environment, stepped together: ``reset(i, seed)``, ``step({i: action})``."""

    def __init__(self, env_config: EnvConfig, num_envs: int, workers: int = 0) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.num_envs = num_envs
        self.workers = min(workers, num_envs)
        self._local: list[MetaWorldEnv] = []
        self._connections: list[Any] = []
        self._processes: list[Any] = []
        if self.workers == 0:
            self._local = [MetaWorldEnv(env_config) for _ in range(num_envs)]
            return
        context = mp.get_context("spawn")
        try:
            for worker in range(self.workers):
                parent, child = context.Pipe()
                ids = list(range(worker, num_envs, self.workers))
                process = context.Process(target=_worker, args=(child, env_config, ids), daemon=True)
                process.start()
                child.close()
                self._connections.append(parent)
                self._processes.append(process)
        except BaseException:
            self.close()
            raise

    def _worker_of(self, env_id: int) -> int:
        return env_id % self.workers

    def _receive(self, worker: int) -> Any:
        try:
            status, value = self._connections[worker].recv()
        except EOFError:
            raise EnvPoolError(f"evaluation worker {worker} died (exit code {self._processes[worker].exitcode})") from None
        if status == "error":
            raise EnvPoolError(f"evaluation worker {worker}: {value}")
        return value

    def reset(self, env_id: int, seed: int, render: tuple[str, int] | None = None) -> ResetResult:
        """Starts environment `env_id`'s episode from `seed`; `render` = (camera, size) also returns a frame."""
        if not self.workers:
            return _reset(self._local[env_id], seed, render)
        worker = self._worker_of(env_id)
        self._connections[worker].send(("reset", (env_id, seed, render)))
        return self._receive(worker)

    def step(self, actions: dict[int, np.ndarray], render: dict[int, tuple[str, int]] | None = None
             ) -> dict[int, StepResult]:
        """Steps every environment in `actions` (workers in parallel); `render[i]` = (camera, size) adds a frame."""
        render = render or {}
        if not self.workers:
            return {env_id: _step(self._local[env_id], action, render.get(env_id)) for env_id, action in actions.items()}
        requests: dict[int, list] = {}
        for env_id, action in actions.items():
            requests.setdefault(self._worker_of(env_id), []).append((env_id, action, render.get(env_id)))
        for worker, payload in requests.items():  # all sent before any is awaited: the workers run side by side
            self._connections[worker].send(("step", payload))
        results: dict[int, StepResult] = {}
        for worker in requests:
            results.update(self._receive(worker))
        return results

    def close(self) -> None:
        for env in self._local:
            env.close()
        self._local = []
        for connection, process in zip(self._connections, self._processes, strict=True):
            try:
                connection.send(("close", None))
                connection.recv()
            except (OSError, EOFError):
                pass
            connection.close()
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        self._connections, self._processes = [], []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
