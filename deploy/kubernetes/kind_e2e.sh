#!/usr/bin/env bash
# Blue/green on a real Kubernetes cluster (kind), the way the release job deploys: CI's `kind` job runs
#   bash deploy/kubernetes/kind_e2e.sh
# on a GitHub runner (needs docker, kind, kubectl and the project's .venv). Locally: KEEP_CLUSTER=1 keeps it.
#
# Builds two model versions and a broken one into images, applies deploy/kubernetes/*.yaml, then checks, as the
# deploy identity of rbac-deployer.yaml and each command with an empty state directory (a fresh hosted runner: the
# state is in the cluster): the first deploy adopts the running blue slot and moves v2 to green; status; rollback;
# a model that never becomes ready is refused with traffic left where it was; a redeploy succeeds.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=${KIND_CLUSTER:-mlops-bluegreen}
PY=${PYTHON:-.venv/bin/python}
WORK=$(mktemp -d)

cleanup() {
  if [ -z "${KEEP_CLUSTER:-}" ]; then env -u KUBECONFIG kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
  if [ -n "${BUILT_MODEL_DIR:-}" ]; then rm -rf model; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

live_version() {  # X-Model-Version answered through the live Service (a fresh port-forward each time)
  local port=18089 pid version
  kubectl port-forward service/model "$port:80" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do
    version=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/health/live" 2>/dev/null | tr -d '\r' |
      awk -F': ' 'tolower($1) == "x-model-version" {print $2}' || true)
    [ -n "$version" ] && break
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$version"
}

expect_live() {
  local got
  got=$(live_version)
  [ "$got" = "$1" ] || { echo "live version is '$got', expected '$1'" >&2; exit 1; }
  echo "live: $got"
}

step "model bundles v1, v2 and a tampered one"
"$PY" - "$WORK" <<'PY'
import shutil, sys
from pathlib import Path
import yaml
from ml.bundle import ARTIFACT, read_metadata, save_bundle, write_metadata
from ml.dataset import load_dataset
from ml.params import load_params
from ml.sample_data import write_churn_csv
from ml.train import fit

work = Path(sys.argv[1])
write_churn_csv(work / "churn.csv", 3000)
raw = yaml.safe_load(Path("params.yaml").read_text())
raw["data"] = {"path": str(work / "churn.csv")}
(work / "params.yaml").write_text(yaml.safe_dump(raw))
params = load_params(work / "params.yaml")
model, metadata = fit(load_dataset(params), params)
save_bundle(model, metadata, work / "base")
for name, version in (("v1", 1), ("v2", 2), ("broken", 3)):
    shutil.copytree(work / "base", work / name / "model")
    meta = read_metadata(work / name / "model")
    meta["version"] = version
    write_metadata(work / name / "model", meta)
with open(work / "broken" / "model" / ARTIFACT, "ab") as handle:
    handle.write(b"tampered")
PY

step "images (the root Dockerfile, one per model version, as the release workflow builds them)"
if [ -e model ]; then echo "./model exists: move it away first (this script builds images from ./model)" >&2; exit 1; fi
BUILT_MODEL_DIR=1
for name in v1 v2 broken; do
  version=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$WORK/$name/model/metadata.json")
  rm -rf model
  cp -r "$WORK/$name/model" model
  docker build --build-arg "MODEL_VERSION=v$version" -t "model-server:$name" .
done
rm -rf model
docker tag model-server:v1 model-server:latest

step "cluster"
kind create cluster --name "$CLUSTER" --wait 120s
kind load docker-image --name "$CLUSTER" model-server:latest model-server:v1 model-server:v2 model-server:broken
kubectl apply -f deploy/kubernetes/deployment-blue.yaml -f deploy/kubernetes/deployment-green.yaml \
  -f deploy/kubernetes/service-live.yaml -f deploy/kubernetes/service-preview.yaml \
  -f deploy/kubernetes/rbac-deployer.yaml
kubectl rollout status deployment/model-blue --timeout=180s

step "from here on, kubectl is the deploy identity (deploy/kubernetes/rbac-deployer.yaml) and nothing more"
kind get kubeconfig --name "$CLUSTER" >"$WORK/kubeconfig"
export KUBECONFIG="$WORK/kubeconfig"
kubectl config set-credentials model-deployer --token="$(kubectl create token model-deployer --duration=1h)"
kubectl config set-context --current --user=model-deployer
if kubectl auth can-i delete deployment/model-blue >/dev/null; then echo "the deploy identity can delete" >&2; exit 1; fi
expect_live v1

# A new empty state directory for every command, as on a GitHub-hosted runner.
deploy() { "$PY" scripts/deploy.py "$@" --backend kubernetes --state-dir "$(mktemp -d -p "$WORK")"; }
OPTS=(--ready-timeout 180 --bake-seconds 10 --scale-down-delay 5 --latency-budget-ms 500)

step "deploy v2 (blue is adopted as live, v2 goes to green)"
deploy deploy "${OPTS[@]}" --model-dir "$WORK/v2/model" --image model-server:v2
expect_live v2
deploy status | tee "$WORK/status.txt"
grep -q '^live: green (v2)' "$WORK/status.txt" || { echo "a fresh runner does not see v2 live" >&2; exit 1; }

step "rollback to v1"
deploy rollback
expect_live v1

step "a model that never becomes ready is refused"
if deploy deploy "${OPTS[@]}" --ready-timeout 60 --model-dir "$WORK/broken/model" --image model-server:broken \
    2>"$WORK/refused.txt"; then
  echo "the broken model was deployed" >&2; exit 1
fi
cat "$WORK/refused.txt"
grep -q "not deployed" "$WORK/refused.txt"
expect_live v1

step "redeploy v2 with the old slot scaled down"
deploy deploy "${OPTS[@]}" --no-standby --model-dir "$WORK/v2/model" --image model-server:v2
expect_live v2
[ "$(kubectl get deployment model-blue -o jsonpath='{.spec.replicas}')" = "0" ] || { echo "blue not scaled down" >&2; exit 1; }
deploy status
echo "kind blue/green e2e passed"
