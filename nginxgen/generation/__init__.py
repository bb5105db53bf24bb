"""The generation pipeline, one module per stage, data flowing one way:
YAML (`loader`, parsing with `yaml_source`) → `models` → `plan` (with the cross-field `rules`) →
`render` (Jinja2) → text → `selfcheck` (the linter on the output) → `output` (drift check,
atomic write). `pipeline` runs the stages up to text; `scaffold` writes a new environment file.
The models are `models` (Environment, Settings), `sections` (the environment's sections),
`route_tests` (its `tests:`) and `fields` (StrictModel, field types, patterns); the plan is
`plan` (assembly, cross-environment decisions), `plan_locations` (routes, proxying, upstreams),
`plan_tls` (TLS, server headers), `plan_features` (access, CORS, auth, compression, logs,
maintenance, error pages), `plan_metrics` (the metrics server and request log) and `plan_types`
(the plan's dataclasses). `metrics` is the `metrics:` settings model; `metrics_outputs` renders
what metrics adds beside the config (the mtail program, the compose services).

May import `nginxgen.core`, `nginxgen.nginx` (the raw-directive check) and `nginxgen.lint`
(the self-check). Never imports the commands or the CLI.
"""
