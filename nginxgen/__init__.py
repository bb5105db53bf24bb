"""nginxgen: startup-safe nginx reverse-proxy configuration from declarative environment files."""

__version__ = "0.1.0"
