"""A stand-in for kubectl: logs its argv, keeps Services' selectors and Deployments' images/replicas in a JSON file,
and answers the few commands the kubernetes backend uses the way kubectl does (output text, exit codes).

Each Deployment serves the model its image contains: an image's server answers with the version its tag ends with
(`model-server:v7`, `ghcr.io/o/r:model-v7` → v7; any other tag answers as the tag), as the release workflow tags
them. `port-forward service/S` pins one pod of the Deployment S's selector picks *when it starts* (later patches and
image changes do not move it, as with kubectl) and proxies to one real model server, rewriting X-Model-Version to
that pod's version; with no pod (scaled to zero) it fails as kubectl does. Like kubectl it writes a line per
connection to stdout, into a pipe shrunk to one page, so a caller that never reads it hangs after ~140 connections
rather than the ~2,200 a default 64 KiB pipe holds.

Environment: FAKE_KUBECTL_STATE (JSON file), FAKE_KUBECTL_LOG (JSON lines of argv), FAKE_KUBECTL_FORWARD_PORT (the
real model server's port), FAKE_KUBECTL_BROKEN_IMAGES (comma-separated images whose rollout never becomes ready).
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import re
import stat
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "x-model-version"}


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


def main(argv: list[str]) -> int:
    state_file = Path(os.environ["FAKE_KUBECTL_STATE"])
    with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
        log.write(json.dumps(argv) + "\n")
    state = json.loads(state_file.read_text())
    args = list(argv)
    if "--namespace" in args:
        i = args.index("--namespace")
        del args[i:i + 2]
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
    if verb == "port-forward":
        return port_forward(state, args[1].split("/", 1)[1])
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
        print(f"fake kubectl: unsupported {argv}", file=sys.stderr)
        return 2
    state_file.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
