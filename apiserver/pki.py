"""The cluster's certificates and the admin credentials, made at first start.

`ensure(cert_dir, ...)` creates, once, in `--cert-dir`:

- `ca.crt` / `ca.key`: the cluster CA (kubectl trusts it through the kubeconfig;
  client certificates it signed authenticate users, CN = user, O = groups);
- `apiserver.crt` / `apiserver.key`: the serving certificate for 6443, valid for
  the names a client may use (localhost, 127.0.0.1, kubernetes,
  kubernetes.default.svc..., 10.96.0.1, the compose container name `apiserver`
  and the advertise address);
- `tokens.csv`: static bearer tokens, upstream's format `token,user,uid,"g1,g2"`,
  with one admin token in group system:masters;
- `admin.kubeconfig`: cluster/context/user `kubelab` pointing at
  https://127.0.0.1:6443 with the CA data and the admin token.

Later starts reuse what is there, so kubeconfigs keep working across restarts.
A serving certificate that lacks a requested name is reissued (same CA).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger("apiserver")

ADMIN_USER = "kubelab-admin"
ADMIN_GROUPS = ("system:masters", "system:authenticated")
DEFAULT_NAMES = (
    "localhost",
    "127.0.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "10.96.0.1",
    "apiserver",
)
_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class PKI:
    """Paths of the files `ensure` manages."""

    cert_dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.cert_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.cert_dir / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.cert_dir / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.cert_dir / "apiserver.key"

    @property
    def tokens(self) -> Path:
        return self.cert_dir / "tokens.csv"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.cert_dir / "admin.kubeconfig"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelab-ca")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _alt_names(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    common_name: str,
    organizations: tuple[str, ...] = (),
    names: list[str] | None = None,
    server: bool = False,
) -> tuple[bytes, bytes]:
    """A certificate signed by the CA: (cert PEM, key PEM). With `server`, a
    serving certificate for `names`; otherwise a client certificate whose CN is
    the user and whose O entries are the groups."""
    key = _key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    now = _now()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_alt_names(names)), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _load_ca(pki: PKI) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki.ca_key} is not an EC private key")
    return cert, key


def _serving_names(path: Path) -> set[str]:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return set()
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    }


def admin_token(pki: PKI) -> str:
    """The admin's bearer token (first line of tokens.csv for the admin user)."""
    for line in pki.tokens.read_text().splitlines():
        parts = line.split(",")
        if len(parts) >= 2 and parts[1] == ADMIN_USER:
            return parts[0]
    raise ValueError(f"no token for {ADMIN_USER} in {pki.tokens}")


def kubeconfig(*, server: str, ca_pem: bytes, token: str, name: str = "kubelab") -> str:
    """A kubeconfig with one cluster, user and context, all called `name`."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def ensure(
    cert_dir: Path,
    *,
    extra_names: list[str] | None = None,
    server_url: str = "https://127.0.0.1:6443",
) -> PKI:
    """Create whatever is missing in `cert_dir` (see the module docstring)."""
    pki = PKI(cert_dir)
    cert_dir.mkdir(parents=True, exist_ok=True)
    if not (pki.ca_cert.exists() and pki.ca_key.exists()):
        ca_cert, ca_key = _make_ca()
        _write_private(pki.ca_key, _key_pem(ca_key))
        _write(pki.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
        log.info("created the cluster CA in %s", cert_dir)
    ca_cert, ca_key = _load_ca(pki)

    names = list(DEFAULT_NAMES)
    for n in extra_names or []:
        if n and n not in names and n not in ("0.0.0.0", "::"):
            names.append(n)
    if not pki.serving_key.exists() or not set(names) <= _serving_names(pki.serving_cert):
        cert_pem, key_pem = issue(
            ca_cert, ca_key, common_name="kube-apiserver", names=names, server=True
        )
        _write_private(pki.serving_key, key_pem)
        _write(pki.serving_cert, cert_pem)
        log.info("issued the apiserver serving certificate for %s", ", ".join(names))

    if not pki.tokens.exists():
        token = secrets.token_urlsafe(32)
        groups = ",".join(ADMIN_GROUPS)
        _write_private(pki.tokens, f'{token},{ADMIN_USER},{ADMIN_USER},"{groups}"\n'.encode())
    if not pki.admin_kubeconfig.exists():
        text = kubeconfig(
            server=server_url, ca_pem=pki.ca_cert.read_bytes(), token=admin_token(pki)
        )
        _write_private(pki.admin_kubeconfig, text.encode())
        log.info("wrote the admin kubeconfig %s", pki.admin_kubeconfig)
    return pki
