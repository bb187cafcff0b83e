"""``reconcile import``: live pipelines → config files, and the names of their environment variables."""
