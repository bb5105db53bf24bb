"""`nginxgen explain "GET https://daatan.com/api/v2/x"`: one request, run as `test` runs it.

Says which environment and route (file:line) should answer by nginx's rules, which service did
answer in the real nginx, and what it received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nginxgen.commands.project import open_project, resolve_image
from nginxgen.commands.result import EXIT_OK, Report, json_report, lines
from nginxgen.core.errors import ConfigError, Problem
from nginxgen.core.formats import OutputFormat
from nginxgen.generation.pipeline import Generated, generate
from nginxgen.generation.route_tests import parse_request
from nginxgen.routetest.client import Observed, send
from nginxgen.routetest.compare import answered_by
from nginxgen.routetest.routing import Destination, destination
from nginxgen.routetest.stack import open_stack, probe_host, services


def _where(found: Destination | None) -> dict[str, Any]:
    if found is None:
        return {
            "environment": None,
            "answer": "no environment serves this name: the default server",
        }
    environment = found.environment
    document: dict[str, Any] = {
        "environment": environment.name,
        "file": environment.source.file,
    }
    if found.kind == "redirect":
        document["answer"] = "the environment's redirect (to HTTPS or to the primary name)"
        return document
    route = found.route
    if route is None or found.route_index is None:
        document["answer"] = "no route matches: nginx answers 404"
        return document
    line, column = environment.source.locate(("routes", found.route_index))
    document["route"] = {
        "index": found.route_index,
        "match": route.match,
        "path": route.path,
        "at": f"{environment.source.file}:{line}:{column}",
        "service": route.service,
        "static": route.static.root if route.static else None,
    }
    return document


def _service_names(generated: Generated, who: str) -> list[str]:
    return [
        f"{ref.environment}.{ref.name}"
        for ref in services(generated)
        for address in ref.addresses
        if f"{address}:{ref.port}" == who
    ]


def explain(
    request: str,
    environments: Path | None,
    image: str | None,
    settings_file: Path | None,
    output_format: OutputFormat,
) -> Report:
    try:
        line = parse_request(request)
    except ValueError as error:
        raise ConfigError([Problem("<request>", 1, 1, "request", str(error))]) from None
    project = open_project(settings_file, environments)
    generated = generate(project.directory, project.settings)
    found = destination(generated.environments, line)
    chosen = resolve_image(image, project.settings)
    with open_stack(generated, project.settings, chosen, ()) as stack:
        stack.set_up_hosts(stack.hosts)
        ports = stack.start_nginx(probe_host(generated))
        observed = send(line, ports)
        who = answered_by(observed, stack.hosts_by_address())
    document = _where(found)
    document |= _answer(observed, who, _service_names(generated, who))
    if output_format is OutputFormat.json:
        return json_report({"request": str(line), **document})
    return Report(EXIT_OK, _text(str(line), document))


def _answer(observed: Observed, who: str, names: list[str]) -> dict[str, Any]:
    received = observed.received
    return {
        "status": observed.status,
        "refused": observed.refused,
        "error": observed.error,
        "answered_by": who,
        "services": names,
        "response_headers": dict(observed.headers),
        "received": (
            {
                "method": received.method,
                "uri": received.uri,
                "headers": dict(received.headers),
            }
            if received
            else None
        ),
    }


def _text(request: str, document: dict[str, Any]) -> str:
    parts = [f"request:      {request}"]
    if document["environment"] is None:
        parts.append("environment:  none (no environment serves this name)")
    else:
        parts.append(f"environment:  {document['environment']} ({document['file']})")
    route = document.get("route")
    if route:
        target = f"service {route['service']}" if route["service"] else f"static {route['static']}"
        parts.append(
            f"route:        routes[{route['index']}] {route['match']} {route['path']} -> "
            f"{target} ({route['at']})"
        )
    elif "answer" in document:
        parts.append(f"route:        {document['answer']}")
    if document["refused"] or document["error"]:
        parts.append(f"answer:       {document['refused'] or document['error']}")
        return lines(*parts)
    services = ", ".join(document["services"])
    parts.append(
        f"answer:       {document['status']} from {document['answered_by']}"
        + (f" = {services}" if services else "")
    )
    received = document["received"]
    if received:
        parts.append(f"service saw:  {received['method']} {received['uri']}")
        parts += [f"  {name}: {value}" for name, value in sorted(received["headers"].items())]
    location = document["response_headers"].get("location")
    if location:
        parts.append(f"location:     {location}")
    return lines(*parts)
