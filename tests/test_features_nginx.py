"""Every feature of the environment file, shown by the request that proves it to a real nginx.

The inputs are the golden cases `tests/cases/features-<version>/`: what `test_render` compares
byte for byte is what runs here. Each case runs on the image of its nginx family (1.22 on
bookworm, 1.26 on trixie, 1.28 and later on sid), once per module: a user-defined network, the
services as echo backends under their network aliases (`feature-gone` is never started), and
one nginx with the rendered config, placeholder certificates, an htpasswd file, a static root
and an ACME token. Requests go from the host to 127.0.0.1 only, so nginx sees them come from the
network's gateway address: an allow-list of 127.0.0.1 must refuse them.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import http.client
import json
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent
from nginx_fixtures import (
    CONF_D_FILE,
    LOOPBACK,
    REPOSITORY,
    REQUEST_TIMEOUT_SECONDS,
    DockerStack,
    Response,
    require_image,
    wait_for,
)

from nginxgen.generation.loader import LoadedEnvironment, load_environments, load_settings, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.pipeline import generate_from
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

pytestmark = pytest.mark.nginx

CASES = REPOSITORY / "tests" / "cases"
IMAGE_OF_CASE = {
    "features-1.22": "nginxgen-test/nginx:bookworm",
    "features-1.26": "nginxgen-test/nginx:trixie",
    "features-1.28": "nginxgen-test/nginx:sid",
    "features-1.30": "nginxgen-test/nginx:sid",
}
STARTUP_SECONDS = 30
# A second nginx with the `locked` environment alone: every HTTPS server on it is modern.
MODERN_ONLY = "nginx-modern-only"

SITE, WWW, OLD_SITE = "site.feature.test", "www.site.feature.test", "old-site.feature.test"
LOCKED, PLAIN, UNKNOWN = "locked.feature.test", "plain.feature.test", "unknown.feature.test"
PAUSED = "paused.feature.test"
IPV6_ON = {"net.ipv6.conf.all.disable_ipv6": "0"}
# A request over IPv6 from inside the nginx container (Debian's perl-base has IO::Socket::IP).
IPV6_REQUEST = (
    "my $s = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $ARGV[0]) or die qq(no: $@);"
    "print $s qq(GET /v6?x=1 HTTP/1.0\\r\\nHost: $ARGV[1]\\r\\n\\r\\n); print <$s>;"
)
SITE_LOG = "/var/log/nginx/site.json.log"
# The forward-auth service of site's /sso/: 200 with Remote-User when the request carries
# X-Test-User, else 401 (what Authelia answers an anonymous visitor).
AUTH_HOST = "feature-auth"
AUTH_CONF = """\
server {
    listen 9091 default_server;
    location = /api/verify {
        if ($http_x_test_user = "") {
            return 401;
        }
        add_header Remote-User $http_x_test_user always;
        add_header Remote-Groups admins always;
        return 200;
    }
    location / {
        return 404;
    }
}
"""
# site's `loopback` service (address: 127.0.0.1): a server inside the nginx container itself,
# which no DNS name reaches.
LOOPBACK_CONF = """\
server {
    listen 127.0.0.1:3001;
    location / {
        default_type text/plain;
        return 200 "loopback uri=$request_uri\\n";
    }
}
"""
USER, PASSWORD = "feature", "correct horse"
HTPASSWD = "/etc/nginx/htpasswd/features"
STATIC_ROOT = "/srv/features/static"
ACME_TOKEN = "feature-token-123"
ACME_FILE = f"/var/www/certbot/.well-known/acme-challenge/{ACME_TOKEN}"
SPA_INDEX = "<!doctype html><title>feature app</title>\n"
STYLESHEET = "body { color: teal; }\n"
# The backend image's answer, plus the headers the feature tests need to see arrive.
ECHO_BACKEND_CONF = """\
server {
    listen 3000 default_server;
    location / {
        default_type text/plain;
        add_header X-Backend $hostname always;
        return 200 "backend=$hostname uri=$request_uri host=$http_host \
proto=$http_x_forwarded_proto upgrade=$http_upgrade connection=$http_connection \
feature=$http_x_feature user=$http_remote_user groups=$http_remote_groups \
rid=$http_x_request_id\\n";
    }
}
"""
SITE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": "default-src 'self'",
    "strict-transport-security": "max-age=31536000",
}
LOCKED_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
}


def htpasswd_line(user: str, password: str) -> bytes:
    # `{SHA}`: base64 of the SHA-1 digest, a scheme every nginx build reads.
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    return f"{user}:{{SHA}}{digest}\n".encode()


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass(frozen=True)
class Deployment:
    case: str
    services: Mapping[str, tuple[str, ...]]  # service key of site.yaml → its hosts
    nginx_version: tuple[int, ...]
    http_port: int
    https_port: int
    modern_only_https_port: int
    stack: DockerStack
    quic_port: int

    def file_in_nginx(self, path: str) -> str:
        exit_code, output = self.stack.wrapped("nginx").exec_run(["cat", path])
        text = bytes(output).decode("utf-8", "replace")
        assert exit_code == 0, text
        return text

    def https(self, host: str, path: str = "/", **options: Any) -> Response:
        return send_request(self.https_port, host, path, tls=True, **options)

    def http(self, host: str, path: str = "/", **options: Any) -> Response:
        return send_request(self.http_port, host, path, **options)


def tls_context(
    *, maximum_version: ssl.TLSVersion | None = None, alpn: list[str] | None = None
) -> ssl.SSLContext:
    # The certificates are self-signed placeholders: the tests look at what nginx offers.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if maximum_version is not None:
        context.maximum_version = maximum_version
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


def send_request(
    port: int,
    host: str,
    path: str = "/",
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    tls: bool = False,
) -> Response:
    """One request to 127.0.0.1:`port` as `host` (Host header and, with `tls`, SNI)."""
    sock = socket.create_connection((LOOPBACK, port), timeout=REQUEST_TIMEOUT_SECONDS)
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        if tls:
            sock = tls_context().wrap_socket(sock, server_hostname=host)
        connection.sock = sock
        connection.request(
            method, path, body, {"Host": host, "Connection": "close", **(headers or {})}
        )
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return Response(
            response.status, {name.lower(): value for name, value in response.getheaders()}, text
        )
    finally:
        connection.close()
        sock.close()


def handshake(port: int, server_name: str, context: ssl.SSLContext) -> ssl.SSLSocket:
    """A completed TLS handshake with `server_name` as SNI; the caller closes the socket."""
    sock = socket.create_connection((LOOPBACK, port), timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        return context.wrap_socket(sock, server_hostname=server_name)
    except BaseException:
        sock.close()
        raise


def echoed(response: Response) -> dict[str, str]:
    """What the echo backend saw: `backend=… uri=… host=…` as a dict."""
    assert response.status == 200, response
    assert response.body.startswith("backend="), response.body
    return dict(field.partition("=")[::2] for field in response.body.split())


def start_echo_service(stack: DockerStack, host: str, conf: str = ECHO_BACKEND_CONF) -> None:
    stack.start_service(host, files={"/etc/nginx/conf.d/backend.conf": conf.encode()})


def nginx_files(config: str) -> dict[str, bytes]:
    files = {CONF_D_FILE: config.encode()}
    files.update(placeholder_files(find_tls_files([config])))
    files[HTPASSWD] = htpasswd_line(USER, PASSWORD)
    files[f"{STATIC_ROOT}/app/index.html"] = SPA_INDEX.encode()
    files[f"{STATIC_ROOT}/assets/site.css"] = STYLESHEET.encode()
    files[ACME_FILE] = ACME_TOKEN.encode()
    files["/etc/nginx/conf.d/loopback-service.conf"] = LOOPBACK_CONF.encode()
    return files


@pytest.fixture(scope="module", params=sorted(IMAGE_OF_CASE))
def deployment(request: pytest.FixtureRequest, docker_client: Any) -> Iterator[Deployment]:
    case: str = request.param
    image = require_image(docker_client, IMAGE_OF_CASE[case])
    settings = load_settings(CASES / case / "nginxgen.yaml")
    environments = load_environments(CASES / case / "environments")
    generated = generate_from(environments, settings)
    # The golden file is what runs: a stale one would prove nothing about it.
    assert generated.text == (CASES / case / "expected.conf").read_text(encoding="utf-8")
    modern_only = generate_from([env for env in environments if env.name == "locked"], settings)
    site = next(env for env in environments if env.name == "site").model
    services = {name: service.addresses for name, service in site.services.items()}
    stack = DockerStack(docker_client)
    try:
        for name, hosts in services.items():
            if name != "gone" and site.services[name].address is None:
                for host in hosts:
                    start_echo_service(stack, host)
        start_echo_service(stack, AUTH_HOST, AUTH_CONF)
        # Docker turns IPv6 off on the interfaces of a container whose network has none: the
        # [::] listeners bind all the same, but a request over ::1 needs it on.
        stack.start_nginx(image, nginx_files(generated.text), udp_ports=(443,), sysctls=IPV6_ON)
        stack.start_nginx(image, nginx_files(modern_only.text), name=MODERN_ONLY)
        https_port, modern_only_port = stack.port("nginx", 443), stack.port(MODERN_ONLY, 443)
        wait_for(
            f"nginx of {case} on {image} proxying to its service",
            lambda: send_request(https_port, SITE, tls=True),
            lambda response: response.status == 200,
            STARTUP_SECONDS,
        )
        wait_for(
            f"the modern-only nginx on {image} answering",
            lambda: send_request(modern_only_port, LOCKED, "/public/", tls=True),
            lambda response: response.status == 200,
            STARTUP_SECONDS,
        )
        deployed = Deployment(
            case,
            services,
            running_nginx_version(stack),
            http_port=stack.port("nginx", 80),
            https_port=https_port,
            modern_only_https_port=modern_only_port,
            stack=stack,
            quic_port=stack.port("nginx", 443, "udp"),
        )
        yield deployed
        for name in ("nginx", MODERN_ONLY):
            logs = stack.logs(name)
            assert "[emerg]" not in logs and "[crit]" not in logs, logs
    finally:
        stack.close()


def running_nginx_version(stack: DockerStack) -> tuple[int, ...]:
    exit_code, output = stack.wrapped("nginx").exec_run(["nginx", "-v"])
    text = bytes(output).decode()
    assert exit_code == 0 and "nginx/" in text, text
    return tuple(int(part) for part in text.strip().rsplit("/", 1)[-1].split("."))


# --- redirects and ACME ------------------------------------------------------------------------


def test_http_redirects_to_https_with_path_and_query(deployment: Deployment) -> None:
    for host in (SITE, LOCKED):
        response = deployment.http(host, "/some/page?x=1")
        assert response.status == 301, response
        assert response.headers["location"] == f"https://{host}/some/page?x=1"


def test_www_and_redirect_domains_go_to_the_primary_domain(deployment: Deployment) -> None:
    for host in (WWW, OLD_SITE):
        for send in (deployment.http, deployment.https):
            response = send(host, "/page?x=1")
            assert response.status == 301, (host, send, response)
            assert response.headers["location"] == f"https://{SITE}/page?x=1"


def test_acme_challenge_is_served_on_port_80_while_the_rest_redirects(
    deployment: Deployment,
) -> None:
    for host in (SITE, WWW):
        token = deployment.http(host, f"/.well-known/acme-challenge/{ACME_TOKEN}")
        assert (token.status, token.body) == (200, ACME_TOKEN), (host, token)
        assert token.headers["content-type"] == "text/plain"
        assert deployment.http(host, "/.well-known/other").status == 301
    # `acme_webroot: false`: the challenge path redirects like everything else.
    off = deployment.http(LOCKED, f"/.well-known/acme-challenge/{ACME_TOKEN}")
    assert off.status == 301, off


# --- refusing unknown names --------------------------------------------------------------------


def test_unknown_host_on_http_is_closed_without_a_response(deployment: Deployment) -> None:
    # 444: nginx closes the connection; http.client sees no status line at all.
    with pytest.raises(ConnectionResetError):
        deployment.http(UNKNOWN)
    assert deployment.http(SITE).status == 301


def test_unknown_server_name_on_https_has_its_handshake_refused(deployment: Deployment) -> None:
    with pytest.raises(ssl.SSLError):
        handshake(deployment.https_port, UNKNOWN, tls_context()).close()
    handshake(deployment.https_port, SITE, tls_context()).close()


# --- TLS and HTTP/2 ----------------------------------------------------------------------------


def test_intermediate_profile_accepts_tls12_and_modern_refuses_it(deployment: Deployment) -> None:
    tls12_only = tls_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    with handshake(deployment.https_port, SITE, tls12_only) as accepted:
        assert accepted.version() == "TLSv1.2"
    with handshake(deployment.https_port, LOCKED, tls_context()) as modern:
        assert modern.version() == "TLSv1.3"
    # Where every environment is modern, TLSv1.2 is refused on every nginx version.
    with pytest.raises(ssl.SSLError):
        handshake(deployment.modern_only_https_port, LOCKED, tls12_only).close()
    with handshake(deployment.modern_only_https_port, LOCKED, tls_context()) as modern:
        assert modern.version() == "TLSv1.3"


def test_modern_server_beside_an_intermediate_one_refuses_tls12_from_nginx_1_29_2(
    deployment: Deployment,
) -> None:
    # Before 1.29.2 nginx negotiates the version with the default server's protocols, which
    # must allow TLSv1.2 for the intermediate site on the same port; from 1.29.2 on, the
    # server that SNI selects decides.
    tls12_only = tls_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    if deployment.nginx_version >= (1, 29, 2):
        with pytest.raises(ssl.SSLError):
            handshake(deployment.https_port, LOCKED, tls12_only).close()
    else:
        with handshake(deployment.https_port, LOCKED, tls12_only) as accepted:
            assert accepted.version() == "TLSv1.2"


def test_http2_is_offered_through_alpn(deployment: Deployment) -> None:
    # 1.22 turns it on with `listen … http2`, 1.25.1 and later with `http2 on;`.
    for host in (SITE, LOCKED):
        with handshake(deployment.https_port, host, tls_context(alpn=["h2", "http/1.1"])) as tls:
            assert tls.selected_alpn_protocol() == "h2", host
        with handshake(deployment.https_port, host, tls_context(alpn=["http/1.1"])) as tls:
            assert tls.selected_alpn_protocol() == "http/1.1", host


# --- headers -----------------------------------------------------------------------------------


def assert_headers(response: Response, expected: Mapping[str, str]) -> None:
    present = {name: response.headers.get(name) for name in expected}
    assert present == dict(expected), response
    # server_tokens off: no version in the header.
    assert response.headers["server"] == "nginx", response


SITE_ROUTES = [
    ("/", 200),
    ("/api/x", 200),
    ("/status", 200),
    ("/ws/", 200),
    ("/upload/", 200),
    ("/private/", 401),
    ("/office/", 403),
    ("/open/", 200),
    ("/down/", 502),
    ("/cached/", 200),
    ("/assets/site.css", 200),
    ("/assets/missing.css", 404),
    ("/app/", 200),
]


def test_security_headers_and_hsts_are_on_every_route(deployment: Deployment) -> None:
    for path, status in SITE_ROUTES:
        response = deployment.https(SITE, path)
        assert response.status == status, (path, response)
        assert_headers(response, SITE_HEADERS)
    for path, status in [("/", 401), ("/public/", 200), ("/down/", 503)]:
        response = deployment.https(LOCKED, path)
        assert response.status == status, (path, response)
        assert_headers(response, LOCKED_HEADERS)
        assert "content-security-policy" not in response.headers


def test_a_route_with_its_own_response_headers_keeps_the_security_headers(
    deployment: Deployment,
) -> None:
    response = deployment.https(SITE, "/api/x")
    assert_headers(response, {**SITE_HEADERS, "cache-control": "no-store"})
    assert "cache-control" not in deployment.https(SITE, "/").headers


def test_http_only_environment_has_security_headers_but_no_hsts(deployment: Deployment) -> None:
    response = deployment.http(PLAIN, "/page")
    assert echoed(response)["proto"] == "http"
    assert_headers(
        response,
        {"referrer-policy": "strict-origin-when-cross-origin", "x-frame-options": "SAMEORIGIN"},
    )
    # `x_content_type_options: false` drops that header; HSTS needs TLS.
    assert "x-content-type-options" not in response.headers
    assert "strict-transport-security" not in response.headers


def test_server_tokens_are_off_on_nginx_own_pages(deployment: Deployment) -> None:
    for response in (
        deployment.https(SITE, "/assets/missing.css"),
        deployment.http(SITE, "/"),
        deployment.https(WWW, "/"),
    ):
        assert response.headers["server"] == "nginx", response
        assert "nginx/" not in response.body, response


# --- access ------------------------------------------------------------------------------------


def test_basic_auth_answers_401_without_credentials_and_200_with(deployment: Deployment) -> None:
    refused = deployment.https(SITE, "/private/")
    assert refused.status == 401, refused
    assert refused.headers["www-authenticate"] == 'Basic realm="Feature staff"'
    assert deployment.https(SITE, "/private/", headers=basic_auth(USER, "wrong")).status == 401
    allowed = deployment.https(SITE, "/private/", headers=basic_auth(USER, PASSWORD))
    assert echoed(allowed)["backend"] == "feature-web"
    # Routes without access rules of an environment without them stay open.
    assert deployment.https(SITE, "/").status == 200


def test_environment_auth_covers_every_route_its_routes_do_not_replace(
    deployment: Deployment,
) -> None:
    refused = deployment.https(LOCKED, "/anything")
    assert refused.status == 401, refused
    assert refused.headers["www-authenticate"] == 'Basic realm="Restricted"'
    allowed = deployment.https(LOCKED, "/anything", headers=basic_auth(USER, PASSWORD))
    assert echoed(allowed)["uri"] == "/anything"
    # `/public/` has access of its own (an allow-list), which replaces the environment's auth.
    assert echoed(deployment.https(LOCKED, "/public/"))["uri"] == "/public/"


def test_allow_list_refuses_addresses_outside_it(deployment: Deployment) -> None:
    # The host's requests reach nginx from the Docker network's gateway, not from 127.0.0.1.
    assert deployment.https(SITE, "/office/").status == 403
    assert echoed(deployment.https(SITE, "/open/"))["uri"] == "/open/"


# --- limits ------------------------------------------------------------------------------------


def test_rate_limit_answers_429_over_the_rate(deployment: Deployment) -> None:
    # 1r/m with burst 2: one request plus two of burst pass, then 429 (a minute never passes).
    statuses = []
    for _ in range(10):
        statuses.append(deployment.https(SITE, "/limited/").status)
        if statuses[-1] != 200:
            break
    assert statuses == [200, 200, 200, 429]
    assert deployment.https(SITE, "/").status == 200


def test_body_over_client_max_body_size_answers_413(deployment: Deployment) -> None:
    # Route limit 1k on /upload/; environment limit 2k on every route of `locked`.
    for host, path, fits, too_big in [
        (SITE, "/upload/", 1000, 1500),
        (LOCKED, "/public/", 2000, 3000),
    ]:
        over = deployment.https(host, path, method="POST", body=b"x" * too_big)
        assert over.status == 413, (host, over)
        assert over.headers["strict-transport-security"], over
        within = deployment.https(host, path, method="POST", body=b"x" * fits)
        assert echoed(within)["uri"] == path
    # Other routes keep nginx's default limit of 1m.
    assert deployment.https(SITE, "/", method="POST", body=b"x" * 1500).status == 200


# --- the service is absent ---------------------------------------------------------------------


def test_error_page_when_the_service_is_absent(deployment: Deployment) -> None:
    html = deployment.https(SITE, "/down/page")
    assert html.status == 502, html
    assert html.headers["content-type"] == "text/html"
    assert "<h1>Service temporarily unavailable</h1>" in html.body
    assert "nginx" not in html.body
    data = deployment.https(LOCKED, "/down/page")
    assert data.status == 503, data
    assert data.headers["content-type"] == "application/json"
    assert json.loads(data.body) == {"status": 503, "error": "Locked is down for maintenance"}
    # The other routes of both environments answer as usual.
    assert deployment.https(SITE, "/").status == 200
    assert deployment.https(LOCKED, "/public/").status == 200


# --- routing -----------------------------------------------------------------------------------


def test_strip_prefix_sends_the_rest_of_the_uri_and_the_query(deployment: Deployment) -> None:
    seen = echoed(deployment.https(SITE, "/api/x?y=1"))
    assert (seen["backend"], seen["uri"]) == ("feature-api", "/x?y=1")
    assert echoed(deployment.https(SITE, "/api/"))["uri"] == "/"
    assert echoed(deployment.https(SITE, "/api/deep/er/path"))["uri"] == "/deep/er/path"


def test_request_headers_reach_only_their_route_service(deployment: Deployment) -> None:
    assert echoed(deployment.https(SITE, "/api/x"))["feature"] == "from-nginx"
    assert echoed(deployment.https(SITE, "/"))["feature"] == ""


def test_proxied_requests_carry_host_and_scheme(deployment: Deployment) -> None:
    seen = echoed(deployment.https(SITE, "/page"))
    assert (seen["host"], seen["proto"], seen["uri"]) == (SITE, "https", "/page")


def test_exact_match_takes_only_its_own_path(deployment: Deployment) -> None:
    assert echoed(deployment.https(SITE, "/status"))["backend"] == "feature-api"
    assert echoed(deployment.https(SITE, "/status/more"))["backend"] == "feature-web"


def test_regex_static_route_serves_files_from_its_root(deployment: Deployment) -> None:
    sheet = deployment.https(SITE, "/assets/site.css")
    assert (sheet.status, sheet.body) == (200, STYLESHEET), sheet
    assert sheet.headers["content-type"] == "text/css"
    assert "x-backend" not in sheet.headers
    missing = deployment.https(SITE, "/assets/missing.css")
    assert missing.status == 404 and "x-backend" not in missing.headers, missing
    # Not matched by the regex: the `/` prefix route proxies it.
    assert echoed(deployment.https(SITE, "/assets/site.txt"))["backend"] == "feature-web"


def test_overlapping_regex_routes_are_tried_in_file_order(deployment: Deployment) -> None:
    # ^/versions/v2/ is listed first: were the routes sorted by path, ^/versions/ would win.
    assert echoed(deployment.https(SITE, "/versions/v2/users"))["backend"] == "feature-api"
    assert echoed(deployment.https(SITE, "/versions/v1/users"))["backend"] == "feature-web"


def test_spa_route_falls_back_to_its_index_html(deployment: Deployment) -> None:
    for path in ("/app/", "/app/orders/42", "/app/settings?tab=2"):
        response = deployment.https(SITE, path)
        assert (response.status, response.body) == (200, SPA_INDEX), (path, response)
        assert response.headers["content-type"] == "text/html"
        assert "x-backend" not in response.headers


def test_websocket_route_forwards_the_upgrade_headers(deployment: Deployment) -> None:
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    seen = echoed(deployment.https(SITE, "/ws/chat", headers=upgrade))
    assert (seen["upgrade"], seen["connection"]) == ("websocket", "upgrade")
    # Hop-by-hop headers stop at nginx on other routes.
    assert echoed(deployment.https(SITE, "/", headers=upgrade))["upgrade"] == ""


def test_raw_directives_take_effect(deployment: Deployment) -> None:
    # Route raw `expires 1h`; server raw `charset utf-8` in `locked`.
    assert deployment.https(SITE, "/cached/").headers["cache-control"] == "max-age=3600"
    public = deployment.https(LOCKED, "/public/")
    assert public.headers["content-type"] == "text/plain; charset=utf-8"
    assert deployment.https(SITE, "/").headers["content-type"] == "text/plain"


# --- compression, logs, maintenance ------------------------------------------------------------


def gzip_get(deployment: Deployment, path: str, accept: str | None) -> tuple[Response, bytes]:
    """A GET whose body is kept as bytes (http.client does not decompress)."""
    sock = socket.create_connection((LOOPBACK, deployment.https_port), REQUEST_TIMEOUT_SECONDS)
    connection = http.client.HTTPConnection(LOOPBACK, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        connection.sock = tls_context().wrap_socket(sock, server_hostname=SITE)
        headers = {"Host": SITE, "Connection": "close"}
        if accept:
            headers["Accept-Encoding"] = accept
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        found = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, found, ""), body
    finally:
        connection.close()
        sock.close()


def test_text_responses_are_gzipped_with_vary(deployment: Deployment) -> None:
    # The echo repeats the URI: long enough to pass gzip_min_length (256).
    path = "/page?" + "x" * 600
    compressed, body = gzip_get(deployment, path, "gzip")
    assert compressed.headers.get("content-encoding") == "gzip", compressed
    assert "Accept-Encoding" in compressed.headers["vary"], compressed
    assert gzip.decompress(body).decode().startswith("backend=feature-web uri=/page?xxx")
    plain, body = gzip_get(deployment, path, None)
    assert "content-encoding" not in plain.headers, plain
    assert body.decode().startswith("backend=feature-web")
    # Below gzip_min_length the answer goes as it is.
    short, _ = gzip_get(deployment, "/", "gzip")
    assert "content-encoding" not in short.headers, short


def test_json_access_log_has_upstream_timing_and_the_request_id(deployment: Deployment) -> None:
    marker = f"/api/logged-{deployment.case}"
    seen = echoed(deployment.https(SITE, marker))
    entries = [
        json.loads(line)
        for line in deployment.file_in_nginx(SITE_LOG).splitlines()
        if marker in line
    ]
    assert len(entries) == 1, entries
    entry = entries[0]
    assert (entry["status"], entry["uri"], entry["host"]) == (200, marker, SITE)
    assert entry["upstream_status"] == "200"
    assert entry["upstream_addr"].endswith(":3000"), entry
    assert float(entry["upstream_response_time"]) >= 0
    assert float(entry["request_time"]) >= 0
    # The id the service received is the one logged: 32 hex digits from nginx's $request_id.
    assert len(entry["request_id"]) == 32 and seen["rid"] == entry["request_id"], (seen, entry)


def test_maintenance_answers_503_with_retry_after_except_to_allowed_addresses(
    deployment: Deployment,
) -> None:
    paused = deployment.http(PAUSED, "/anything")
    assert paused.status == 503, paused
    assert paused.headers["retry-after"] == "90"
    assert paused.headers["content-type"] == "text/html"
    assert "<h1>Back soon</h1>" in paused.body
    assert paused.headers["x-frame-options"] == "SAMEORIGIN"
    # `plain` is in maintenance too, but its allow-list holds the Docker networks' addresses.
    through = deployment.http(PLAIN, "/page")
    assert echoed(through)["uri"] == "/page"
    assert "retry-after" not in through.headers
    # The service behind the paused environment is untouched: other environments reach it.
    assert echoed(deployment.https(SITE, "/"))["backend"] == "feature-web"


def test_every_server_listens_on_ipv6_too(deployment: Deployment) -> None:
    nginx = deployment.stack.wrapped("nginx")
    # `plain` answers 503 here: ::1 is outside its maintenance allow-list.
    for port, host, status in [(80, SITE, "301"), (80, PLAIN, "503"), (80, UNKNOWN, None)]:
        exit_code, output = nginx.exec_run(
            ["perl", "-MIO::Socket::IP", "-e", IPV6_REQUEST, str(port), host]
        )
        text = bytes(output).decode("utf-8", "replace")
        assert exit_code == 0, text
        if status is None:  # the default server: 444, the connection closed unanswered
            assert text == "", text
        else:
            assert text.startswith(f"HTTP/1.1 {status} "), text
    redirect = nginx.exec_run(["perl", "-MIO::Socket::IP", "-e", IPV6_REQUEST, "80", SITE])
    assert f"Location: https://{SITE}/v6?x=1" in bytes(redirect.output).decode()
    # HTTPS on [::]:443 (no TLS client in the image: the listening socket is what is shown).
    listening = deployment.file_in_nginx("/proc/net/tcp6")
    ports = {line.split()[1].rsplit(":", 1)[1] for line in listening.splitlines()[1:]}
    assert {"0050", "01BB"} <= ports, listening


def http3_get(port: int, host: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/3 request over QUIC to 127.0.0.1:`port` (UDP), with aioquic."""

    class Client(QuicConnectionProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.http = H3Connection(self._quic)
            self.headers: list[tuple[bytes, bytes]] = []
            self.body = b""
            self.ended = asyncio.Event()

        def quic_event_received(self, event: QuicEvent) -> None:
            for received in self.http.handle_event(event):
                if isinstance(received, HeadersReceived):
                    self.headers += received.headers
                elif isinstance(received, DataReceived):
                    self.body += received.data
                if isinstance(received, HeadersReceived | DataReceived) and received.stream_ended:
                    self.ended.set()

    async def get() -> tuple[int, dict[str, str], bytes]:
        configuration = QuicConfiguration(
            is_client=True, alpn_protocols=H3_ALPN, server_name=host, verify_mode=ssl.CERT_NONE
        )
        async with connect(
            LOOPBACK, port, configuration=configuration, create_protocol=Client
        ) as client:
            assert isinstance(client, Client)
            stream = client._quic.get_next_available_stream_id()
            request = [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", host.encode()),
                (b":path", path.encode()),
            ]
            client.http.send_headers(stream, request, end_stream=True)
            client.transmit()
            await asyncio.wait_for(client.ended.wait(), REQUEST_TIMEOUT_SECONDS)
            headers = {name.decode(): value.decode() for name, value in client.headers}
            return int(headers.pop(":status")), headers, client.body

    return asyncio.run(get())


@pytest.mark.parametrize(
    "deployment", ["features-1.26", "features-1.28", "features-1.30"], indirect=True
)
def test_http3_answers_over_quic_and_is_announced(deployment: Deployment) -> None:
    status, headers, body = http3_get(deployment.quic_port, SITE, "/h3?x=1")
    assert status == 200, (headers, body)
    seen = dict(field.partition("=")[::2] for field in body.decode().split())
    assert (seen["backend"], seen["uri"], seen["proto"]) == ("feature-web", "/h3?x=1", "https")
    assert headers["alt-svc"] == 'h3=":443"; ma=86400'
    assert headers["strict-transport-security"] == "max-age=31536000"
    # Over TCP the answer announces HTTP/3.
    assert deployment.https(SITE, "/").headers["alt-svc"] == 'h3=":443"; ma=86400'
    # Environments without http3 do not announce it.
    assert "alt-svc" not in deployment.https(LOCKED, "/public/").headers


# --- CORS ----------------------------------------------------------------------------------------

APP_ORIGIN = "https://app.feature.test"


def test_cors_preflight_is_answered_by_nginx_for_listed_origins_only(
    deployment: Deployment,
) -> None:
    asking = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "PUT"}
    preflight = deployment.https(SITE, "/cors/x", method="OPTIONS", headers=asking)
    assert preflight.status == 204, preflight
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert preflight.headers["access-control-allow-methods"] == "GET, POST, PUT, PATCH, DELETE"
    assert preflight.headers["access-control-allow-headers"] == "Authorization, Content-Type"
    assert preflight.headers["access-control-max-age"] == "600"
    assert preflight.headers["vary"] == "Origin"
    assert "x-backend" not in preflight.headers  # the service never saw it
    evil = {"Origin": "https://evil.test", "Access-Control-Request-Method": "PUT"}
    refused = deployment.https(SITE, "/cors/x", method="OPTIONS", headers=evil)
    assert refused.status == 204
    assert "access-control-allow-origin" not in refused.headers, refused


def test_cors_answers_echo_only_listed_origins_and_keep_the_security_headers(
    deployment: Deployment,
) -> None:
    allowed = deployment.https(SITE, "/cors/x", headers={"Origin": APP_ORIGIN})
    assert echoed(allowed)["uri"] == "/cors/x"
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in allowed.headers["vary"]
    assert_headers(allowed, SITE_HEADERS)
    other = deployment.https(SITE, "/cors/x", headers={"Origin": "https://evil.test"})
    assert other.status == 200 and "access-control-allow-origin" not in other.headers, other
    # `origins: ['*']`: every origin, no credentials, no Allow-Headers (headers: []).
    anyone = deployment.https(SITE, "/anyone/", headers={"Origin": "https://evil.test"})
    assert anyone.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in anyone.headers
    preflight = deployment.https(SITE, "/anyone/", method="OPTIONS")
    assert preflight.status == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-headers" not in preflight.headers


# --- forward auth, services by address ---------------------------------------------------------


def test_forward_auth_redirects_to_sign_in_and_passes_the_user_on(
    deployment: Deployment,
) -> None:
    anonymous = deployment.https(SITE, "/sso/page?a=1")
    assert anonymous.status == 302, anonymous
    assert anonymous.headers["location"] == (
        f"https://auth.feature.test/?rd=https://{SITE}/sso/page?a=1"
    )
    # A client cannot claim a user: the auth service's answer replaces its header.
    signed_in = deployment.https(
        SITE, "/sso/page", headers={"X-Test-User": "alice", "Remote-User": "mallory"}
    )
    seen = echoed(signed_in)
    assert (seen["user"], seen["groups"], seen["uri"]) == ("alice", "admins", "/sso/page")
    # Routes without auth do not ask the auth service, and add no user.
    assert echoed(deployment.https(SITE, "/"))["user"] == ""


def test_forward_auth_service_down_costs_only_its_routes(deployment: Deployment) -> None:
    # nginx started although feature-auth-gone never existed; asking it fails with 500.
    assert deployment.https(SITE, "/sso-down/").status == 500
    assert deployment.https(SITE, "/").status == 200


def test_service_by_ip_address_needs_no_dns(deployment: Deployment) -> None:
    response = deployment.https(SITE, "/loopback/x?y=1")
    assert (response.status, response.body) == (200, "loopback uri=/loopback/x?y=1\n"), response


@pytest.mark.parametrize("deployment", ["features-1.28", "features-1.30"], indirect=True)
def test_upstream_resolve_balances_over_every_host(deployment: Deployment) -> None:
    hosts = set(deployment.services["pool"])
    assert hosts == {"feature-pool-a", "feature-pool-b"}
    seen: set[str] = set()
    for _ in range(20):
        seen.add(echoed(deployment.https(SITE, "/pool/"))["backend"])
        if seen == hosts:
            break
    assert seen == hosts


def test_the_cases_cover_every_nginx_family() -> None:
    found = sorted(path.name for path in CASES.glob("features-*") if path.is_dir())
    assert found == sorted(IMAGE_OF_CASE)
    for case in found:
        settings = load_settings(CASES / case / "nginxgen.yaml")
        assert case == f"features-{settings.nginx_version}"


# 60 characters: past the 46 that fit nginx's default server_names_hash_bucket_size (64).
LONG_NAME = f"{'a' * 40}.{'b' * 14}.test"


def test_a_server_name_too_long_for_the_default_bucket_starts_and_answers(
    docker_stack: DockerStack,
) -> None:
    assert len(LONG_NAME) == 60
    document = f"""\
domains: [{LONG_NAME}]
tls: false
services:
  app: {{host: long-name-app, port: 3000}}
routes:
  - {{path: /, service: app}}
"""
    model, source = validate(Environment, document, "environments/long.yaml")
    settings = Settings(nginx_version="1.22")
    generated = generate_from([LoadedEnvironment("long", model, source)], settings)
    assert "\nserver_names_hash_bucket_size 128;\n" in generated.text
    start_echo_service(docker_stack, "long-name-app")
    docker_stack.start_nginx("nginxgen-test/nginx:bookworm", {CONF_D_FILE: generated.text.encode()})
    response = wait_for(
        "nginx 1.22 with a 60-character server name answering",
        lambda: send_request(docker_stack.port("nginx", 80), LONG_NAME),
        lambda response: response.status == 200,
        STARTUP_SECONDS,
    )
    assert echoed(response)["host"] == LONG_NAME
    logs = docker_stack.logs("nginx")
    assert "[emerg]" not in logs, logs
