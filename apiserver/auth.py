"""Who is calling the REST API, and may they do it.

Authentication, as upstream's static-token and x509 authenticators:

- `Authorization: Bearer <token>` looked up in the tokens file (`tokens.csv` in
  the cert dir, upstream's `token,user,uid,"group1,group2"` format);
- a client certificate signed by the cluster CA: CN is the user, each O a group.

Anything else is anonymous, and the REST layer answers 401. Members of
`system:masters` may impersonate (`Impersonate-User`, `Impersonate-Group`, as
`kubectl --as` sends). Authorization is the minimal policy of this stage:
`system:masters` may do everything; any authenticated user may read discovery
and the OpenAPI documents and ask what they may do (SelfSubjectAccessReview);
nobody else may do anything.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return MASTERS in self.groups

    def to_user_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        return info


@dataclass(frozen=True)
class Attributes:
    """What a request does, as upstream's authorizer.Attributes."""

    verb: str
    resource: str = ""
    subresource: str = ""
    group: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # for non-resource requests

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


def load_tokens(path: Path) -> dict[str, User]:
    """The static tokens file: token -> user."""
    users: dict[str, User] = {}
    if not path.exists():
        return users
    with path.open(newline="") as f:
        for row in csv.reader(f):
            if len(row) < 2 or row[0].startswith("#"):
                continue
            groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
            if AUTHENTICATED not in groups:
                groups = (*groups, AUTHENTICATED)
            users[row[0]] = User(name=row[1], uid=row[2] if len(row) > 2 else "", groups=groups)
    return users


class Authenticator:
    """Bearer tokens from the tokens file (re-read when it changes), client
    certificates as the TLS layer verified them."""

    def __init__(self, tokens_file: Path) -> None:
        self.tokens_file = tokens_file
        self._mtime = -1.0
        self._tokens: dict[str, User] = {}

    def _reload(self) -> None:
        try:
            mtime = self.tokens_file.stat().st_mtime
        except OSError:
            return
        if mtime != self._mtime:
            self._tokens = load_tokens(self.tokens_file)
            self._mtime = mtime

    def from_token(self, token: str) -> User | None:
        self._reload()
        return self._tokens.get(token)

    @staticmethod
    def from_peercert(peercert: dict[str, Any] | None) -> User | None:
        """The user of a verified client certificate (ssl's getpeercert() dict)."""
        if not peercert:
            return None
        name = ""
        groups: list[str] = []
        for rdn in peercert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    name = value
                elif key == "organizationName":
                    groups.append(value)
        if not name:
            return None
        if AUTHENTICATED not in groups:
            groups.append(AUTHENTICATED)
        return User(name=name, groups=tuple(groups))

    def authenticate(self, authorization: str, peercert: dict[str, Any] | None) -> User | None:
        if authorization[:7].lower() == "bearer ":
            user = self.from_token(authorization[7:].strip())
            if user is not None:
                return user
        return self.from_peercert(peercert)


def impersonate(user: User, headers: Any) -> User:
    """The user a request acts as, after `Impersonate-*` headers (admins only;
    the caller checks `user.is_admin` before calling)."""
    name = headers.get("Impersonate-User", "")
    if not name:
        return user
    groups = list(headers.getall("Impersonate-Group", []))
    if AUTHENTICATED not in groups and not name.startswith("system:anonymous"):
        groups.append(AUTHENTICATED)
    extra: dict[str, list[str]] = {}
    for key in headers:
        if key.lower().startswith("impersonate-extra-"):
            extra.setdefault(key[len("Impersonate-Extra-") :], []).append(headers[key])
    return User(
        name=name, uid=headers.get("Impersonate-Uid", ""), groups=tuple(groups), extra=extra
    )


_SELF_SERVICE = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}


def authorize(user: User, attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason). Admins may do everything; authenticated users may
    read non-resource URLs (discovery, OpenAPI, version, health) and ask about
    their own permissions."""
    if user.is_admin:
        return True, "system:masters may do everything"
    if AUTHENTICATED in user.groups:
        if not attrs.is_resource and attrs.verb == "get":
            return True, "discovery is readable by every authenticated user"
        if attrs.verb == "create" and (attrs.group, attrs.resource) in _SELF_SERVICE:
            return True, "users may ask about themselves"
    return False, ""


def forbidden_message(user: User, attrs: Attributes) -> str:
    """Upstream's wording for a 403."""
    if not attrs.is_resource:
        return f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    what = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    subject = f'{resource} "{attrs.name}"' if attrs.name else resource
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user.name}" cannot {attrs.verb} resource "{what}" '
        f'in API group "{attrs.group}"{where}'
    )
