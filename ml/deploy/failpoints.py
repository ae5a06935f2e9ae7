"""Crash on purpose at a named step (ML_DEPLOY_FAILPOINT=<step>): how the tests prove a deploy killed halfway
leaves traffic on a working slot. SIGKILL, not an exception, so no cleanup code gets a chance to run."""

from __future__ import annotations

import os
import signal

ENV = "ML_DEPLOY_FAILPOINT"


def failpoint(step: str) -> None:
    if os.environ.get(ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
