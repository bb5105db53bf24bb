"""nginx/tls_paths.py: certificate paths rewritten in place, line numbers kept."""

from __future__ import annotations

from generated_sample import (
    GENERATED,
    PRODUCTION_CERT,
    PRODUCTION_KEY,
    STAGING_CERT,
)

from nginxgen.nginx.tls_paths import rewrite_tls_paths


def test_rewriting_tls_paths_keeps_every_line_where_it_was() -> None:
    replacements = {PRODUCTION_CERT: "/tmp/p/cert.pem", STAGING_CERT: "/tmp/p/staging.pem"}
    rewritten, count = rewrite_tls_paths(GENERATED, replacements)
    assert count == 2
    assert len(rewritten.splitlines()) == len(GENERATED.splitlines())
    assert "ssl_certificate /tmp/p/cert.pem;" in rewritten
    assert 'ssl_certificate "/tmp/p/staging.pem";' in rewritten
    assert f"ssl_certificate_key {PRODUCTION_KEY};" in rewritten
