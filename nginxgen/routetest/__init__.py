"""Route tests: what requests must do, proved against a real nginx (`nginxgen test`, `explain`).

Owns the pure parts: the test cases (the files' `tests:` and the implicit ones), the echo
backend's config and answer, sending one request, comparing, and the report's formats.
May import `core` and `generation`; Docker is the `docker` layer's, called by the commands.
"""
