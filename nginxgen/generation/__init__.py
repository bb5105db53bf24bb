"""The generation pipeline, one module per stage, data flowing one way:
YAML (`loader`) → `models` → `plan` (with the cross-field `rules`) → `render` (Jinja2) → text →
`selfcheck` (the linter on the output) → `output` (drift check, atomic write). `pipeline` runs
the stages up to text; `scaffold` writes a new environment file.

May import `nginxgen.core`, `nginxgen.nginx` (the raw-directive check) and `nginxgen.lint`
(the self-check). Never imports the commands or the CLI.
"""
