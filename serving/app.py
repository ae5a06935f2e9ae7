"""The model server: `uvicorn serving.app:app` (the Dockerfile's command, and `make serve`).

Configuration comes from params.yaml's `serving:` section and the environment (see serving.settings and
docs/serving.md); it is read when the server starts, not at import.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serving.docs import install_openapi
from serving.middleware import ObservabilityMiddleware
from serving.routes import router
from serving.state import ServerState


def _configure_logging() -> None:
    """One-line log records on stderr in uvicorn's style, also when run outside uvicorn's logging config."""
    logger = logging.getLogger("serving")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)-9s [serving] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """environ defaults to os.environ at start-up (MODEL_DIR, PARAMS, PREDICTION_LOG_DIR, ...)."""
    _configure_logging()
    server = ServerState(environ)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server.begin()
        yield
        await server.stop()

    app = FastAPI(title="Model server", version="1", lifespan=lifespan,
                  description="Predictions from the registry's champion (or MODEL_DIR), validated against "
                              "the feature schema in params.yaml.")
    app.state.server = server
    app.include_router(router)
    paths = frozenset([route.path for route in router.routes] + [app.openapi_url, app.docs_url, app.redoc_url])
    app.add_middleware(ObservabilityMiddleware, metrics=server.metrics,
                       version_header=lambda: server.version_header, known_paths=lambda: paths)
    install_openapi(app, lambda: server.schema.openapi_schemas() if server.schema is not None else None)
    return app


app = create_app()
