"""The package version, in one place (the package, saved indexes and the build read it)."""

__version__ = "0.1.0"
