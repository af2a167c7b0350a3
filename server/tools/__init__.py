"""Command-line tools that work on town files (not part of the running server)."""
