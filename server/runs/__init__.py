"""Runs as research objects: interviews that store nothing, named runs (fork, open, archive,
delete), and the helpers the drivers and the report use on them. See docs/runs.md."""
