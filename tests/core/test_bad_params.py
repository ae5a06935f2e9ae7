"""Bad params.yaml values: one line naming the key, a non-zero exit, and no stale output left behind.

The whole table runs in-process (parse + build the pipeline, what every script does first); a representative
subset runs through the real train.py and evaluate.py to prove the CLI turns each into one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from ml.errors import ParamsError
from ml.model import build_pipeline
from ml.params import load_params, parse_params
from tests.conftest import REPO, Workspace, assert_one_line_error, base_params, run_scripts


@dataclass(frozen=True)
class BadParams:
    name: str
    change: Callable[[dict[str, Any]], Any]
    says: tuple[str, ...]  # what the one line must contain: the key, and the offending value where useful
    cli: bool = False  # also run through the real scripts


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(raw: dict[str, Any]) -> None:
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _model(dotted: str) -> Callable[[dict[str, Any]], None]:
    """Another estimator class, with its default hyperparameters."""
    def change(raw: dict[str, Any]) -> None:
        raw["model"] = {"class": dotted, "params": {}}

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(raw: dict[str, Any]) -> None:
        node = raw
        for key in parents:
            node = node[key]
        del node[last]

    return change


CASES = [
    BadParams("unknown task", _set("task", "clustering"), ("'task'", "clustering"), cli=True),
    BadParams("no target", _delete("target"), ("'target'",)),
    BadParams("target is a feature", _set("target", "contract"), ("target 'contract'",)),
    BadParams("no features", _set("features", {}), ("'features'",)),
    BadParams("target excluded", _set("data.exclude", ["churned"]),
              ("'data.exclude' lists 'churned', which is the target",)),
    BadParams("feature excluded", _set("data.exclude", ["customer_id", "region"]),
              ("'data.exclude' lists 'region', which is a feature",), cli=True),
    BadParams("exclude not a list", _set("data.exclude", "customer_id"), ("'data.exclude' must be list",)),
    BadParams("unknown feature type", _set("features.tenure_months.type", "integer"),
              ("'features.tenure_months.type'", "integer")),
    BadParams("feature spec not a mapping", _set("features.region", "category"), ("'features.region'",)),
    BadParams("unknown feature key", _set("features.region.colour", "red"), ("'features.region.colour'",)),
    BadParams("min above max", _set("features.monthly_charges.min", 500), ("'features.monthly_charges.min'",)),
    BadParams("min on a category", _set("features.contract.min", 0), ("'features.contract.min/max'",)),
    # YAML's .nan: every comparison with it is false, so the data schema would ignore the bound and the request
    # schema would refuse every value (and state maximum: NaN, which is not JSON).
    BadParams("a NaN bound", _set("features.monthly_charges.max", float("nan")),
              ("'features.monthly_charges.max'", ".nan")),
    BadParams("category without values", _set("features.contract.values", []), ("'features.contract.values'",)),
    BadParams("duplicate categories", _set("features.region.values", ["north", "north"]),
              ("'features.region.values'",)),
    BadParams("nullable not a bool", _set("features.region.nullable", "sometimes"), ("'features.region.nullable'",)),
    BadParams("model class not importable", _set("model.class", "sklearn.ensemble.NoSuchForest"),
              ("'model.class'", "NoSuchForest")),
    BadParams("model class not dotted", _set("model.class", "RandomForest"), ("'model.class'",)),
    BadParams("model class not an estimator", _set("model.class", "os.path.join"), ("'model.class'",)),
    BadParams("regressor for classification", _set("model.class", "sklearn.linear_model.Ridge"),
              ("'model.class'", "not a classifier")),
    BadParams("classifier without probabilities", _model("sklearn.svm.SVC"), ("'model.class'", "predict_proba")),
    BadParams("classifier that never has probabilities", _model("sklearn.linear_model.RidgeClassifier"),
              ("'model.class'", "RidgeClassifier", "predict_proba")),
    BadParams("unknown hyperparameter", _set("model.params.max_depthh", 3), ("'model.params.max_depthh'",),
              cli=True),
    BadParams("bad hyperparameter value", _set("model.params.learning_rate", -1),
              ("'model.params'", "learning_rate"), cli=True),
    BadParams("test_size out of range", _set("split.test_size", 0.9), ("'split.test_size'", "0.9")),
    BadParams("test_size not a number", _set("split.test_size", "20%"), ("'split.test_size'",)),
    BadParams("negative seed", _set("split.seed", -1), ("'split.seed'",)),
    BadParams("primary metric of the other task", _set("metrics.primary.name", "rmse"),
              ("'metrics.primary.name'", "rmse")),
    BadParams("wrong direction", _set("metrics.primary.direction", "minimize"), ("'metrics.primary.direction'",)),
    BadParams("unknown guardrail", _set("metrics.guardrails.speed", 0.1),
              ("'metrics.guardrails.speed' is not a metric",)),
    BadParams("negative guardrail", _set("metrics.guardrails.recall", -0.1), ("'metrics.guardrails.recall'", "-0.1")),
    BadParams("guardrail not a number", _set("metrics.guardrails.recall", "small"),
              ("'metrics.guardrails.recall'", "small", '"10%"')),
    BadParams("negative guardrail percentage", _set("metrics.guardrails.log_loss", "-5%"),
              ("'metrics.guardrails.log_loss'", "-5%"), cli=True),
    BadParams("guardrail percentage with a space", _set("metrics.guardrails.log_loss", "10 %"),
              ("'metrics.guardrails.log_loss'", "10 %")),
    BadParams("guardrail percentage without a number", _set("metrics.guardrails.log_loss", "abc%"),
              ("'metrics.guardrails.log_loss'", "abc%")),
    BadParams("guardrail number as a string", _set("metrics.guardrails.log_loss", "0.02"),
              ("'metrics.guardrails.log_loss'", "'0.02'")),
    BadParams("guardrail yes", _set("metrics.guardrails.recall", True), ("'metrics.guardrails.recall'", "True")),
    BadParams("guardrail empty", _set("metrics.guardrails.recall", None), ("'metrics.guardrails.recall'", "None")),
    BadParams("guardrail nan", _set("metrics.guardrails.recall", float("nan")), ("'metrics.guardrails.recall'",)),
    BadParams("confidence above 1", _set("gate.confidence", 1.5), ("'gate.confidence'",)),
    BadParams("confidence of 1", _set("gate.confidence", 1.0), ("'gate.confidence'", "1.0")),  # an infinite CI
    BadParams("too few resamples", _set("gate.bootstrap_resamples", 10), ("'gate.bootstrap_resamples'",)),
    BadParams("resamples not a number", _set("gate.bootstrap_resamples", "many"), ("'gate.bootstrap_resamples'",)),
    BadParams("significance not a bool", _set("gate.require_significance", "yes please"),
              ("'gate.require_significance'",)),
    BadParams("unknown registry backend", _set("registry.backend", "s3"), ("'registry.backend'", "s3")),
    BadParams("data section missing", _delete("data"), ("'data'",)),
    # A misspelt key must not be ignored: that would leave its setting at the default without a word.
    BadParams("unknown top-level key", _set("gaet", {"min_improvement": 0.01}),
              ("unknown key 'gaet'", "registry", "their own params file"), cli=True),
    BadParams("unknown data key", _set("data.sample_row", 100), ("'data.sample_row'", "sample_rows")),
    BadParams("unknown model key", _set("model.parms", {"max_iter": 10}), ("'model.parms'", "params")),
    BadParams("unknown split key", _set("split.sed", 7), ("'split.sed'", "seed")),
    BadParams("unknown metrics key", _set("metrics.guardrail", {"recall": 0.01}), ("'metrics.guardrail'",)),
    BadParams("unknown primary metric key", _set("metrics.primary.directon", "maximize"),
              ("'metrics.primary.directon'", "direction")),
    BadParams("misspelt gate key", _set("gate.require_signficance", True),
              ("'gate.require_signficance'", "require_significance"), cli=True),
    BadParams("unknown registry key", _set("registry.pth", "models"), ("'registry.pth'", "path")),
    BadParams("registry path not a string", _set("registry.path", 5), ("'registry.path'", "5")),
    BadParams("sample_rows not positive", _set("data.sample_rows", -5), ("'data.sample_rows'", "-5")),
    BadParams("meta-estimator", _model("sklearn.ensemble.VotingClassifier"),
              ("'model.class'", "VotingClassifier", "estimators")),
    # What YAML makes of unquoted yes/no and null: the spelling cannot be recovered, so it must be quoted.
    BadParams("unquoted yes/no categories", _set("features.region.values", [True, False]),
              ("'features.region.values'", "true", "quote it")),
    BadParams("null category", _set("features.region.values", ["north", None]),
              ("'features.region.values'", "null", "quote it")),
    BadParams("nested category", _set("features.region.values", ["north", ["south", "east"]]),
              ("'features.region.values'", "not a single name or value")),
    BadParams("unquoted yes as the target", _set("target", True), ("'target'", "quote it")),
    BadParams("unquoted yes as a feature name", _set("features", {True: {"type": "int"}}), ("'features'", "quote it")),
]


def _bad(case: BadParams) -> dict[str, Any]:
    raw = base_params()
    case.change(raw)
    return raw


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_params_value_is_one_error_naming_the_key(case: BadParams, tmp_path) -> None:
    with pytest.raises(ParamsError) as caught:
        build_pipeline(parse_params(_bad(case), tmp_path))  # what train.py does before it fits
    message = str(caught.value)
    assert "\n" not in message
    for needle in case.says:
        assert needle in message


def test_the_repository_params_yaml_is_valid(tmp_path) -> None:
    """The table above starts from the real params.yaml; it must itself be accepted."""
    build_pipeline(parse_params(base_params(), tmp_path))


def test_a_null_registry_path_is_the_default(tmp_path) -> None:
    """null means the default everywhere in params.yaml; the registry path must not reach open_registry as None."""
    from ml.registry import open_registry

    raw = base_params()
    raw["registry"]["path"] = None
    assert open_registry(parse_params(raw, tmp_path)).root == tmp_path / "registry"


def _repository_params_with_region(region: str) -> str:
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.strip().startswith("region:"))
    return text.replace(line, f"  region: {region}")


def test_unquoted_yes_no_categories_ask_for_quotes(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(_repository_params_with_region("{type: category, values: [yes, no]}"))
    with pytest.raises(ParamsError, match=r"^params.yaml: 'features.region.values' has true, .*quote it"):
        load_params(path)


def test_quoted_yes_no_are_categories_and_unquoted_yes_is_still_a_boolean_setting(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(_repository_params_with_region('{type: category, values: ["yes", "no"], nullable: yes}'))
    region = load_params(path).feature("region")
    assert region.values == ("yes", "no") and region.nullable is True


@pytest.mark.parametrize("text, says", [
    ("task: [classification\n", "not valid YAML at line"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("", "top level must be a mapping"),
])
def test_unparseable_params_file(tmp_path, text: str, says: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match=says):
        load_params(path)


def test_a_params_file_in_another_encoding_is_one_line(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_bytes("# café, saved as Latin-1\ntask: classification\n".encode("latin-1"))
    with pytest.raises(ParamsError, match=r"params.yaml: not UTF-8 text \(byte 0xe9 at offset 5\); save it as UTF-8"):
        load_params(path)


def test_numbers_in_exponent_form_are_numbers_as_dvc_reads_them(tmp_path) -> None:
    """`1e-3` is a number to YAML 1.2 (and `dvc params diff`), text to PyYAML's YAML 1.1: params.yaml means the
    number, and a quoted "1e5" category value stays text."""
    raw = base_params()
    raw["gate"]["min_improvement"] = "@min"
    raw["features"]["monthly_charges"]["max"] = "@max"
    raw["features"]["contract"]["values"] = ["@code", "month-to-month"]
    text = yaml.safe_dump(raw).replace("'@min'", "1e-3").replace("'@max'", "1E+3").replace("'@code'", "'1e5'")
    (tmp_path / "params.yaml").write_text(text)
    params = load_params(tmp_path / "params.yaml")
    assert params.gate.min_improvement == 0.001
    assert params.feature("monthly_charges").max == 1000.0
    assert params.feature("contract").values[0] == "1e5"


CLI_CASES = [case for case in CASES if case.cli]


def test_bad_params_through_train(workspace: Workspace) -> None:
    """train.py: one line naming the file and the key, and the previous run's model directory is gone."""
    ws = workspace
    files = {f"params-{i}.yaml": json.dumps(_bad(case)) for i, case in enumerate(CLI_CASES)}  # JSON is YAML
    files["broken.yaml"] = "features:\n  a: {type: int\n"
    expected = [(f"params-{i}.yaml: ", *case.says) for i, case in enumerate(CLI_CASES)]  # the file it was given
    expected += [("broken.yaml", "not valid YAML at line"), ("nope.yaml", "not found")]
    calls = []
    for i, name in enumerate([*files, "nope.yaml"]):
        if name in files:
            (ws.root / name).write_text(files[name])
        (ws.root / f"model-{i}").mkdir()
        (ws.root / f"model-{i}" / "model.joblib").write_bytes(b"an older model")
        calls.append(("train.py", ["--params", name, "--model-dir", f"model-{i}"], ws.root))
    for i, (run, says) in enumerate(zip(run_scripts(calls), expected, strict=True)):
        assert_one_line_error(run, *says)
        assert not (ws.root / f"model-{i}").exists(), f"{run.args}: train.py left the older model behind"


def test_bad_params_leave_no_stale_reports(workspace: Workspace) -> None:
    """validate_data.py, evaluate.py, compare.py and run_pipeline.py delete their previous outputs before reading
    params.yaml."""
    ws = workspace
    ws.edit_params(_set("metrics.primary.name", "rmse"))
    ws.reports.mkdir()
    stale = [ws.reports / name for name in ("validation.json", "validation.md", "metrics.json", "comparison.json")]

    def make_stale() -> None:
        for path in stale:
            path.write_text('{"ok": true, "decision": "promote"}')

    make_stale()
    for run in run_scripts([(script, [], ws.root) for script in ("validate_data.py", "evaluate.py", "compare.py")]):
        assert_one_line_error(run, "'metrics.primary.name'")
    assert [path.name for path in stale if path.exists()] == []
    make_stale()
    stale += [ws.reports / "pr_comment.md", ws.reports / "job_summary.md"]
    for path in stale[-2:]:
        path.write_text("Promote")
    (ws.root / "artifacts" / "model").mkdir(parents=True)
    assert_one_line_error(ws.run("run_pipeline.py"), "'metrics.primary.name'")
    assert [path.name for path in stale if path.exists()] == [] and not (ws.root / "artifacts" / "model").exists()


@pytest.mark.parametrize(("section", "says"), [
    ({"foo": 1}, "'serving.foo'"),
    ({"max_batch": "lots"}, "max_batch"),
    ({"max_body_bytes": 10_000_000}, "max_body_bytes' must be an integer between 1024 and 8388608, got 10000000"),
])
def test_the_first_step_checks_the_serving_section(workspace: Workspace, section: dict, says: str) -> None:
    """Else a typo there passes the PR and the release, and fails the deploy of the merged model."""
    workspace.edit_params(_set("serving", section))
    assert_one_line_error(workspace.run("validate_data.py"), says)
    assert not (workspace.reports / "validation.json").exists()


def test_the_first_steps_check_the_drift_section_before_reading_data_or_fitting(workspace: Workspace) -> None:
    """A mistake in drift: fails validate_data.py, the PR workflow's first step, and train.py (run on its own,
    e.g. by the retrain job), before either reads the data: here the data is gone too, and the one line is about
    params.yaml, not the data (a fork that renamed its columns learns it in seconds)."""
    ws = workspace
    ws.edit_params(_set("drift", {"critical_columns": ["no_such_column"]}))
    ws.data.unlink()
    for run in run_scripts([(script, [], ws.root) for script in ("validate_data.py", "train.py")]):
        assert_one_line_error(run, "'drift.critical_columns'", "no_such_column")
    assert not (ws.reports / "validation.json").exists()
