"""The model server (`uvicorn serving.app:app`).

settings (params.yaml `serving:` + environment) → loading (find, verify, load, golden records, warm-up) →
predictor (compiled fast path or the pipeline) behind batching (micro-batches on the model thread); schema
(request validation from the features block), routes, docs (OpenAPI), middleware (version header, metrics),
metrics, predlog (JSON-lines log for the drift job), state (life cycle), app (the factory).
"""
