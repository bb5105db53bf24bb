"""The `metrics:` section of `nginxgen.yaml`: nginx's stub_status on a port of its own, reachable
from the proxy's Docker networks only, and the per-environment request log the metrics are read
from. No I/O happens in this module.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from nginxgen.generation.fields import Network, Port, StrictModel

# The private ranges Docker gives its networks (the default address pools cut 172.17.0.0/16 and
# onwards from 172.16.0.0/12, then 192.168.0.0/16; users often configure 10.0.0.0/8).
DOCKER_PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# The ports the environments' servers listen on: the metrics server must not share them, or
# stub_status would be served where the proxy is published.
_PUBLISHED_PORTS = (80, 443)


class MetricsSettings(StrictModel):
    """stub_status for the Prometheus exporter, and the request log mtail reads."""

    enabled: bool = Field(default=True, description="false: no metrics (same as no section)")
    port: Port = Field(
        default=8080,
        description="port of the metrics server (stub_status at /stub_status); never published",
    )
    allow: list[Network] = Field(
        # A default, not a factory: `nginxgen schema settings` shows it (pydantic copies it).
        default=list(DOCKER_PRIVATE_RANGES),
        min_length=1,
        description="addresses that may read stub_status [default: Docker's private ranges]",
    )

    @field_validator("port")
    @classmethod
    def _not_published(cls, value: int) -> int:
        if value in _PUBLISHED_PORTS:
            raise ValueError(
                f"port {value} is where the environments are served (and published): give the "
                "metrics server a port of its own, e.g. 8080"
            )
        return value
