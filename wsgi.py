"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from bellyfed import create_app

app = create_app()
