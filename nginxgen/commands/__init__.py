"""One module per CLI command. Each exposes a function named after its command that does the
work and returns a result object (exit code, text, JSON document); it prints nothing.

May import every layer below it. Only `nginxgen.cli` imports the commands.
"""
