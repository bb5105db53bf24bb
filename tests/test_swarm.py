"""Docker Swarm without Docker: `platform: swarm` in validation and the output.

The stack file is tests/test_swarm_stack.py's; choosing a service's tasks
tests/test_swarm_tasks.py's; the real swarms tests/test_swarm_single_node.py's (the host's own
single-node swarm) and tests/test_swarm_nodes.py's (three Docker-in-Docker nodes).
"""

from __future__ import annotations

from pathlib import Path

from swarm_support import SWARM_130
from swarm_support import project as project  # the fixture
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate

# --- without Docker ------------------------------------------------------------------------------


def validate(project: Path, settings: str, environment: str) -> tuple[int, str]:
    (project / "nginxgen.yaml").write_text(settings, encoding="utf-8")
    for old in (project / "environments").glob("*.yaml"):
        old.unlink()
    (project / "environments" / "app.yaml").write_text(environment, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--settings", "nginxgen.yaml"])
    return result.exit_code, result.output


SWARM_126 = 'platform: swarm\nnginx_version: "1.26"\n'


def environment_with(service: str) -> str:
    return f"domains: [a.example.test]\ntls: false\nservices:\n  app: {service}\n" + (
        "routes:\n  - {path: /, service: app}\n"
    )


def test_swarm_with_the_variable_strategy_refuses_several_hosts_and_says_why(
    project: Path,
) -> None:
    code, output = validate(project, SWARM_126, environment_with("{hosts: [a, b], port: 80}"))
    assert code == 2, output
    assert "app.yaml:4:16: " in output
    assert "services.app.hosts: on swarm the variable strategy reaches a service through its" in (
        output
    )
    assert "virtual IP" in output
    # One message, in Swarm's terms: the compose rule stays quiet on swarm.
    assert output.count("services.app.hosts") == 1


def test_swarm_refuses_a_tasks_prefix_and_dotted_names_with_upstream_resolve(
    project: Path,
) -> None:
    code, output = validate(project, SWARM_130, environment_with("{host: tasks.api, port: 80}"))
    assert code == 2
    assert "give the service name 'api'" in output
    code, output = validate(project, SWARM_130, environment_with("{host: api.internal, port: 80}"))
    assert code == 2
    assert "tasks.api.internal would never resolve" in output
    # The variable strategy reaches any name (the virtual IP, or a name outside the swarm).
    code, output = validate(project, SWARM_126, environment_with("{host: api.internal, port: 80}"))
    assert code == 0, output


def test_compose_keeps_the_hosts_as_given(project: Path) -> None:
    compose = generate(project / "environments", Settings(nginx_version="1.30")).text
    assert "server shop-app:3000 resolve " in compose
    assert "tasks." not in compose
    swarm = generate(project / "environments", Settings(nginx_version="1.30", platform="swarm"))
    assert "server tasks.shop-app:3000 resolve " in swarm.text
