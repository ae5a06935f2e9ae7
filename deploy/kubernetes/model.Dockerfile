# One image per model version: the model server image plus one bundle, served from /model.
# Build context: a directory holding the bundle as ./model (see kind_e2e.sh). BASE is the root Dockerfile's image.
ARG BASE=model-server:base
FROM ${BASE}
COPY --chown=10001:10001 model /model
ENV MODEL_DIR=/model
