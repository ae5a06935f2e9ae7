"""Blue/green deployment of a model bundle: one flow (ml.deploy.flow) over two backends (host: uvicorn slots behind
nginx; kubernetes: two Deployments behind a Service), with smoke tests, a bake period and automatic rollback."""
