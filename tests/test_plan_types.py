"""generation/plan_types.py: the plan's types are declarations but for the two names an
environment's servers answer to."""

from __future__ import annotations

from plan_fixtures import loaded, plan_of, simple

from nginxgen.core.facts import UNKNOWN_NAME

CATCH_ALL = """\
catch_all: true
tls: false
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""


def test_an_environment_answers_to_its_domains_and_is_probed_on_the_first() -> None:
    (shop,) = plan_of(simple("shop", "shop.test, www.shop.test")).environments
    assert shop.server_names == ("shop.test", "www.shop.test")
    assert shop.probe_host == "shop.test"


def test_a_catch_all_without_domains_answers_to_no_name_and_is_probed_on_an_unknown_one() -> None:
    (fallback,) = plan_of(loaded("fallback", CATCH_ALL)).environments
    assert fallback.server_names == ("_",)
    assert fallback.probe_host == UNKNOWN_NAME
