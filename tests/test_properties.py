"""Property-based tests: every string field of the models, enumerated from the models, given
hostile values. Oracle: a located ConfigError (exit 2), or output whose crossplane structure is
the structure the benign value gives (same directives, same argument counts: the value stayed
inside its argument). A sample of the accepted outputs goes through a real `nginx -t`.

A field added to a model is found by `string_slots` on its own; `test_every_slot_has_a_benign
_value` then fails until BASE gives it a value, so no field escapes these tests.
"""

from __future__ import annotations

import copy
import os
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import crossplane
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nginx_fixtures import require_image
from pydantic import BaseModel

from nginxgen.core.errors import ConfigError
from nginxgen.generation.loader import LoadedEnvironment, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.pipeline import generate_from
from nginxgen.nginx.docker_engine import DockerEngine
from nginxgen.nginx.runner import ConfigFile, nginx_test

CASES = Path(__file__).resolve().parent / "cases"

# Every key of both files, with a route of each kind, so that each slot has a benign value.
BASE_ENVIRONMENT: dict[str, Any] = yaml.safe_load(
    (CASES / "every-key" / "environments" / "shop.yaml").read_text(encoding="utf-8")
)
BASE_ENVIRONMENT["security_headers"]["x_frame_options"] = "DENY"
BASE_ENVIRONMENT["routes"].append({"path": "^/v[0-9]+/", "match": "regex", "service": "api"})
# A service by address and a route under forward auth (shop's basic auth rules out forward
# auth for the whole environment: there it is given switched off, its values of the same types
# as the route's, which reach the output).
BASE_ENVIRONMENT["services"]["ip"] = {"address": "192.168.1.20", "port": 8080}
FORWARD_AUTH = {
    "url": "http://authelia:9091/api/verify",
    "headers": ["Remote-User"],
    "signin": "https://auth.example.test/?theme=dark",
}
BASE_ENVIRONMENT["routes"].append(
    {"path": "/sso/", "service": "ip", "auth": FORWARD_AUTH, "access": {"allow": ["10.0.0.0/8"]}}
)
BASE_ENVIRONMENT["auth"] = {"enabled": False, **FORWARD_AUTH}
BASE_ENVIRONMENT["tls"]["client_certificates"] = {"ca": "/etc/ssl/clients/ca.pem"}
# Route tests never reach the output: a hostile value is refused, or the output stays the same.
BASE_ENVIRONMENT["tests"] = [
    {
        "request": "POST https://shop.example.test/api/x?y=1",
        "headers": {"X-Trace": "abc"},
        "auth": "staff:secret",
        "body_size": "1k",
        "service": "api",
        "path": "/x?y=1",
        "received_headers": {"X-Trace": "abc"},
        "status": 200,
        "location": "https://shop.example.test/",
        "headers_include": {"Cache-Control": "no-store"},
        "client_certificate": {"cert": "certs/client.pem", "key": "certs/client.key"},
    },
    {"request": "GET https://shop.example.test/assets/", "static": "/srv/shop/assets"},
]
BASE_SETTINGS: dict[str, Any] = {
    "output": "out/nginx-ssl.conf",
    "environments": "environments",
    "resolver_valid": "10s",
    "resolver_timeout": "2s",
    "timeouts": {"connect": "2s", "read": "60s", "send": "60s"},
    "nginx_version": "1.28",
    "strategy": "auto",
    "keepalive": 16,
    "default_server": True,
    "check": {"image": "nginx:stable"},
    "metrics": {"port": 9145, "allow": ["172.16.0.0/12"]},
    "acme": {
        "email": "ops@example.test",
        "directory": "https://acme.example.test/dir",
        "ca_certificate": "acme-ca.pem",
        "image": "certbot/certbot",
        "challenge": "dns-01",
        "dns": {"plugin": "rfc2136", "credentials": "rfc2136.ini"},
    },
}

FIRST_KEY = object()  # in a slot's path: the first key of that mapping, whatever it is


@dataclass(frozen=True)
class Slot:
    """Where a string goes: a path into the document; `key`: the mapping key at that path."""

    model: type[BaseModel]
    path: tuple[Any, ...]
    key: bool = False

    def __str__(self) -> str:
        parts = ["<key>" if part is FIRST_KEY else str(part) for part in self.path]
        return f"{self.model.__name__}:{'.'.join(parts)}{' (key)' if self.key else ''}"


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, Annotated and Optional removed."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [
            alternative
            for argument in typing.get_args(annotation)
            if argument is not type(None)
            for alternative in _unwrap(argument)
        ]
    return [annotation]


def _slots(model: type[BaseModel], annotation: Any, path: tuple[Any, ...]) -> Iterator[Slot]:
    for alternative in _unwrap(annotation):
        origin = typing.get_origin(alternative)
        if alternative is str:
            yield Slot(model, path)
        elif origin is Literal or alternative in (int, bool, float):
            continue
        elif isinstance(alternative, type) and issubclass(alternative, BaseModel):
            for name, info in alternative.model_fields.items():
                yield from _slots(model, info.annotation, (*path, name))
        elif origin is list:
            yield from _slots(model, typing.get_args(alternative)[0], (*path, 0))
        elif origin is dict:
            key_type, value_type = typing.get_args(alternative)
            if str in _unwrap(key_type):
                yield Slot(model, (*path, FIRST_KEY), key=True)
            yield from _slots(model, value_type, (*path, FIRST_KEY))
        else:
            raise AssertionError(f"{model.__name__}.{path}: unhandled annotation {alternative}")


def string_slots(model: type[BaseModel]) -> list[Slot]:
    return list(dict.fromkeys(_slots(model, model, ())))


def _expand(document: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """Concrete paths for a slot path: every list item and every mapping entry of BASE."""
    if not path:
        yield ()
        return
    head, rest = path[0], path[1:]
    if isinstance(head, int) and isinstance(document, list):
        for index, item in enumerate(document):
            if isinstance(item, dict) or not rest:
                yield from ((index, *tail) for tail in _expand(item, rest))
        return
    if head is FIRST_KEY and isinstance(document, dict):
        for key, value in document.items():
            yield from ((key, *tail) for tail in _expand(value, rest))
        return
    if isinstance(document, dict) and head in document:
        yield from ((head, *tail) for tail in _expand(document[head], rest))


BASES = {Environment: BASE_ENVIRONMENT, Settings: BASE_SETTINGS}


def concrete_slots() -> list[tuple[Slot, tuple[Any, ...]]]:
    return [
        (slot, concrete)
        for model in (Environment, Settings)
        for slot in string_slots(model)
        for concrete in _expand(BASES[model], slot.path)
    ]


SLOTS = concrete_slots()


def benign_value(slot: Slot, concrete: tuple[Any, ...]) -> str:
    document: Any = BASES[slot.model]
    for part in concrete:
        document = document[part]
    value = concrete[-1] if slot.key else document
    assert isinstance(value, str), (str(slot), value)
    return value


def with_value(slot: Slot, concrete: tuple[Any, ...], value: str) -> dict[str, Any]:
    document = copy.deepcopy(BASES[slot.model])
    parent: Any = document
    for part in concrete[:-1]:
        parent = parent[part]
    if slot.key:
        parent[value] = parent.pop(concrete[-1])
    else:
        parent[concrete[-1]] = value
    return document


def test_every_slot_has_a_benign_value() -> None:
    # A string field of a model that BASE does not reach would escape the property tests.
    reached = {str(slot) for slot, _ in SLOTS}
    missing = [
        str(slot)
        for model in (Environment, Settings)
        for slot in string_slots(model)
        if str(slot) not in reached
    ]
    assert missing == []
    assert len(reached) >= 30


# Blocks whose entries are data, not directives: an entry's first word is a value (a CORS
# origin, an address), so only the number of entries and their argument counts are structure.
DATA_BLOCKS = frozenset({"map", "geo"})


def _shape(directives: list[dict[str, Any]], data: bool = False) -> tuple[Any, ...]:
    return tuple(
        sorted(
            (
                (
                    "<entry>" if data else directive["directive"],
                    len(directive.get("args", ())),
                    _shape(directive["block"], directive["directive"] in DATA_BLOCKS)
                    if "block" in directive
                    else (),
                )
                for directive in directives
            ),
            key=repr,
        )
    )


def structure(text: str, directory: Path) -> tuple[Any, ...]:
    """What a value must not change: directives (comments too), their argument counts and
    blocks; order within a block aside (routes are sorted by path, which is what varies)."""
    path = directory / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    payload = crossplane.parse(
        str(path), single=True, comments=True, check_ctx=False, check_args=False
    )
    assert payload["status"] == "ok", payload["errors"]
    return _shape(payload["config"][0]["parsed"])


def render(slot: Slot, document: dict[str, Any]) -> str:
    """The output for `document` in place of the slot's file; ConfigError if it is invalid."""
    text = yaml.safe_dump(document, allow_unicode=False)
    if slot.model is Settings:
        settings, _ = validate(Settings, text, "nginxgen.yaml")
        environment, source = validate(Environment, yaml.safe_dump(BASE_ENVIRONMENT), "shop.yaml")
    else:
        settings = Settings.model_validate(BASE_SETTINGS)
        environment, source = validate(Environment, text, "environments/shop.yaml")
    return generate_from([LoadedEnvironment("shop", environment, source)], settings).text


# Characters that end a directive, open a block, quote, expand, comment, break a line or hide
# in it; and a few letters (no digits: "1.26" + "0" is a valid, different version).
HOSTILE = ";{}\"'$#\\`\n\r\x00\t \x0b\x0c\x1c\x85\u00a0\u2028\u2029\u200f\u202e\ufeff"
ALPHABET = HOSTILE + "ab/._-é"
FRAGMENT = st.text(alphabet=ALPHABET, min_size=1, max_size=6)


@st.composite
def hostile_value(draw: st.DrawFn, benign: str) -> str:
    kind = draw(st.sampled_from(["insert", "replace", "long"]))
    if kind == "insert":
        at = draw(st.integers(0, len(benign)))
        return benign[:at] + draw(FRAGMENT) + benign[at:]
    if kind == "replace":
        return draw(st.text(alphabet=ALPHABET, max_size=12))
    return benign + draw(st.sampled_from(["a", "/a", "é"])) * draw(st.sampled_from([1100, 4100]))


BENIGN_STRUCTURE: dict[type[BaseModel], Any] = {}
STATISTICS = {"examples": 0, "accepted": 0}
ACCEPTED_SAMPLES: list[str] = []
EXAMPLES_PER_SLOT = 8


def benign_structure(model: type[BaseModel], directory: Path) -> Any:
    if model not in BENIGN_STRUCTURE:
        text = render(Slot(model, ()), BASES[model])
        BENIGN_STRUCTURE[model] = structure(text, directory)
    return BENIGN_STRUCTURE[model]


@pytest.mark.parametrize(
    ("slot", "concrete"), SLOTS, ids=[f"{slot}@{'.'.join(map(str, c))}" for slot, c in SLOTS]
)
def test_a_hostile_value_is_refused_or_stays_inside_its_argument(
    slot: Slot, concrete: tuple[Any, ...], tmp_path: Path
) -> None:
    benign = benign_value(slot, concrete)
    expected = benign_structure(slot.model, tmp_path)

    @settings(
        max_examples=EXAMPLES_PER_SLOT,
        deadline=None,
        database=None,
        # CI runs the same examples every time (a red CI is about the change); a developer's
        # run draws new ones, and any counterexample it finds becomes a regression case.
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(value=hostile_value(benign))
    def check(value: str) -> None:
        STATISTICS["examples"] += 1
        document = with_value(slot, concrete, value)
        try:
            text = render(slot, document)
        except ConfigError as error:
            # Located: a file, a line and a column for every problem, each on one line.
            assert error.problems
            for problem in error.problems:
                assert problem.line >= 1 and problem.column >= 1
                assert "\n" not in str(problem)
            return
        STATISTICS["accepted"] += 1
        assert structure(text, tmp_path) == expected, repr(value)
        if value != benign and len(ACCEPTED_SAMPLES) < 400:
            ACCEPTED_SAMPLES.append(text)

    check()


@pytest.fixture(scope="module", autouse=True)
def _report_statistics() -> Iterator[None]:
    yield
    # Shown with `pytest -s`: how many generated examples ran, how many were accepted.
    print(f"\nproperty tests: {STATISTICS['examples']} examples, {STATISTICS['accepted']} accepted")


def test_the_oracle_sees_a_value_that_leaves_its_argument(tmp_path: Path) -> None:
    # The property above could not fail if `structure` missed an escape: show that it does not.
    text = render(Slot(Environment, ()), BASE_ENVIRONMENT)
    expected = structure(text, tmp_path)
    for injected in ('storefront"; add_header X-Injected "1', 'storefront"\n# comment\n"x'):
        escaped = text.replace('"storefront"', f'"{injected}"')
        assert structure(escaped, tmp_path) != expected, injected


def accepted_samples() -> list[str]:
    """Outputs of hostile values that validation accepted: a fixed, varied sample per slot."""
    texts: dict[str, None] = {}
    for slot, concrete in SLOTS:
        benign = benign_value(slot, concrete)
        for value in (
            benign + "é",
            benign[:1] + " " + benign[1:],
            benign + "-" * (1100 - len(benign)),
            benign + "a" * (4000 - len(benign)),
        ):
            try:
                texts[render(slot, with_value(slot, concrete, value))] = None
            except ConfigError:
                continue
    return list(texts)


@pytest.mark.nginx
def test_accepted_hostile_values_pass_a_real_nginx(docker_client: Any) -> None:
    samples = accepted_samples()
    assert len(samples) >= 20
    image = require_image(docker_client, "nginxgen-test/nginx:sid")
    failures = {}
    with DockerEngine(image, pull=False) as engine:
        for index, text in enumerate(samples):
            result = nginx_test([ConfigFile("nginx-ssl.conf", text)], engine)
            if not result.ok:
                failures[index] = result.output
    assert failures == {}
