# The model server image: `uvicorn serving.app:app` with one model baked in.
#
# Build context: the repository root, with the model to serve in ./model/ (or --build-arg MODEL_DIR=<dir>), which
# the release workflow fetches from the registry first:
#   python scripts/fetch_model.py --version 3 --dest model
#   docker build --build-arg MODEL_VERSION=v3 -t model-server:v3 .
# At start-up the server verifies the artifact's sha256, checks that the baked model is MODEL_VERSION, replays
# the golden records and only then reports ready (docs/serving.md).
#
# The base image is pinned by digest (python:3.11-slim, Debian trixie); bump the tag and digest together.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:e41613d42d4891e4930f79523f93f81bbc7632584ec65e36ab055f41a800b41e

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Every dependency from the lock file, hash-checked. The lock also pins the dev tools (pytest, ruff, linters):
# installing it whole keeps one source of truth; they are a few MB in an image that carries scikit-learn anyway.
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt
COPY pyproject.toml README.md /src/
COPY ml/ /src/ml/
COPY serving/ /src/serving/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation /src

FROM ${PYTHON_IMAGE} AS runtime
# MODEL_DIR: the model's directory in the build context. MODEL_VERSION (e.g. v3), when given, must be the
# version in that model's metadata, or the server refuses to become ready.
ARG MODEL_DIR=model
ARG MODEL_VERSION=""
LABEL org.opencontainers.image.title="model-server" \
      org.opencontainers.image.description="scikit-learn model server (FastAPI + uvicorn)" \
      model.version="${MODEL_VERSION}"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY params.yaml /app/params.yaml
COPY ${MODEL_DIR}/ /app/model/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PARAMS=/app/params.yaml \
    MODEL_DIR=/app/model \
    MODEL_VERSION=${MODEL_VERSION} \
    PREDICTION_LOG_DIR=/app/logs/predictions
# The prediction log is the only thing the server writes; mount a volume here to keep it for the drift job.
RUN mkdir -p /app/logs/predictions && chown -R app:app /app/logs
# Numeric, so Kubernetes runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"]
CMD ["uvicorn", "serving.app:app", "--host", "0.0.0.0", "--port", "8000"]
