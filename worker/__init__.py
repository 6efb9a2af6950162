"""Celery wiring: ``app`` (the entry point), ``schedule`` (beat), ``tasks`` (thin task functions).

Importing this package builds nothing; ``worker.app`` creates the Flask and Celery apps.
"""
