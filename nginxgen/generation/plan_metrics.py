"""The plan of `metrics:` (nginxgen.yaml): the metrics server with stub_status, and the request
log each environment writes besides its own access log, in a format naming the environment, so
that mtail counts requests by environment without parsing anything nginxgen does not define.
"""

from __future__ import annotations

from nginxgen.generation.metrics import MetricsSettings
from nginxgen.generation.plan_types import AccessLogPlan, MetricsPlan

# In nginx's own log directory, which every nginx image has (so `nginx -t` in a throwaway
# container opens it too); `nginxgen compose` shares that directory with mtail as a volume.
METRICS_LOG_DIRECTORY = "/var/log/nginx"
METRICS_LOG = f"{METRICS_LOG_DIRECTORY}/nginxgen-requests.log"
METRICS_PATH = "/stub_status"
# What an environment without `log:` gets once it writes the metrics log as well (a server's
# own access_log replaces nginx.conf's): the file and format of Debian's and nginx.org's images.
DEFAULT_ACCESS_LOG = AccessLogPlan("/var/log/nginx/access.log", "combined")


def metrics_plan(settings: MetricsSettings | None) -> MetricsPlan | None:
    if settings is None or not settings.enabled:
        return None
    return MetricsPlan(
        port=settings.port,
        allow=tuple(str(network) for network in settings.allow),
        log_path=METRICS_LOG,
    )


def metrics_log_format(environment: str) -> str:
    return f"nginxgen_metrics_{environment}"


def access_log_beside_metrics(access_log: AccessLogPlan | None) -> AccessLogPlan | None:
    """The environment's own access log once the metrics log is written beside it: `off` would
    switch the metrics log off too, and no log at all would drop nginx.conf's."""
    if access_log is None:
        return DEFAULT_ACCESS_LOG
    if access_log.path is None:
        return None
    return access_log
