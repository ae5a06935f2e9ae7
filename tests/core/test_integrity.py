"""Tampered and corrupt model artifacts are refused before joblib ever loads them; nothing gets registered."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ml.bundle import ARTIFACT, load_bundle, read_metadata, verify_artifact, write_metadata
from ml.errors import IntegrityError
from ml.fileio import sha256_file
from ml.registry.local import LocalRegistry
from tests.conftest import Workspace, assert_ok, assert_one_line_error, run_scripts


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_compare_refuses_a_tampered_champion(with_champion: Workspace) -> None:
    ws = with_champion
    comparison = ws.reports / "comparison.json"
    assert comparison.exists()  # from the promotion of v1: it must not survive the refused run
    flip_a_byte(ws.registry / "v1" / ARTIFACT)

    run = ws.run("compare.py")

    assert_one_line_error(run, "v1", ARTIFACT, "sha256", "does not match")
    assert not comparison.exists()
    assert not list(ws.root.rglob("champion-*")), "the fetched champion copy was left behind"


def test_compare_refuses_a_champion_whose_metadata_was_edited(with_champion: Workspace) -> None:
    ws = with_champion
    metadata = json.loads((ws.registry / "v1" / "metadata.json").read_text())
    metadata["artifact_sha256"] = "0" * 64
    (ws.registry / "v1" / "metadata.json").write_text(json.dumps(metadata))

    assert_one_line_error(ws.run("compare.py"), "sha256", "does not match")
    assert not (ws.reports / "comparison.json").exists()


def test_tampered_challenger_is_refused_by_evaluate_compare_and_promote(with_model: Workspace) -> None:
    ws = with_model
    assert_ok(ws.run("compare.py"))  # no champion: the gate says promote, for the untampered model
    assert json.loads((ws.reports / "comparison.json").read_text())["decision"] == "promote"
    flip_a_byte(ws.model / ARTIFACT)

    promote, evaluate = run_scripts([("promote.py", [], ws.root), ("evaluate.py", [], ws.root)])

    assert_one_line_error(promote, "sha256", "does not match")
    assert_one_line_error(evaluate, "sha256", "does not match")
    assert not (ws.reports / "metrics.json").exists()
    registry = LocalRegistry(ws.registry)
    assert registry.versions() == [] and registry.champion() is None
    assert not (ws.registry.exists() and any(ws.registry.iterdir())), "promote.py left files in the registry"

    assert_one_line_error(ws.run("compare.py"), "sha256", "does not match")
    assert not (ws.reports / "comparison.json").exists()


def test_missing_artifact_or_hash_is_refused(tmp_path: Path, trained_model: Path) -> None:
    import shutil

    bundle = shutil.copytree(trained_model, tmp_path / "model")
    metadata = verify_artifact(bundle)
    write_metadata(bundle, {k: v for k, v in metadata.items() if k != "artifact_sha256"})
    with pytest.raises(IntegrityError, match="no artifact_sha256"):
        load_bundle(bundle)
    write_metadata(bundle, metadata)
    (bundle / ARTIFACT).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        load_bundle(bundle)



def test_the_bytes_loaded_are_the_bytes_verified_even_if_the_file_is_replaced_between(
        tmp_path: Path, trained_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone swaps the artifact right after its hash was checked: the load still reads the verified file."""
    import joblib

    import ml.bundle

    bundle = tmp_path / "model"
    shutil.copytree(trained_model, bundle)
    verify = ml.bundle.verify_artifact

    def verify_then_swap(*args, **kwargs):
        metadata = verify(*args, **kwargs)
        replacement = tmp_path / "other.joblib"
        joblib.dump({"not": "the model"}, replacement)
        os.replace(replacement, bundle / ARTIFACT)
        return metadata

    monkeypatch.setattr(ml.bundle, "verify_artifact", verify_then_swap)
    model, _ = load_bundle(bundle)
    assert hasattr(model, "predict_proba")


def test_corrupt_artifact_with_a_matching_hash_is_one_error_not_a_crash(tmp_path: Path, trained_model: Path) -> None:
    """A file that passes the hash check but is not a loadable model (say, saved by another library version)."""
    import shutil

    bundle = shutil.copytree(trained_model, tmp_path / "model")
    artifact = bundle / ARTIFACT
    artifact.write_bytes(artifact.read_bytes()[: artifact.stat().st_size // 2])  # truncated
    metadata = json.loads((bundle / "metadata.json").read_text())
    write_metadata(bundle, {**metadata, "artifact_sha256": sha256_file(artifact)})
    with pytest.raises(IntegrityError, match="cannot be loaded"):
        load_bundle(bundle)


@pytest.mark.parametrize("tamper, says", [
    (lambda meta: {**meta, "features": None}, "'features' must be a list"),
    (lambda meta: [1, 2], "expected a JSON object, got a list"),
    (lambda meta: {**meta, "features": [{"type": "int"}]}, "every entry of 'features' needs a string 'name'"),
    (lambda meta: {k: v for k, v in meta.items() if k != "task"}, "'task' is missing"),
    (lambda meta: {**meta, "classes": None}, "a classifier's 'classes' must be a list of labels"),
    (lambda meta: {**meta, "classes": [[0], [1]]}, "a classifier's 'classes' must be a list of labels"),
    (lambda meta: {**meta, "params": "x"}, "'params' must be an object"),
])
def test_metadata_of_the_wrong_shape_is_refused_naming_the_file(tmp_path: Path, trained_model: Path, tamper,
                                                                says: str) -> None:
    """Valid JSON, but not what the pipeline reads from it: an IntegrityError, not a TypeError three calls later."""
    import shutil

    bundle = shutil.copytree(trained_model, tmp_path / "model")
    metadata = read_metadata(bundle)
    (bundle / "metadata.json").write_text(json.dumps(tamper(metadata)))
    with pytest.raises(IntegrityError) as error:
        read_metadata(bundle)
    assert str(error.value).startswith(f"{bundle / 'metadata.json'}: {says}")


def test_compare_refuses_a_champion_whose_metadata_has_the_wrong_shape(with_champion: Workspace) -> None:
    ws = with_champion
    path = ws.registry / "v1" / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "features": None}))

    assert_one_line_error(ws.run("compare.py"), str(path), "'features' must be a list")
    assert not (ws.reports / "comparison.json").exists()


def test_the_serving_benchmark_refuses_a_tampered_model_too(tmp_path: Path, trained_model: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/model_server.py --model-dir DIR loads any bundle it is pointed at: the same check as the server."""
    import importlib.util
    import shutil

    bundle = shutil.copytree(trained_model, tmp_path / "model")
    flip_a_byte(bundle / ARTIFACT)
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "model_server.py"
    spec = importlib.util.spec_from_file_location("bench_model_server", path)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    params = trained_model.parent.parent / "params.yaml"
    monkeypatch.setenv("PARAMS", str(params))
    monkeypatch.setenv("MODEL_DIR", str(bundle))
    with pytest.raises(IntegrityError, match="does not match"):
        benchmark.naive_app()
    with pytest.raises(IntegrityError, match="does not match"):
        benchmark.batch_throughput(0, [], bundle, params, 1)
