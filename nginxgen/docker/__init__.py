"""The running proxy and test stacks through the Docker SDK: finding the nginx container (or a
Swarm service's task containers), its mounts, files, logs and networks, and running nginx
inside it (deploy, status, rollback); the stack of `nginxgen test` (nginx under test, one echo
backend, a network per service host).

A Swarm service on any number of nodes goes through Swarm itself: `swarm_objects.py` (the
content-addressed configs and secrets), `swarm_rollout.py` (deploy, rollback and status through
the manager: test task, service update, following the rollout on every node) and
`swarm_stack.py` (the multi-node stack's service, as data).

May import `core` and `nginx` only. `proxy.py`, `swarm.py`, `swarm_objects.py`,
`swarm_rollout.py` and `stack.py` are the modules here that talk to Docker; `live.py` holds the
pure decisions about what it reads (layout, versions, nginx's dumps, logs, probe answers, which
tasks of a service and whether they share one directory), tested without Docker.
"""
