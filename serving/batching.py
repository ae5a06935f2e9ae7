"""Micro-batching: requests that arrive while the model is busy share its next call.

A model call has a fixed cost (for gradient boosting, a Python loop over every tree) that dwarfs the per-row
cost, so under load 16 concurrent single-record requests cost little more than one. There is no waiting
window: an idle server runs a request at once; a busy one gathers whatever queued up during the current call
(MLServer's and BentoML's adaptive batching without the timer). Calls run on one dedicated thread, so the
event loop keeps reading and validating requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from serving.predictor import Outputs


class MicroBatcher:
    def __init__(self, predict: Callable[[list[dict[str, Any]]], Outputs], executor: ThreadPoolExecutor,
                 max_rows: int, on_batch: Callable[[int], None] | None = None):
        self._predict = predict
        self._executor = executor
        self._max_rows = max_rows
        self._on_batch = on_batch
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future]] = []
        self._running = False

    async def predict(self, records: list[dict[str, Any]]) -> Outputs:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((records, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[list[dict[str, Any]], asyncio.Future]]:
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
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._take()
                records = batch[0][0] if len(batch) == 1 else [r for records, _ in batch for r in records]
                try:
                    outputs = await loop.run_in_executor(self._executor, self._predict, records)
                except Exception as exc:  # reported to every waiting request; the batcher keeps going
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                if self._on_batch is not None:
                    self._on_batch(len(records))
                start = 0
                for part, future in batch:
                    end = start + len(part)
                    if not future.done():  # the client may have gone away
                        future.set_result(outputs if len(batch) == 1 else Outputs(
                            outputs.predictions[start:end],
                            None if outputs.probabilities is None else outputs.probabilities[start:end]))
                    start = end
        finally:
            self._running = False
