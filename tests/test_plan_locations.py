"""generation/plan_locations.py: route order and the strip-prefix rewrite that compare.py and
adopt/ recognise (the locations as a whole: test_plan.py)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from plan_fixtures import loaded

from nginxgen.generation.plan_locations import route_order, strip_prefix_rewrite, stripped_prefix

# Prefixes as routes may spell them: '/'-separated segments of the characters paths allow.
segments = st.text(alphabet="abcXYZ019-._~%+:@!,=()*[]", min_size=1, max_size=8)
prefixes = st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(prefixes, st.text(alphabet="abc/-._?=", max_size=12))
def test_the_rewrite_removes_exactly_the_prefix(prefix: str, rest: str) -> None:
    rewrite = strip_prefix_rewrite(prefix + "/")
    replacement = rewrite.replacement.replace("$1", r"\1")
    assert re.sub(rewrite.pattern, replacement, f"{prefix}/{rest}") == f"/{rest}"
    assert re.sub(rewrite.pattern, replacement, prefix) == "/"


@given(prefixes)
def test_the_prefix_is_read_back_from_its_rewrite(prefix: str) -> None:
    rewrite = strip_prefix_rewrite(prefix + "/")
    assert stripped_prefix(rewrite.pattern, rewrite.replacement) == prefix + "/"
    assert stripped_prefix(rewrite.pattern, "/x$1") is None


def test_other_rewrites_are_not_taken_for_a_strip_prefix() -> None:
    assert stripped_prefix("^/api/(.*)$", "/$1") is None
    assert stripped_prefix("^/api/?(.*)$x", "/$1") is None


def test_exact_then_prefix_by_path_then_regex_in_file_order() -> None:
    environment = loaded(
        "shop",
        """\
        domains: [shop.test]
        services:
          app: {host: app, port: 3000}
        routes:
          - {path: '^/z', match: regex, service: app}
          - {path: /b/, service: app}
          - {path: /health, match: exact, service: app}
          - {path: /, service: app}
          - {path: /a/, service: app}
          - {path: '^/a', match: regex, service: app}
        """,
    )
    routes = sorted(environment.model.routes, key=route_order)
    assert [route.path for route in routes] == ["/health", "/", "/a/", "/b/", "^/z", "^/a"]
