"""Placeholder TLS files, so `nginx -t` can load a config whose real certificates live elsewhere.

nginx opens every `ssl_certificate` and `ssl_certificate_key` while testing a config, and the real
ones (Let's Encrypt's, say) exist only on the production host. For each path a config names, this
module makes a self-signed certificate whose subject alternative names are the `server_name`s of
the server blocks using it, so a TLS client can tell by the certificate which server answered.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from nginxgen.nginx.config import Directive, load_fragment, walk

# Files nginx reads as PEM certificates (bundles) besides the server's own certificate.
CA_BUNDLE_DIRECTIVES = ("ssl_trusted_certificate", "ssl_client_certificate")
FALLBACK_NAME = "placeholder.invalid"


@dataclass(frozen=True)
class CertificatePair:
    """One certificate and the key nginx loads with it, and the names of the servers using them."""

    certificate: str
    key: str
    server_names: tuple[str, ...]


@dataclass(frozen=True)
class TlsFiles:
    """Every TLS file path a config names, as written in the config."""

    pairs: tuple[CertificatePair, ...] = ()
    ca_bundles: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        paths = {pair.certificate for pair in self.pairs} | {pair.key for pair in self.pairs}
        return tuple(sorted(paths | set(self.ca_bundles)))


@dataclass
class _Scope:
    """The TLS directives in force in one block: its own, else those inherited from outside."""

    certificates: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def inherit(self, outer: _Scope) -> _Scope:
        return _Scope(self.certificates or outer.certificates, self.keys or outer.keys)


def find_tls_files(config_texts: Iterable[str]) -> TlsFiles:
    """The TLS file paths of config fragments (conf.d files, i.e. in the `http` context).

    Paths holding nginx variables are skipped: they are resolved per request, not at load time.
    Syntax errors are not reported here; `nginx -t` reports them in its own words.
    """
    names_by_pair: dict[tuple[str, str], set[str]] = {}
    ca_bundles: set[str] = set()
    for text in config_texts:
        directives = load_fragment(text)
        ca_bundles.update(
            directive.args[0]
            for directive in walk(directives)
            if directive.name in CA_BUNDLE_DIRECTIVES and _is_static(directive.args)
        )
        for scope, server_names in _servers(directives, _Scope()):
            for certificate, key in zip(scope.certificates, scope.keys, strict=False):
                if _is_static([certificate]) and _is_static([key]):
                    names_by_pair.setdefault((certificate, key), set()).update(server_names)
    pairs = tuple(
        CertificatePair(certificate, key, tuple(sorted(names)))
        for (certificate, key), names in sorted(names_by_pair.items())
    )
    return TlsFiles(pairs=pairs, ca_bundles=tuple(sorted(ca_bundles)))


def placeholder_files(tls_files: TlsFiles) -> dict[str, bytes]:
    """PEM contents for every path in `tls_files`: matching self-signed certificates and keys.

    A key path shared by several certificates gets one key, which signs each of them.
    """
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    files: dict[str, bytes] = {}
    for pair in tls_files.pairs:
        key = keys.setdefault(pair.key, ec.generate_private_key(ec.SECP256R1()))
        files[pair.key] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if pair.certificate not in files:
            files[pair.certificate] = self_signed_certificate(key, pair.server_names)
    if tls_files.ca_bundles:
        bundle = self_signed_certificate(ec.generate_private_key(ec.SECP256R1()), ())
        for path in tls_files.ca_bundles:
            files.setdefault(path, bundle)
    return files


def self_signed_certificate(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, names: Iterable[str]
) -> bytes:
    """A PEM certificate for `names` (subject alternative names), signed by `key` itself."""
    dns_names = _certificate_names(names) or [FALLBACK_NAME]
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nginxgen placeholder"),
            x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0]),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _servers(
    directives: Sequence[Directive], outer: _Scope
) -> Iterator[tuple[_Scope, tuple[str, ...]]]:
    """Each `server` block's TLS directives in force (inherited from `http` too) and names."""
    scope = _own_scope(directives).inherit(outer)
    for directive in directives:
        block = directive.block
        if block is None:
            continue
        if directive.name == "server":
            names = tuple(
                name
                for name_directive in block
                if name_directive.name == "server_name"
                for name in name_directive.args
            )
            yield _own_scope(block).inherit(scope), names
        elif directive.name in ("http", "stream", "mail"):
            yield from _servers(block, scope)


def _own_scope(directives: Sequence[Directive]) -> _Scope:
    # Paths with variables are kept here: they still stop the outer level's from being inherited.
    scope = _Scope()
    for directive in directives:
        if len(directive.args) != 1:
            continue
        if directive.name == "ssl_certificate":
            scope.certificates.append(directive.args[0])
        elif directive.name == "ssl_certificate_key":
            scope.keys.append(directive.args[0])
    return scope


def _is_static(args: Sequence[str]) -> bool:
    return len(args) == 1 and "$" not in args[0] and not args[0].startswith("data:")


def _certificate_names(server_names: Iterable[str]) -> list[str]:
    """The DNS names a certificate for these `server_name` arguments carries, in order."""
    names: list[str] = []
    for name in server_names:
        # `.example.com` is nginx's short form for `example.com *.example.com`.
        expanded = [name[1:], "*" + name] if name.startswith(".") else [name]
        for candidate in expanded:
            # `_` (catch-all convention), `~...` (regex) and inner wildcards are not DNS names.
            valid = (
                candidate.isascii()
                and candidate not in ("", "_")
                and not candidate.startswith("~")
                and "*" not in candidate.removeprefix("*.")
            )
            if valid and candidate not in names:
                names.append(candidate)
    return names
