"""Password reset: ask for a link, follow it once, choose a new password."""
