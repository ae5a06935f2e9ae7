"""A stand-in for kubectl: logs its argv, keeps Services' selectors, Deployments' images/replicas and ConfigMaps in a
JSON file, and answers the few commands the kubernetes backend uses the way kubectl does (output text, exit codes).
Each call holds a lock on that file while it reads and changes it, as the API server serializes writes.

ConfigMaps behave as the API server keeps them: `get configmap N -o json` prints the object with its
resourceVersion (a counter shared by every write, as etcd's revision is), NotFound (exit 1) when there is none,
nothing with --ignore-not-found; `create -f -` refuses one that exists (AlreadyExists) or carries a
resourceVersion (BadRequest); `replace -f -` refuses a missing one (NotFound) and one whose resourceVersion is not
the current one (Conflict), and without a resourceVersion replaces unconditionally; both refuse non-string data and
more than 1 MiB of it. `-o json` prints the object written.

Each Deployment serves the model its image contains: an image's server answers with the version its tag ends with
(`model-server:v7`, `ghcr.io/o/r:model-v7` → v7; any other tag answers as the tag), as the release workflow tags
them. `port-forward service/S` pins one pod of the Deployment S's selector picks *when it starts* (later patches and
image changes do not move it, as with kubectl) and proxies to one real model server, rewriting X-Model-Version to
that pod's version; with no pod (scaled to zero) it fails as kubectl does. Like kubectl it writes a line per
connection to stdout, into a pipe shrunk to one page, so a caller that never reads it hangs after ~140 connections
rather than the ~2,200 a default 64 KiB pipe holds.

Environment: FAKE_KUBECTL_STATE (JSON file), FAKE_KUBECTL_LOG (JSON lines of argv), FAKE_KUBECTL_FORWARD_PORT (the
real model server's port), FAKE_KUBECTL_BROKEN_IMAGES (comma-separated images whose rollout never becomes ready),
FAKE_KUBECTL_READ_BARRIER (a directory: a `get configmap` answers only once two callers have read, so two deploys
read the same resourceVersion before either writes, the race optimistic concurrency must settle).
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import re
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "x-model-version"}
CONFIG_MAP_LIMIT = 1048576  # bytes of data the API server takes in one ConfigMap


def served_version(image: str) -> str:
    """The X-Model-Version the server in `image` answers with (the model is baked into the image)."""
    tag = image.rpartition(":")[2]
    match = re.search(r"v\d+$", tag)
    return match.group(0) if match else tag


def selected_deployment(state: dict[str, Any], service: str) -> dict[str, Any]:
    """The Deployment whose pods carry the slot label the Service's selector names (<name>-<slot>)."""
    slot = state["services"][service]
    return next(d for name, d in state["deployments"].items() if name.endswith(f"-{slot}"))


def proxy(upstream: int, version: str) -> type[BaseHTTPRequestHandler]:
    """A request handler that answers from the real server as a pod of `version` would."""

    class Pod(BaseHTTPRequestHandler):
        def handle(self) -> None:
            print(f"Handling connection for {self.server.server_address[1]}", flush=True)  # as kubectl does
            super().handle()

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            try:
                conn.request(self.command, self.path, body=body or None, headers=dict(self.headers))
                answer = conn.getresponse()
                data = answer.read()
            finally:
                conn.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("X-Model-Version", version)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = forward

        def log_message(self, *args: Any) -> None:
            pass

    return Pod


def port_forward(state: dict[str, Any], service: str) -> int:
    if service == os.environ.get("FAKE_KUBECTL_FAILING_FORWARD"):  # the API server unreachable, say
        print("error: unable to forward port because pod is not running", file=sys.stderr)
        return 1
    deployment = selected_deployment(state, service)
    if not deployment["replicas"]:
        print("error: timed out waiting for the condition", file=sys.stderr)
        return 1
    if stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode):
        fcntl.fcntl(sys.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    handler = proxy(int(os.environ["FAKE_KUBECTL_FORWARD_PORT"]), served_version(deployment["image"]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(f"Forwarding from 127.0.0.1:{server.server_address[1]} -> 8000", flush=True)
    server.serve_forever()
    return 0


@contextmanager
def locked(state_file: Path) -> Iterator[dict[str, Any]]:
    """The cluster's state, read and (if changed) written back under an exclusive lock."""
    with open(state_file.with_name(state_file.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(state_file.read_text())
        before = json.dumps(state)
        yield state
        if json.dumps(state) != before:
            tmp = state_file.with_name(state_file.name + ".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(state_file)


def wait_at_barrier(directory: str) -> None:
    """Answer a read only once two callers have read (each deploy registers as its parent process)."""
    Path(directory, str(os.getppid())).touch()
    deadline = time.monotonic() + 20
    while len(os.listdir(directory)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)


def config_map_json(obj: dict[str, Any]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", **obj}, indent=4)


def get_config_map(state: dict[str, Any], name: str, ignore_not_found: bool) -> tuple[int, str]:
    obj = state.get("configmaps", {}).get(name)
    if obj is None:
        if ignore_not_found:
            return 0, ""
        print(f'Error from server (NotFound): configmaps "{name}" not found', file=sys.stderr)
        return 1, ""
    return 0, config_map_json(obj)


def write_config_map(state: dict[str, Any], verb: str, manifest: dict[str, Any], namespace: str) -> int:
    """`kubectl create|replace -f -` of a ConfigMap, refused as the API server refuses it."""
    metadata, data = manifest.get("metadata") or {}, manifest.get("data") or {}
    name, version = metadata.get("name"), metadata.get("resourceVersion")
    doing = "creating" if verb == "create" else "replacing"
    if metadata.get("namespace", namespace) != namespace:
        print(f'error: the namespace from the provided object "{metadata["namespace"]}" does not match the namespace '
              f'"{namespace}". You must pass \'--namespace={metadata["namespace"]}\' to perform this operation.',
              file=sys.stderr)
        return 1
    if not all(isinstance(value, str) for value in data.values()):
        print(f'Error from server (BadRequest): error when {doing} "STDIN": ConfigMap in version "v1" cannot be '
              'handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type '
              'string',
              file=sys.stderr)
        return 1
    if sum(len(key) + len(value.encode()) for key, value in data.items()) > CONFIG_MAP_LIMIT:
        print(f'The ConfigMap "{name}" is invalid: []: Too long: must have at most {CONFIG_MAP_LIMIT} bytes',
              file=sys.stderr)
        return 1
    config_maps = state.setdefault("configmaps", {})
    current = config_maps.get(name)
    if verb == "create" and current is not None:
        print(f'Error from server (AlreadyExists): error when creating "STDIN": configmaps "{name}" already exists',
              file=sys.stderr)
        return 1
    if verb == "create" and version:
        print('Error from server (BadRequest): error when creating "STDIN": resourceVersion should not be set on '
              'objects to be created', file=sys.stderr)
        return 1
    if verb == "replace" and current is None:
        print(f'Error from server (NotFound): error when replacing "STDIN": configmaps "{name}" not found',
              file=sys.stderr)
        return 1
    if verb == "replace" and version and version != current["metadata"]["resourceVersion"]:
        print(f'Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on '
              f'configmaps "{name}": the object has been modified; please apply your changes to the latest version '
              'and try again', file=sys.stderr)
        return 1
    state["resourceVersion"] = state.get("resourceVersion", 1000) + 1
    kept = current["metadata"] if current else {
        "uid": str(uuid.uuid4()), "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    config_maps[name] = {"metadata": {**kept, "name": name, "namespace": namespace,
                                      "labels": metadata.get("labels") or {},
                                      "resourceVersion": str(state["resourceVersion"])},
                         "data": data}
    print(config_map_json(config_maps[name]))
    return 0


def main(argv: list[str]) -> int:
    state_file = Path(os.environ["FAKE_KUBECTL_STATE"])
    with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
        log.write(json.dumps(argv) + "\n")
    args = list(argv)
    namespace = "default"
    if "--namespace" in args:
        i = args.index("--namespace")
        namespace = args[i + 1]
        del args[i:i + 2]
    if args[0] == "port-forward":
        with locked(state_file) as state:  # pins the pod now; later changes do not move it
            pass
        return port_forward(state, args[1].split("/", 1)[1])
    if args[0] == "get" and args[1] == "configmap":
        with locked(state_file) as state:
            code, out = get_config_map(state, args[2], "--ignore-not-found" in args)
        if os.environ.get("FAKE_KUBECTL_READ_BARRIER"):
            wait_at_barrier(os.environ["FAKE_KUBECTL_READ_BARRIER"])
        print(out, end="")
        return code
    with locked(state_file) as state:
        return answer(state, args, namespace)


def answer(state: dict[str, Any], args: list[str], namespace: str) -> int:
    broken = set(filter(None, os.environ.get("FAKE_KUBECTL_BROKEN_IMAGES", "").split(",")))
    services, deployments = state["services"], state["deployments"]
    verb = args[0]

    if verb == "get" and "name" in args and args[-2] == "-o":
        names = args[1:-2]
        for name in names:
            kind, _, obj = name.partition("/")
            if obj not in (services if kind == "service" else deployments):
                print(f'Error from server (NotFound): {kind}s "{obj}" not found', file=sys.stderr)
                return 1
        print("\n".join(names))
        return 0
    if verb == "get" and args[1] == "service":
        print(services[args[2]], end="")
        return 0
    if verb == "get" and args[1] == "deployment":
        deployment = deployments[args[2]]
        ready = deployment["replicas"] if deployment["image"] not in broken else 0
        print(ready or "", end="")
        return 0
    if verb in ("create", "replace") and args[1:] == ["-f", "-", "-o", "json"]:
        manifest = json.loads(sys.stdin.read())
        if manifest.get("kind") == "ConfigMap":
            return write_config_map(state, verb, manifest, namespace)
    if verb == "set" and args[1] == "image":
        deployments[args[2].split("/", 1)[1]]["image"] = args[3].split("=", 1)[1]
    elif verb == "scale":
        deployments[args[1].split("/", 1)[1]]["replicas"] = int(args[2].split("=", 1)[1])
    elif verb == "patch" and args[1] == "service":
        services[args[2]] = json.loads(args[args.index("-p") + 1])["spec"]["selector"]["slot"]
    elif verb == "rollout" and args[1] == "status":
        name = args[2].split("/", 1)[1]
        if deployments[name]["image"] in broken:
            print(f'error: deployment "{name}" exceeded its progress deadline', file=sys.stderr)
            return 1
        print(f'deployment "{name}" successfully rolled out')
        return 0
    else:
        print(f"fake kubectl: unsupported {args}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
