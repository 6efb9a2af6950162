"""API tokens in account settings: a short wizard to create one, the list, revoking."""
