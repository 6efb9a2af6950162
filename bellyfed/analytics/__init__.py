"""Real-time analytics: events buffered in Redis on the request path, flushed to DynamoDB."""
