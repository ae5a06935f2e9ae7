"""A stand-in for kubectl: logs its argv, keeps Services' selectors and Deployments' images/replicas in a JSON file,
and answers the few commands the kubernetes backend uses the way kubectl does (output text, exit codes).

Environment: FAKE_KUBECTL_STATE (JSON file), FAKE_KUBECTL_LOG (JSON lines of argv), FAKE_KUBECTL_FORWARD_PORT (the
local port `port-forward` reports: a real model server), FAKE_KUBECTL_BROKEN_IMAGES (comma-separated images whose
rollout never becomes ready).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


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
    elif verb == "port-forward":
        print(f"Forwarding from 127.0.0.1:{os.environ['FAKE_KUBECTL_FORWARD_PORT']} -> 8000", flush=True)
        time.sleep(3600)
        return 0
    else:
        print(f"fake kubectl: unsupported {argv}", file=sys.stderr)
        return 2
    state_file.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
