"""The running proxy through the Docker SDK: finding the nginx container, its mounts, files,
logs and networks, and running nginx inside it (deploy, status, rollback).

May import `core` and `nginx` only. `proxy.py` is the only module here that talks to Docker;
`live.py` holds the pure decisions about what it reads (layout, versions, nginx's dumps, logs,
probe answers), tested without Docker.
"""
