"""`nginxgen schema`: the JSON Schema of the environment file or of nginxgen.yaml."""

from __future__ import annotations

import json

from nginxgen.commands.result import Report
from nginxgen.core.formats import SchemaKind
from nginxgen.generation.models import Environment, Settings


def schema(kind: SchemaKind) -> Report:
    model = Environment if kind is SchemaKind.environment else Settings
    return Report(stdout=json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
