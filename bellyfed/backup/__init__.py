"""Backups of both stores: a PostgreSQL dump and every DynamoDB table, with a manifest
(``flask backup``)."""
