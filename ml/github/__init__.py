"""GitHub integration: a retrying REST client and the operations the workflows need.

client (requests + urllib3 Retry), comments (sticky PR comment), issues (drift issue), dispatch
(workflow_dispatch), pulls (PR from a head SHA), releases (the Releases calls behind ml.registry.github).
"""

from ml.github.client import GitHubClient
from ml.github.errors import GitHubError
from ml.github.settings import GitHubSettings, RetryPolicy

__all__ = ["GitHubClient", "GitHubError", "GitHubSettings", "RetryPolicy"]
