"""generation/plan_features.py: access rules, CORS, forward auth, compression, logs and
maintenance planned from an environment's sections."""

from __future__ import annotations

from plan_fixtures import loaded

from nginxgen.generation.plan_features import access_plan, cors_headers, cors_plan
from nginxgen.generation.plan_types import Header

ENVIRONMENT = """\
domains: [shop.test]
services:
  app: {host: app, port: 3000}
access:
  allow: [10.0.0.0/8]
  basic_auth: {realm: Staff, htpasswd: /etc/nginx/htpasswd/shop}
routes:
  - path: /
    service: app
  - path: /api/
    service: app
    cors: {origins: ["https://a.test"], credentials: true}
  - path: /open/
    service: app
    cors: {origins: ["*"]}
    access: {}
"""


def test_a_route_undoes_what_it_does_not_repeat_of_the_environments_access() -> None:
    model = loaded("shop", ENVIRONMENT).model
    environment = access_plan(model.access, None)
    assert environment is not None
    assert environment.allow == ("10.0.0.0/8",)
    assert (environment.realm, environment.htpasswd) == ("Staff", "/etc/nginx/htpasswd/shop")
    assert not environment.allow_all and not environment.auth_off
    route = access_plan(model.routes[2].access, model.access)
    assert route is not None
    assert route.allow == () and route.allow_all and route.auth_off
    assert access_plan(None, model.access) is None


def test_listed_origins_go_through_a_variable_and_vary_on_origin() -> None:
    model = loaded("shop", ENVIRONMENT).model
    listed = cors_plan("shop", model.routes[1], 1)
    assert listed is not None and listed.variable is not None
    assert listed.allow_origin == f"${listed.variable}"
    assert cors_headers(listed) == (
        Header("Access-Control-Allow-Origin", f"${listed.variable}"),
        Header("Access-Control-Allow-Credentials", "true"),
        Header("Vary", "Origin"),
    )
    anyone = cors_plan("shop", model.routes[2], 2)
    assert anyone is not None and anyone.variable is None
    assert cors_headers(anyone) == (Header("Access-Control-Allow-Origin", '"*"'),)
    assert cors_plan("shop", model.routes[0], 0) is None
    assert cors_headers(None) == ()
