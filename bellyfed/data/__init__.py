"""Moving one kind of data between PostgreSQL and DynamoDB: assess, extract, transform, load,
validate, with checkpoints (``flask data``)."""
