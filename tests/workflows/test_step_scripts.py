"""The small scripts the workflows call that the lifecycle run does not reach on every path."""

from __future__ import annotations

import http.server
import importlib.util
import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml.actions import notice, write_outputs
from ml.errors import DataError
from ml.promote import superseded
from ml.registry import ModelVersion
from ml.remote_data import download

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server for tmp_path/www, recording the Authorization headers it saw."""
    www = tmp_path / "www"
    www.mkdir()
    seen: list[str | None] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www, seen
    httpd.shutdown()
    httpd.server_close()


def test_download_writes_the_file_and_sends_the_token(server, tmp_path):
    url, www, seen = server
    (www / "log.jsonl").write_text('{"a": 1}\n')
    dest = tmp_path / "out" / "current.jsonl"
    assert download(f"{url}/log.jsonl", dest, token="s3cret") == 9
    assert dest.read_text() == '{"a": 1}\n'
    assert seen == ["Bearer s3cret"]


@pytest.mark.parametrize("name, content, error", [
    ("missing.csv", None, "HTTP 404"),
    ("empty.csv", b"", "empty response"),
    ("big.csv", b"x" * 101, "larger than 100 bytes"),
])
def test_download_failures_leave_no_file(server, tmp_path, name, content, error):
    url, www, _ = server
    if content is not None:
        (www / name).write_bytes(content)
    dest = tmp_path / "current.csv"
    with pytest.raises(DataError, match=error):
        download(f"{url}/{name}?sig=SECRET", dest, max_bytes=100)
    assert not dest.exists() and list(tmp_path.glob(".current.csv.*")) == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/data.csv?sig=SECRET",          # the query may hold a signature
    "http://user:SECRET@127.0.0.1:9/data.csv",         # credentials in the URL
    "ftp://user:SECRET@host/x.csv?X-Amz-Signature=SECRET",  # refused, and not echoed whole
])
def test_download_errors_never_show_credentials_or_query_strings(tmp_path, url):
    with pytest.raises(DataError) as info:
        download(url, tmp_path / "x")
    message = str(info.value)
    assert "SECRET" not in message and "user" not in message
    assert "127.0.0.1:9/data.csv" in message or "ftp://host/x.csv" in message  # still names where it looked


def test_download_refuses_other_schemes(tmp_path):
    with pytest.raises(DataError, match="not an http"):
        download("file:///etc/passwd", tmp_path / "x")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"_step_script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_fetch_production_data_cli_reports_a_bad_url_in_one_line(tmp_path):
    result = CliRunner().invoke(_script("fetch_production_data"), ["--url", "ftp://x/y", "--out",
                                                                   str(tmp_path / "c.jsonl")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: 'ftp://x/y': not an http(s) URL"]


@pytest.mark.parametrize("served, saved", [
    ("export/batch.csv", "current.csv"),          # a table export keeps its ending: the reader goes by it
    ("export/batch.parquet", "current.parquet"),
    ("logs/today.jsonl", "current.jsonl"),
    ("api/recent", "current.jsonl"),              # no ending: a prediction log, as --out says
])
def test_production_data_keeps_the_urls_format_and_detect_drift_reads_it(server, tmp_path, served, saved):
    import pandas as pd

    url, www, _ = server
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    target = www / served
    target.parent.mkdir(parents=True)
    if served.endswith(".parquet"):
        frame.to_parquet(target)
    elif served.endswith(".csv"):
        frame.to_csv(target, index=False)
    else:
        target.write_text("".join(json.dumps({"features": row}) + "\n" for row in frame.to_dict("records")))
    outputs = tmp_path / "github_output"
    result = CliRunner().invoke(_script("fetch_production_data"), ["--url", f"{url}/{served}?sig=abc",
                                                                   "--out", str(tmp_path / "current.jsonl")],
                                env={"GITHUB_OUTPUT": str(outputs)})
    assert result.exit_code == 0, result.output
    assert outputs.read_text() == f"path={tmp_path / saved}\n"
    assert sorted(p.name for p in tmp_path.glob("current*")) == [saved]

    from ml.drift.readers import iter_batches
    from ml.params import parse_feature

    features = (parse_feature("x", {"type": "float"}), parse_feature("c", {"type": "category", "values": ["a", "b"]}))
    (batch,) = iter_batches(tmp_path / saved, features, "classification")
    assert batch.rows == 3 and batch.columns["x"].tolist() == [1.0, 2.0, 3.0]


def test_outputs_use_a_heredoc_for_multiline_values(tmp_path):
    out = tmp_path / "output"
    write_outputs({"promote": True, "body": "line 1\nline 2", "empty": None}, env={"GITHUB_OUTPUT": str(out)})
    text = out.read_text()
    assert text.startswith("promote=true\nbody<<EOF_")
    delimiter = text.splitlines()[1].split("<<", 1)[1]
    assert text.splitlines()[2:5] == ["line 1", "line 2", delimiter]
    assert text.endswith("empty=\n")


def test_a_notice_stays_one_annotation_whatever_its_message(capsys):
    notice("Deploy skipped", "100% sure\nsecond line\r")
    assert capsys.readouterr().out == "::notice title=Deploy skipped::100%25 sure%0Asecond line%0D\n"


@pytest.mark.parametrize("number, champion, reason", [
    (2, 2, None),
    (1, 2, "v1 is no longer the champion (v2 is): not deploying an older model; "
           "use deploy.py rollback to go back deliberately"),
    (3, 2, "v3 is no longer the champion (the registry was rolled back to v2): not deploying it"),
])
def test_only_the_champion_is_deployable(number, champion, reason):
    assert superseded(number, ModelVersion(champion)) == reason


def _set_outputs(tmp_path, *args):
    out = tmp_path / "output"
    out.write_text("")
    result = CliRunner().invoke(_script("set_outputs"), list(args), env={"GITHUB_OUTPUT": str(out)})
    return result, dict(line.split("=", 1) for line in out.read_text().splitlines() if line)


@pytest.mark.parametrize("decision, promote", [("promote", "true"), ("reject", "false")])
def test_set_outputs_gate(tmp_path, decision, promote):
    comparison = tmp_path / "comparison.json"
    comparison.write_text(json.dumps({"decision": decision, "reasons": []}))
    result, outputs = _set_outputs(tmp_path, "gate", "--comparison", str(comparison))
    assert result.exit_code == 0, result.output
    assert outputs == {"decision": decision, "promote": promote}


def test_set_outputs_drift_and_image(tmp_path):
    report = tmp_path / "drift.json"
    report.write_text(json.dumps({"dataset_drift": True}))
    result, outputs = _set_outputs(tmp_path, "drift", "--report", str(report))
    assert result.exit_code == 0 and outputs == {"drifted": "true"}
    result, outputs = _set_outputs(tmp_path, "image", "--repository", "Octo-Org/Churn-Model")
    assert outputs == {"image": "ghcr.io/octo-org/churn-model"}


def test_set_outputs_names_a_missing_file(tmp_path):
    result, outputs = _set_outputs(tmp_path, "gate", "--comparison", str(tmp_path / "nope.json"))
    assert result.exit_code == 1 and outputs == {}
    assert "nope.json: not found" in result.output
