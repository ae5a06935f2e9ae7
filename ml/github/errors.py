"""The one error type of the GitHub layer: a user-fixable failure described in one line, token never included."""

from __future__ import annotations

from ml.errors import MLOpsError


class GitHubError(MLOpsError):
    """GitHub refused or kept failing a call; `status` is the last HTTP status (None: no answer at all)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of the token, so no message can leak it whatever it quotes."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text
