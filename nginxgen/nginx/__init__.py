"""The nginx side: reading nginx configuration into a directive tree (crossplane, behind one
adapter), running `nginx -t` in Docker or with the host's binary, reading nginx's messages, the
placeholder certificates that let a config load without its real TLS files, and the sandbox
for throwaway nginx in Docker (with the echo backend and the one loopback client) that every
test of a config runs in.

May import `nginxgen.core` only. Knows nothing of environment files or of lint rules.
"""
