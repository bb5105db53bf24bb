"""nginx/placeholder_certs.py: the certificate files a config names, and placeholders that
`nginx -t` accepts."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from generated_sample import (
    GENERATED,
    PRODUCTION_CERT,
    PRODUCTION_KEY,
    STAGING_CERT,
    STAGING_KEY,
)

from nginxgen.nginx.placeholder_certs import (
    CertificatePair,
    find_tls_files,
    placeholder_files,
)


def test_tls_files_are_paired_per_server_with_its_names() -> None:
    found = find_tls_files([GENERATED])
    assert found.pairs == (
        CertificatePair(PRODUCTION_CERT, PRODUCTION_KEY, ("daatan.com", "www.daatan.com")),
        CertificatePair(STAGING_CERT, STAGING_KEY, ("staging.daatan.com",)),
    )


def test_http_level_certificates_are_inherited_and_variables_skipped() -> None:
    text = """
        ssl_certificate /certs/shared.pem;
        ssl_certificate_key /certs/shared.key;
        ssl_trusted_certificate /certs/chain.pem;
        server { listen 443 ssl; server_name a.example; }
        server { listen 443 ssl; server_name .b.example _; }
        server {
            listen 443 ssl;
            server_name c.example;
            ssl_certificate /certs/$ssl_server_name.pem;
            ssl_certificate_key /certs/$ssl_server_name.key;
        }
    """
    found = find_tls_files([text])
    assert found.pairs == (
        CertificatePair("/certs/shared.pem", "/certs/shared.key", (".b.example", "_", "a.example")),
    )
    assert found.ca_bundles == ("/certs/chain.pem",)
    assert found.paths == ("/certs/chain.pem", "/certs/shared.key", "/certs/shared.pem")


def test_placeholder_certificate_names_its_servers_and_matches_its_key() -> None:
    files = placeholder_files(find_tls_files([GENERATED]))
    assert set(files) == {PRODUCTION_CERT, PRODUCTION_KEY, STAGING_CERT, STAGING_KEY}
    certificate = x509.load_pem_x509_certificate(files[PRODUCTION_CERT])
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["daatan.com", "www.daatan.com"]
    key = serialization.load_pem_private_key(files[PRODUCTION_KEY], password=None)
    assert key.public_key() == certificate.public_key()
    staging = x509.load_pem_x509_certificate(files[STAGING_CERT])
    assert staging.public_key() != certificate.public_key()


def test_nginx_short_forms_become_certificate_names() -> None:
    text = """
        server {
            server_name .b.example _ ~^www\\d+\\.example$;
            ssl_certificate /c.pem;
            ssl_certificate_key /c.key;
        }
    """
    files = placeholder_files(find_tls_files([text]))
    certificate = x509.load_pem_x509_certificate(files["/c.pem"])
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["b.example", "*.b.example"]
