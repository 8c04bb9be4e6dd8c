"""Readers and writers of catalog formats (TOML file, JSON, netsh text, registry, hives)."""
