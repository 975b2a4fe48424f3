"""Django's PostgreSQL backend, health-checking a connection only after it sat idle."""
