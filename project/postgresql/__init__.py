"""Django's PostgreSQL backend, health-checking a connection only after it sat idle and
preparing the hot paths' statements (see base.py)."""
