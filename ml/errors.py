"""User-facing errors: each carries one line that says what is wrong, so CLIs never show a traceback."""


class MLOpsError(Exception):
    """Base class for every error a user can cause or fix (bad data, bad params, tampered model...)."""


class ParamsError(MLOpsError):
    """params.yaml is missing, unreadable or holds an invalid value."""


class DataError(MLOpsError):
    """The data file is missing, empty, garbled or does not fit the schema."""


class IntegrityError(MLOpsError):
    """An artifact's sha256 does not match its metadata: it was corrupted or tampered with."""


class StaleModelError(MLOpsError):
    """The model bundle was fitted on other data or with other model settings than today's: retrain, don't score."""


class RegistryError(MLOpsError):
    """The model registry cannot do what was asked (no such version, refused promotion...)."""
