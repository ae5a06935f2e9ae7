"""Deployment errors: each message says which step refused the model and why, so the CLI prints one line."""

from ml.errors import MLOpsError


class DeployError(MLOpsError):
    """A deploy, rollback or switch could not be done; traffic stays on the slot named in the message."""


class DeployLocked(DeployError):
    """Another deploy holds the lock: two deploys at once could both pick the same idle slot."""
