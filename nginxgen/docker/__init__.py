"""The running proxy through the Docker SDK: the live proxy as a system of its
own — which container is the proxy (`selection.py`: the options as one typed value, this
project's own compose container), its mounts (`mounts.py`, one definition for `compose` and
`stack` too), its files, logs and networks, nginx inside it (`operations.py`), and the deploy
and rollback algorithm (`deploy_flow.py`: test in place, swap, reload, verify, restore, kept
versions, deferred signals; `journal.py`: the record of an unfinished deploy). Throwaway
containers are `nginxgen.nginx.sandbox`'s; the stack of `nginxgen test` is `routetest/stack.py`.

A Swarm service on any number of nodes goes through Swarm itself: `swarm_objects.py` (the
content-addressed configs and secrets), `swarm_rollout.py` (deploy, rollback and status through
the manager: test task, service update, following the rollout on every node) and
`swarm_stack.py` (the multi-node stack's service, as data).

May import `core` and `nginx` only. `proxy.py`, `swarm.py`, `acme.py` and the swarm modules are
the modules here that talk to Docker; `live.py` and `selection.py` hold the pure decisions
about what they read (layout, versions, nginx's dumps, logs, probe answers, which tasks of a
service and whether they share one directory, which container is this project's), tested
without Docker.
"""
