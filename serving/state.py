"""What a running server holds, and its life: load in the background, become ready, shut down cleanly.

Loading runs on the model thread while the server already answers /health/live, so an orchestrator can tell
"alive but loading" from "dead". Any failure (bad params, tampered artifact, golden records that do not come
back, unwritable log directory) leaves the server alive and never ready, with one ERROR line saying why.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ml.errors import MLOpsError
from serving.batching import MicroBatcher
from serving.loading import LoadedModel, load_model
from serving.metrics import Metrics
from serving.predictor import Outputs
from serving.predlog import PredictionLog
from serving.schema import RequestSchema
from serving.settings import Settings, load_settings

log = logging.getLogger("serving")

UNSEEN_LOG_LIMIT = 100  # distinct unseen values logged one line each; the metric counts all of them


def _limit_threads(count: int) -> None:
    """Runs on the model thread: cap OpenMP/BLAS threads (one thread is fastest for small batches)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count)


class ServerState:
    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = environ
        self.metrics = Metrics()
        self.status = "loading"
        self.reason = "the model is loading"
        self.settings: Settings | None = None
        self.model: LoadedModel | None = None
        self.schema: RequestSchema | None = None
        self.batcher: MicroBatcher | None = None
        self.prediction_log: PredictionLog | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.version_header = b"none"
        self._unseen_logged: set[tuple[str, str]] = set()
        self._task: asyncio.Task | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def begin(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        try:
            self.settings = settings = load_settings(self.environ)
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="model", initializer=_limit_threads,
                                               initargs=(settings.model_threads,))
            model = await asyncio.get_running_loop().run_in_executor(self.executor, load_model, settings)
            self.model = model
            self.schema = RequestSchema(model.predictor.params.features, settings.max_batch,
                                        settings.unseen_categories)
            if settings.prediction_log_dir is not None:
                self.prediction_log = PredictionLog(settings.prediction_log_dir, model.version,
                                                    settings.prediction_log_max_bytes,
                                                    settings.prediction_log_flush_seconds)
                self.prediction_log.start()
            self.batcher = MicroBatcher(model.predictor.predict, self.executor, settings.max_batch,
                                        self.metrics.batch_rows.observe)
        except MLOpsError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # anything else is still one line, never a traceback in a probe's log
            self._fail(f"{exc.__class__.__name__}: {exc}")
            return
        self.metrics.model_version = model.version
        self.version_header = model.version.encode()
        self.metrics.ready = True
        self.status, self.reason = "ready", ""
        log.info("ready: serving model %s (%s path)%s", model.version, model.predictor.path,
                 "" if self.prediction_log is None else f", logging predictions to {settings.prediction_log_dir}")

    def _fail(self, reason: str) -> None:
        self.status, self.reason = "failed", reason
        log.error("model server not ready: %s", reason)

    async def stop(self) -> None:
        """After uvicorn has finished the in-flight requests: flush the prediction log, release the model."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.status, self.reason = "stopping", "the server is shutting down"
        self.metrics.ready = False
        if self.prediction_log is not None:
            await asyncio.to_thread(self.prediction_log.close)
            log.info("prediction log flushed: %d records written, %d dropped",
                     self.prediction_log.written, self.prediction_log.dropped + self.prediction_log.failed)
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        if self.model is not None and self.model.fetched:
            shutil.rmtree(self.model.model_dir, ignore_errors=True)

    def note_unseen(self, unseen: list[tuple[str, str]]) -> None:
        for feature, value in unseen:
            self.metrics.unseen[feature] += 1
            if len(self._unseen_logged) < UNSEEN_LOG_LIMIT and (feature, value) not in self._unseen_logged:
                self._unseen_logged.add((feature, value))
                log.info("unseen category %r in %s accepted (the model ignores it)", value[:80], feature)

    def record(self, records: list[dict[str, Any]], outputs: Outputs, logged: bool = True) -> None:
        """Count answered predictions, and log them unless they are the deploy's own checks."""
        self.metrics.count_predictions(outputs.predictions, outputs.probabilities is not None)
        if self.prediction_log is not None and logged:
            self.prediction_log.append(records, outputs.predictions, outputs.probabilities)

    def refresh_metrics(self) -> None:
        if self.prediction_log is not None:
            self.metrics.log_written = self.prediction_log.written
            self.metrics.log_dropped = self.prediction_log.dropped + self.prediction_log.failed
