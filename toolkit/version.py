"""The toolkit's version (one place; the package metadata reads pyproject.toml)."""

__version__ = "0.1.0"
