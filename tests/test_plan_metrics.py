"""generation/plan_metrics.py: the metrics server and the log beside each environment's."""

from __future__ import annotations

from nginxgen.generation.metrics import DOCKER_PRIVATE_RANGES, MetricsSettings
from nginxgen.generation.plan_metrics import (
    DEFAULT_ACCESS_LOG,
    METRICS_LOG,
    access_log_beside_metrics,
    metrics_log_format,
    metrics_plan,
)
from nginxgen.generation.plan_types import AccessLogPlan


def test_no_section_or_enabled_false_means_no_metrics_server() -> None:
    assert metrics_plan(None) is None
    assert metrics_plan(MetricsSettings(enabled=False)) is None


def test_the_metrics_server_listens_where_settings_say_and_allows_the_networks() -> None:
    default = metrics_plan(MetricsSettings())
    assert default is not None
    assert (default.port, default.allow, default.log_path) == (
        8080,
        DOCKER_PRIVATE_RANGES,
        METRICS_LOG,
    )
    custom = metrics_plan(MetricsSettings.model_validate({"port": 9000, "allow": ["10.1.0.0/16"]}))
    assert custom is not None and (custom.port, custom.allow) == (9000, ("10.1.0.0/16",))


def test_each_environment_has_its_own_log_format() -> None:
    assert metrics_log_format("shop") == "nginxgen_metrics_shop"
    assert metrics_log_format("shop") != metrics_log_format("blog")


def test_the_own_access_log_stays_beside_the_metrics_log() -> None:
    assert access_log_beside_metrics(None) == DEFAULT_ACCESS_LOG
    custom = AccessLogPlan("/var/log/nginx/shop.log", "nginxgen_json")
    assert access_log_beside_metrics(custom) == custom
    assert access_log_beside_metrics(AccessLogPlan(None, "combined")) is None
