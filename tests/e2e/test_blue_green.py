"""Blue/green for real: nginx + uvicorn slots on loopback, 10 consecutive deploys under continuous load.

Acceptance: zero failed requests (clients with and without keep-alive run side by side), and from 2 s after each
switch every answer carries the new X-Model-Version.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import assert_ok
from tests.deploy.bundles import golden
from tests.deploy.conftest import deploy_workspace, host_env  # noqa: F401 - fixtures
from tests.deploy.hostenv import assert_all_new_after, epoch
from tests.deploy.loadgen import LoadGenerator

pytestmark = pytest.mark.slow
DEPLOYS = 10


def test_ten_deploys_under_load_drop_nothing(host_env):  # noqa: F811
    assert_ok(host_env.deploy(host_env.bundle(1)))
    switches: list[tuple[float, str]] = []
    with LoadGenerator(host_env.listen_port, golden(host_env.base_bundle), keepalive_clients=2,
                       fresh_clients=2, pause=0.01, max_seconds=240) as load:
        load.wait_for_traffic()
        for version in range(2, DEPLOYS + 2):
            assert_ok(host_env.deploy(host_env.bundle(version)))
            event = host_env.last_event()
            assert event["result"] == "deployed" and event["version"] == f"v{version}", event
            switches.append((epoch(event["switch_started"]), f"v{version}"))
        time.sleep(0.5)
    ended = time.time()

    failures = load.failures()
    assert not failures, f"{len(failures)} failed requests, e.g. {failures[:3]}"
    assert load.count(keepalive=True) > 200 and load.count(keepalive=False) > 200
    for i, (switch_at, version) in enumerate(switches):
        until = switches[i + 1][0] if i + 1 < len(switches) else ended
        assert_all_new_after(load, switch_at, until, version)
        assert version in load.versions_between(switch_at, until), f"{version} never answered"
    status = host_env.cli("status", "--json")
    assert_ok(status)
    assert f'"live_version": "v{DEPLOYS + 1}"' in status.stdout
