"""notes-api: a small notes service."""
