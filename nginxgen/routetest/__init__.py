"""Route tests: what requests must do, proved against a real nginx (`nginxgen test`, `explain`).

Owns the test cases (the files' `tests:` and the implicit ones), sending one request and reading
the echo's answer, comparing, the report's formats, and the stack the tests run in (`stack.py`:
nginx and the echo in a `nginxgen.nginx.sandbox`, and what goes into it).
May import `core`, `nginx` and `generation`.
"""
