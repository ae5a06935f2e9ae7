"""Micro-batching: requests that arrive while the model is busy share its next call.

A model call has a fixed cost (for gradient boosting, a Python loop over every tree) that dwarfs the per-row
cost, so under load 16 concurrent single-record requests cost little more than one. There is no waiting
window: an idle server runs a request at once; a busy one gathers whatever queued up during the current call
(MLServer's and BentoML's adaptive batching without the timer). Calls run on one dedicated thread, so the
event loop keeps reading and validating requests meanwhile. A merged call that fails is retried request by
request: one request the model cannot handle must not fail the others it was batched with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from serving.predictor import Outputs

log = logging.getLogger("serving")
Waiting = tuple[list[dict[str, Any]], asyncio.Future]  # a request's records and the future its handler awaits


class MicroBatcher:
    def __init__(self, predict: Callable[[list[dict[str, Any]]], Outputs], executor: ThreadPoolExecutor,
                 max_rows: int, on_batch: Callable[[int], None] | None = None):
        self._predict = predict
        self._executor = executor
        self._max_rows = max_rows
        self._on_batch = on_batch
        self._pending: list[Waiting] = []
        self._running = False

    async def predict(self, records: list[dict[str, Any]]) -> Outputs:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((records, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    def _take(self) -> list[Waiting]:
        """The queued requests, up to max_rows records (always at least one request)."""
        taken, rows = 0, 0
        for records, _ in self._pending:
            if taken and rows + len(records) > self._max_rows:
                break
            taken += 1
            rows += len(records)
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        return batch

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._take()
                if len(batch) == 1:
                    await self._alone(*batch[0])
                else:
                    await self._merged(batch)
        finally:
            self._running = False

    async def _call(self, records: list[dict[str, Any]]) -> Outputs:
        outputs = await asyncio.get_running_loop().run_in_executor(self._executor, self._predict, records)
        if self._on_batch is not None:
            self._on_batch(len(records))
        return outputs

    async def _alone(self, records: list[dict[str, Any]], future: asyncio.Future) -> None:
        """One request's own model call: a failure is its answer (the batcher keeps going)."""
        if future.done():  # the client has gone away: skip its call
            return
        try:
            outcome: Outputs | Exception = await self._call(records)
        except Exception as exc:
            outcome = exc
        _settle(future, outcome)

    async def _merged(self, batch: list[Waiting]) -> None:
        """One call for several requests; if it fails, one call each, so the error reaches only its cause."""
        try:
            outputs = await self._call([record for records, _ in batch for record in records])
        except Exception as exc:
            log.info("a model call on %d merged requests failed (%s): retrying them one by one", len(batch),
                     exc.__class__.__name__)
            for records, future in batch:
                await self._alone(records, future)
            return
        start = 0
        for records, future in batch:
            end = start + len(records)
            _settle(future, Outputs(outputs.predictions[start:end],
                                    None if outputs.probabilities is None else outputs.probabilities[start:end]))
            start = end


def _settle(future: asyncio.Future, outcome: Outputs | Exception) -> None:
    """Answer a waiting request, unless its client has gone away (its future is cancelled)."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
