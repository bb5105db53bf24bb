"""The running proxy through the Docker SDK: finding the nginx container (or a Swarm service's
task containers), its mounts, files, logs and networks, and running nginx inside it (deploy,
status, rollback). Throwaway containers are `nginxgen.nginx.sandbox`'s.

May import `core` and `nginx` only. `proxy.py` and `swarm.py` are the modules here
that talk to Docker; `live.py` holds the pure decisions about what it reads (layout, versions,
nginx's dumps, logs, probe answers, which tasks of a service and whether they share one
directory), tested without Docker.
"""
