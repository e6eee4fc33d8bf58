"""Who is calling the REST API, and may they do it.

Authentication, as upstream's static-token and x509 authenticators:

- `Authorization: Bearer <token>` looked up in the tokens file (`tokens.csv` in
  the cert dir, upstream's `token,user,uid,"group1,group2"` format); a token
  whose user is a service account (`system:serviceaccount:<ns>:<name>`) stands
  for that account's token and gets its groups, as upstream's service account
  authenticator gives them;
- a client certificate signed by the cluster CA: CN is the user, each O a group.

Every authenticated user is in `system:authenticated`. Anything else is
anonymous (`system:anonymous`, group `system:unauthenticated`): the REST layer
answers 401 except on the public paths RBAC lets anonymous users read.

Impersonation (`Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid`,
`Impersonate-Extra-*`, as `kubectl --as` sends) is authorized as upstream: the
caller needs the `impersonate` verb on each users/groups/serviceaccounts/uids/
userextras it asks for.

Authorization (`Authorizer`) is upstream's chain for this cluster: members of
`system:masters` may do everything, with no lookup at all (the superuser fast
path); everyone else gets what RBAC (apiserver/rbac.py) grants them.
"""

from __future__ import annotations

import contextvars
import csv
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from apimachinery import errors
from apiserver import rbac

log = logging.getLogger("apiserver")

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"


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


ANONYMOUS_USER = User(name=ANONYMOUS, groups=(UNAUTHENTICATED,))

# The user a REST request acts as, for the admission plugins that need it (RBAC
# escalation prevention). Unset for the components' gRPC calls and the
# apiserver's own writes: they act as the cluster itself.
REQUEST_USER: contextvars.ContextVar[User | None] = contextvars.ContextVar(
    "request_user", default=None
)


def _with_authenticated(name: str, groups: Iterable[str]) -> tuple[str, ...]:
    """The groups of an authenticated user: a service account's own groups, then
    `system:authenticated`."""
    out = [g for g in groups if g]
    account = rbac.split_service_account(name)
    if account is not None:
        out += [g for g in rbac.service_account_groups(account[0]) if g not in out]
    if AUTHENTICATED not in out:
        out.append(AUTHENTICATED)
    return tuple(out)


def load_tokens(path: Path) -> dict[str, User]:
    """The static tokens file: token -> user."""
    users: dict[str, User] = {}
    if not path.exists():
        return users
    with path.open(newline="") as f:
        for row in csv.reader(f):
            if len(row) < 2 or row[0].startswith("#"):
                continue
            groups = _with_authenticated(row[1], row[3].split(",") if len(row) > 3 else [])
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
        return User(name=name, groups=_with_authenticated(name, groups))

    def authenticate(self, authorization: str, peercert: dict[str, Any] | None) -> User | None:
        if authorization[:7].lower() == "bearer ":
            user = self.from_token(authorization[7:].strip())
            if user is not None:
                return user
        return self.from_peercert(peercert)


def impersonation_requests(headers: Any) -> list[Attributes]:
    """What a request's `Impersonate-*` headers ask to act as, each as the
    `impersonate` request the caller must be allowed (upstream's impersonation
    filter: users or serviceaccounts, groups, uids, userextras/<key>)."""
    wanted: list[Attributes] = []
    name = headers.get("Impersonate-User", "")
    if name:
        account = rbac.split_service_account(name)
        if account is not None:
            wanted.append(
                Attributes("impersonate", "serviceaccounts", namespace=account[0], name=account[1])
            )
        else:
            wanted.append(Attributes("impersonate", "users", name=name))
    for group in headers.getall("Impersonate-Group", []):
        wanted.append(Attributes("impersonate", "groups", name=group))
    uid = headers.get("Impersonate-Uid", "")
    if uid:
        wanted.append(Attributes("impersonate", "uids", group="authentication.k8s.io", name=uid))
    for key, value in _extras(headers):
        wanted.append(
            Attributes(
                "impersonate",
                "userextras",
                subresource=key,
                group="authentication.k8s.io",
                name=value,
            )
        )
    return wanted


def _extras(headers: Any) -> list[tuple[str, str]]:
    prefix = "impersonate-extra-"
    out = []
    for key, value in headers.items():
        if key.lower().startswith(prefix):
            out.append((unquote(key[len(prefix) :].lower()), value))
    return out


def impersonate(user: User, headers: Any) -> User:
    """The user a request acts as, after `Impersonate-*` headers (the caller has
    authorized `impersonation_requests` first). A service account gets its
    groups when none are asked for; `system:authenticated` is added unless the
    groups name it or `system:unauthenticated`, as upstream."""
    name = headers.get("Impersonate-User", "")
    if not name:
        return user
    groups = list(headers.getall("Impersonate-Group", []))
    account = rbac.split_service_account(name)
    if account is not None and not groups:
        groups = list(rbac.service_account_groups(account[0]))
    if name == ANONYMOUS:
        if UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    extra: dict[str, list[str]] = {}
    for key, value in _extras(headers):
        extra.setdefault(key, []).append(value)
    return User(
        name=name, uid=headers.get("Impersonate-Uid", ""), groups=tuple(groups), extra=extra
    )


class RuleStore(rbac.RuleSource, Protocol):
    """The RBAC objects, and a way to bring them up to date with etcd."""

    async def catch_up(self) -> None: ...


def authorize(user: User, attrs: Attributes, rules: rbac.RuleSource) -> tuple[bool, str]:
    """(allowed, reason) from the rules as they are: `system:masters` may do
    everything (no lookup), everyone else what RBAC grants."""
    if user.is_admin:
        return True, ""
    return rbac.authorize(rules, user, attrs)


class Authorizer:
    """`authorize` on a RuleStore, consistent for denials: before it says no, it
    lets the RBAC caches catch up with etcd and looks again, so a Role or binding
    written just before the request (on any apiserver) is always seen."""

    def __init__(self, rules: RuleStore) -> None:
        self.rules = rules

    async def authorize(self, user: User, attrs: Attributes) -> tuple[bool, str]:
        allowed, reason = authorize(user, attrs, self.rules)
        if allowed:
            return allowed, reason
        try:
            await self.rules.catch_up()
        except errors.APIError as e:
            log.warning("RBAC caches could not catch up with etcd (%s); answering from them", e)
            return allowed, reason
        return authorize(user, attrs, self.rules)

    async def rules_for(self, user: User, namespace: str) -> tuple[list[rbac.JSON], list[str]]:
        """The rules that apply to `user` in `namespace` (SelfSubjectRulesReview),
        from caches that have caught up with etcd."""
        try:
            await self.rules.catch_up()
        except errors.APIError as e:
            log.warning("RBAC caches could not catch up with etcd (%s); answering from them", e)
        return rbac.rules_for(self.rules, user, namespace)


def forbidden_message(user: User, attrs: Attributes, reason: str = "") -> str:
    """Upstream's wording for a 403 (the authorizer's reason, if any, appended)."""
    if not attrs.is_resource:
        text = f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
        return f"{text}: {reason}" if reason else text
    resource = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    what = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    subject = f'{resource} "{attrs.name}"' if attrs.name else resource
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    text = (
        f'{subject} is forbidden: User "{user.name}" cannot {attrs.verb} resource "{what}" '
        f'in API group "{attrs.group}"{where}'
    )
    return f"{text}: {reason}" if reason else text
