"""The nginx side: reading nginx configuration into a directive tree (crossplane, behind one
adapter), running `nginx -t` in Docker or with the host's binary, reading nginx's messages, and
the placeholder certificates that let a config load without its real TLS files.

May import `nginxgen.core` only. Knows nothing of environment files or of lint rules.
"""
