"""The staff's doors: the admin site, the authentication backend behind its login, and
the `manage.py` commands operators run (keys, purging, load data)."""
