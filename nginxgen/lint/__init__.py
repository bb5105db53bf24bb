"""The linter: rules that find what would take an nginx proxy down (the startup-resolution trap
first), as a table of small coded functions, the walk that feeds them, and the text, JSON and
GitHub output formats.

May import `nginxgen.core` and `nginxgen.nginx`. Knows nothing of environment files.
"""
