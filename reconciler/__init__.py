"""reconcile: keep Buddy.works pipelines in Git as YAML, plan and apply the difference."""

__version__ = "0.1.0"
