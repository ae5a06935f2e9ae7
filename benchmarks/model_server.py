"""Model-server benchmark: this server vs a naive FastAPI app vs MLServer, same model, same cores, one run.

    .venv/bin/python benchmarks/model_server.py [--requests 4000] [--clients 16] [--model-dir DIR] [--json out.json]

Every server runs as its own uvicorn process with one worker and one OpenMP thread on 127.0.0.1 (MLServer with
parallel_workers=0: inference in the server process, its fastest set-up here); the load generator is a bounded
asyncio HTTP/1.1 client in this process (keep-alive connections, pre-encoded requests, one request in flight
per connection). Measured:

- single-record throughput (requests/s) and p50/p99 latency at --clients concurrent clients for
  this server, this server without the prediction log (the log's cost), the naive app (a DataFrame per
  request, predict + predict_proba) and MLServer's scikit-learn runtime (its own venv: benchmarks/.venv-mlserver,
  created here when missing; skipped with a message if it cannot be installed);
- batch throughput (rows/s) of POST /predict/batch with 1,000-row batches against in-process
  pipeline.predict_proba on the same 1,000-row DataFrame.

Goals (issue 7): >= 10x the naive app's throughput, >= 2x MLServer's, p99 <= 25 ms, batch >= 50% of in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MLSERVER_VENV = REPO / "benchmarks" / ".venv-mlserver"
MLSERVER_PACKAGES = ("mlserver", "mlserver-sklearn")
START_TIMEOUT = 120.0
TIME_LIMIT = 60.0  # per measurement, whatever --requests says
BATCH_ROWS = 1000


# --- the model and its records ----------------------------------------------------------------------------------

def build_model(workdir: Path, rows: int) -> Path:
    """Train the configured pipeline on the embedded churn sample; returns the bundle directory."""
    import yaml

    from ml.bundle import save_bundle
    from ml.dataset import load_dataset
    from ml.params import parse_params
    from ml.sample_data import write_churn_csv
    from ml.train import fit

    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["data"] = {"path": "data/churn.csv"}
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    write_churn_csv(workdir / "data" / "churn.csv", rows)
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    params = parse_params(raw, workdir)
    model, metadata = fit(load_dataset(params), params)
    save_bundle(model, {**metadata, "version": 1}, workdir / "model")
    return workdir / "model"


def complete_records(model_dir: Path, params_path: Path, count: int) -> list[dict[str, Any]]:
    """Complete records (no missing values: MLServer's tensor codec has no null) from the model's data."""

    from ml.data import json_records, model_frame, read_table
    from ml.params import load_params

    params = load_params(params_path)
    frame = model_frame(read_table(params.data_path), params)
    records = [r for r in json_records(frame, params) if None not in r.values()]
    return records[:count]


# --- servers ------------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except OSError:
        return 0


class Server:
    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], ready_url: str,
                 predict_path: str, port: int):
        self.name, self.port, self.predict_path = name, port, predict_path
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        # One OpenMP thread everywhere, as this server's model thread uses: on two cores shared with the load
        # generator, OpenMP threads spinning in every predict call cost the baselines far more than they give.
        env = {**os.environ, "OMP_NUM_THREADS": "1", **env}
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while http_get(ready_url) != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not become ready; log: {self.log.name}")
            time.sleep(0.2)

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used (Linux): per-request cost that a busy machine inflates less
        than throughput."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


HTTP = {"implementation": "auto"}  # uvicorn's --http for this server and the naive app (auto: httptools if installed)


def start_ours(name: str, model_dir: Path, params_path: Path, log_dir: Path | None) -> Server:
    port = free_port()
    env = {"MODEL_DIR": str(model_dir), "PARAMS": str(params_path), "PREDICTION_LOG_DIR": str(log_dir or "off")}
    return Server(name, [PYTHON, "-m", "uvicorn", "serving.app:app", "--port", str(port), "--no-access-log",
                         "--http", HTTP["implementation"]],
                  REPO, env, f"http://127.0.0.1:{port}/health/ready", "/predict", port)


def start_naive(model_dir: Path, params_path: Path) -> Server:
    port = free_port()
    env = {"MODEL_DIR": str(model_dir), "PARAMS": str(params_path)}
    return Server("naive FastAPI", [PYTHON, __file__, "--serve-naive", str(port), "--http", HTTP["implementation"]],
                  REPO, env, f"http://127.0.0.1:{port}/health", "/predict", port)


def naive_app():
    """The tutorial server: pydantic body model, a DataFrame per request, predict and predict_proba."""
    import pandas as pd
    from fastapi import FastAPI
    from pydantic import create_model

    from ml.bundle import load_bundle
    from ml.data import model_frame
    from ml.params import load_params

    params = load_params(os.environ["PARAMS"])
    model, _ = load_bundle(os.environ["MODEL_DIR"])  # sha256-checked first: joblib.load runs the file's code
    types = {"int": int, "float": float, "bool": bool, "category": str}
    Record = create_model("Record", **{f.name: (types[f.type] | None, ...) for f in params.features})  # noqa: N806
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    def predict(record):  # a sync endpoint, as in the tutorials: FastAPI runs it on its thread pool
        frame = model_frame(pd.DataFrame([record.model_dump()]), params)
        prediction = model.predict(frame)[0]
        probability = model.predict_proba(frame)[0, -1]
        return {"prediction": prediction.item(), "probability": float(probability)}

    predict.__annotations__ = {"record": Record, "return": dict}  # Record is local: no string annotation
    app.post("/predict")(predict)
    return app


def ensure_mlserver() -> Path | None:
    """benchmarks/.venv-mlserver/bin/mlserver, installing it (with this venv's scikit-learn) when missing."""
    binary = MLSERVER_VENV / "bin" / "mlserver"
    if binary.exists():
        return binary
    from importlib import metadata

    sklearn = f"scikit-learn=={metadata.version('scikit-learn')}"  # the pickle needs the same version
    print(f"installing MLServer into {MLSERVER_VENV} (once) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
        subprocess.run([str(MLSERVER_VENV / "bin" / "pip"), "install", "--quiet", *MLSERVER_PACKAGES, sklearn],
                       check=True, timeout=1200)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"MLServer could not be installed ({exc}); measuring the other servers only", flush=True)
        shutil.rmtree(MLSERVER_VENV, ignore_errors=True)
        return None
    return binary if binary.exists() else None


def start_mlserver(binary: Path, model_dir: Path, workdir: Path) -> Server:
    port = free_port()
    folder = workdir / "mlserver"
    (folder / "churn").mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({
        "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(), "debug": False,
        "parallel_workers": 0}))  # inference in the server process: its fastest set-up on 2 cores
    (folder / "churn" / "model-settings.json").write_text(json.dumps({
        "name": "churn", "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model_dir / "model.joblib")}}))
    return Server("MLServer sklearn", [str(binary), "start", str(folder)], folder, {},
                  f"http://127.0.0.1:{port}/v2/models/churn/ready", "/v2/models/churn/infer", port)


def mlserver_body(record: dict[str, Any], features: list) -> dict[str, Any]:
    """The V2 inference protocol with the pandas codec; asks only for predict_proba (the label follows)."""
    inputs = []
    for feature in features:
        value = record[feature.name]
        if feature.type == "category":
            inputs.append({"name": feature.name, "shape": [1], "datatype": "BYTES", "data": [value],
                           "parameters": {"content_type": "str"}})
        else:
            inputs.append({"name": feature.name, "shape": [1], "datatype": "FP64", "data": [float(value)]})
    return {"parameters": {"content_type": "pd"}, "inputs": inputs, "outputs": [{"name": "predict_proba"}]}


# --- the load generator -------------------------------------------------------------------------------------------

def http_request(port: int, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    start = lowered.find(b"content-length:")
    if start < 0:
        raise RuntimeError("response without content-length")
    length = int(lowered[start + 15:lowered.find(b"\r\n", start)])
    return status, await reader.readexactly(length)


async def _client(port: int, requests: list[bytes], count: int, offset: int, latencies: list[float],
                  failures: list[int], deadline: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(count):
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            status, _ = await _exchange(reader, writer, requests[(offset + i) % len(requests)])
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(status)
    finally:
        writer.close()


async def _load(port: int, requests: list[bytes], total: int, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    failures: list[int] = []
    per_client = max(1, total // clients)
    started = time.perf_counter()
    deadline = started + TIME_LIMIT
    await asyncio.gather(*(_client(port, requests, per_client, i * 97, latencies, failures, deadline)
                           for i in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "failures": len(failures), "seconds": elapsed,
            "rps": len(latencies) / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def load(port: int, path: str, bodies: list[bytes], total: int, clients: int,
         warm_up: bool = True) -> dict[str, float]:
    requests = [http_request(port, path, body) for body in bodies]
    if warm_up:
        asyncio.run(_load(port, requests, max(clients, total // 10), clients))
    return asyncio.run(_load(port, requests, total, clients))


def check_answer(port: int, path: str, body: bytes, expected_probability: float) -> None:
    """Every server must give the same probability for the same record, or the comparison means nothing."""
    async def one() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, answer = await _exchange(reader, writer, http_request(port, path, body))
        writer.close()
        if status != 200:
            raise RuntimeError(f"{path} answered {status}: {answer[:300]!r}")
        return answer

    answer = json.loads(asyncio.run(one()))
    if "outputs" in answer:  # V2 inference protocol
        probability = answer["outputs"][0]["data"][-1]
    else:
        probability = answer["probability"]
    if abs(probability - expected_probability) > 1e-9:
        raise RuntimeError(f"{path} answers probability {probability}, the pipeline says {expected_probability}")


# --- batch --------------------------------------------------------------------------------------------------------

def batch_throughput(port: int, records: list[dict[str, Any]], model_dir: Path, params_path: Path,
                     repeats: int) -> dict[str, float]:
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from ml.bundle import load_bundle
    from ml.data import model_frame
    from ml.params import load_params

    params = load_params(params_path)
    pipeline, _ = load_bundle(model_dir)
    frame = model_frame(pd.DataFrame.from_records(records), params)
    with threadpool_limits(1):  # the server's model thread uses one thread too
        pipeline.predict_proba(frame)
        started = time.perf_counter()
        for _ in range(repeats):
            pipeline.predict_proba(frame)
        in_process = repeats * len(records) / (time.perf_counter() - started)
    body = json.dumps({"instances": records}).encode()
    result = load(port, "/predict/batch", [body], repeats, 1)
    over_http = result["rps"] * len(records)
    return {"in_process_rows_per_s": in_process, "http_rows_per_s": over_http, "ratio": over_http / in_process,
            "http_p50_ms": result["p50_ms"]}


# --- the run ------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="single-record requests per server")
    parser.add_argument("--naive-requests", type=int, default=600, help="requests for the (slow) naive app")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batches", type=int, default=40, help="1,000-row batches for the batch measurement")
    parser.add_argument("--model-dir", type=Path, help="a model bundle (default: train one on the sample)")
    parser.add_argument("--params", type=Path, default=None, help="params.yaml matching --model-dir")
    parser.add_argument("--rows", type=int, default=20000, help="sample rows to train on when training")
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--http", choices=("auto", "h11", "httptools"), default="auto",
                        help="uvicorn's HTTP implementation for this server and the naive app")
    parser.add_argument("--serve-naive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_naive:
        import uvicorn

        uvicorn.run(naive_app(), host="127.0.0.1", port=args.serve_naive, log_level="warning", access_log=False,
                    http=args.http)
        return

    HTTP["implementation"] = args.http
    sys.path.insert(0, str(REPO))
    import pandas as pd

    from ml.bundle import load_bundle
    from ml.data import model_frame
    from ml.params import load_params

    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        if args.model_dir:
            model_dir, params_path = args.model_dir.resolve(), (args.params or REPO / "params.yaml").resolve()
        else:
            print(f"training the benchmark model on {args.rows} sample rows ...", flush=True)
            model_dir, params_path = build_model(workdir, args.rows), workdir / "params.yaml"
        os.chdir(params_path.parent)  # params.yaml paths are relative to its directory's root
        params = load_params(params_path)
        records = complete_records(model_dir, params_path, max(BATCH_ROWS, 256))
        pipeline, _ = load_bundle(model_dir)
        probability = float(pipeline.predict_proba(model_frame(pd.DataFrame([records[0]]), params))[0, -1])
        bodies = [json.dumps(r).encode() for r in records[:256]]
        results: dict[str, Any] = {"cpus": os.cpu_count(), "clients": args.clients, "http": args.http, "servers": {}}

        def measure(server: Server, server_bodies: list[bytes], total: int) -> None:
            try:
                check_answer(server.port, server.predict_path, server_bodies[0], probability)
                load(server.port, server.predict_path, server_bodies, max(args.clients, total // 10), args.clients)
                cpu_before = server.cpu_seconds()
                result = load(server.port, server.predict_path, server_bodies, total, args.clients, warm_up=False)
                cpu_after = server.cpu_seconds()
            finally:
                server.stop()
            if cpu_before is not None and cpu_after is not None:
                result["server_cpu_ms_per_request"] = 1000 * (cpu_after - cpu_before) / result["requests"]
            results["servers"][server.name] = result
            cpu = result.get("server_cpu_ms_per_request")
            print(f"{server.name:28} {result['rps']:8.0f} req/s   p50 {result['p50_ms']:6.2f} ms   "
                  f"p99 {result['p99_ms']:6.2f} ms   server CPU {'n/a' if cpu is None else f'{cpu:.3f}'} ms/request"
                  f"   ({result['requests']} requests, {result['failures']} failed)", flush=True)

        print(f"single records, {args.clients} concurrent clients, {os.cpu_count()} cores:", flush=True)
        server = start_ours("this server", model_dir, params_path, workdir / "predictions")
        measure(server, bodies, args.requests)
        measure(start_ours("this server, no pred. log", model_dir, params_path, None), bodies, args.requests)
        measure(start_naive(model_dir, params_path), bodies, args.naive_requests)
        binary = None if args.skip_mlserver else ensure_mlserver()
        if binary is not None:
            v2_bodies = [json.dumps(mlserver_body(r, params.features)).encode() for r in records[:256]]
            try:
                measure(start_mlserver(binary, model_dir, workdir), v2_bodies, args.requests)
            except RuntimeError as exc:
                print(f"MLServer: {exc}", flush=True)

        server = start_ours("this server (batch)", model_dir, params_path, workdir / "predictions")
        try:
            batch = batch_throughput(server.port, records[:BATCH_ROWS], model_dir, params_path, args.batches)
        finally:
            server.stop()
        results["batch"] = batch
        print(f"1,000-row batches: {batch['http_rows_per_s']:.0f} rows/s over HTTP vs "
              f"{batch['in_process_rows_per_s']:.0f} rows/s in-process predict_proba ({batch['ratio']:.0%})")

        ours = results["servers"]["this server"]
        uptime = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None
        results["load_average"] = uptime
        ratios = {"p99_ms": ours["p99_ms"],
                  "log_cost": 1 - ours["rps"] / results["servers"]["this server, no pred. log"]["rps"],
                  "vs_naive": ours["rps"] / results["servers"]["naive FastAPI"]["rps"],
                  "batch_vs_in_process": batch["ratio"]}
        if "MLServer sklearn" in results["servers"]:
            ratios["vs_mlserver"] = ours["rps"] / results["servers"]["MLServer sklearn"]["rps"]
        for name, other in results["servers"].items():
            if other.get("server_cpu_ms_per_request") and ours.get("server_cpu_ms_per_request"):
                ratios[f"cpu_per_request_{name}_vs_ours"] = (other["server_cpu_ms_per_request"]
                                                             / ours["server_cpu_ms_per_request"])
        results["ratios"] = ratios
        print("goals: vs naive {vs_naive:.1f}x (>= 10x), vs MLServer {mls} (>= 2x), p99 {p99_ms:.1f} ms (<= 25), "
              "batch {batch_vs_in_process:.0%} of in-process (>= 50%), prediction log costs {log_cost:.1%} "
              "(< 10%)".format(**ratios, mls=f"{ratios['vs_mlserver']:.1f}x" if "vs_mlserver" in ratios else "n/a"))
        print(f"load average during the run (1, 5, 15 min): {uptime}; other processes on the machine skew "
              "throughput and latency, the server CPU per request less so")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
