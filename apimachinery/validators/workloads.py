"""Validation of workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet,
ControllerRevision, Job and CronJob, including what their updates may not
change (a selector, a Job's template)."""

from __future__ import annotations

import re

from apimachinery import names
from apimachinery.fielderrors import ErrorList, go_label_selector, go_map, path
from apimachinery.validators.common import (
    JSON,
    as_dict,
    int_or_percent,
    labels_match_selector,
    non_negative,
    positive,
    scaled,
    selector_is_empty,
    supported,
    validate_annotations,
    validate_label_selector,
    validate_labels,
)
from apimachinery.validators.core import validate_pvc_spec
from apimachinery.validators.pods import validate_pod_template


def _selector_and_template(
    spec: JSON,
    errs: ErrorList,
    *,
    kind: str,
    restart_policies: tuple[str, ...] = ("Always",),
    fld: str = "spec",
) -> None:
    selector = spec.get("selector")
    if selector is None:
        errs.required(path(fld, "selector"))
    else:
        validate_label_selector(selector, path(fld, "selector"), errs)
        if selector_is_empty(selector):
            errs.invalid_raw(
                path(fld, "selector"),
                go_label_selector(as_dict(selector)),
                f"empty selector is invalid for {kind}",
            )
    template = spec.get("template")
    validate_pod_template(template, path(fld, "template"), errs, restart_policies=restart_policies)
    labels = as_dict(as_dict(as_dict(template).get("metadata")).get("labels"))
    if (
        selector is not None
        and not selector_is_empty(selector)
        and not labels_match_selector(labels, selector)
    ):
        errs.invalid_raw(
            path(fld, "template", "metadata", "labels"),
            go_map(labels),
            "`selector` does not match template `labels`",
        )


def _replicas(spec: JSON, errs: ErrorList) -> None:
    non_negative(spec.get("replicas"), "spec.replicas", errs)
    non_negative(spec.get("minReadySeconds"), "spec.minReadySeconds", errs)
    non_negative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", errs)


def _rolling_update(ru: JSON, fld: str, errs: ErrorList, *, replicas_hint: int = 100) -> None:
    surge, unavailable = ru.get("maxSurge"), ru.get("maxUnavailable")
    int_or_percent(surge, path(fld, "maxSurge"), errs)
    int_or_percent(unavailable, path(fld, "maxUnavailable"), errs)
    if (
        isinstance(unavailable, str)
        and not names.percent_errors(unavailable)
        and int(unavailable[:-1]) > 100
    ):
        errs.invalid(path(fld, "maxUnavailable"), unavailable, "must not be greater than 100%")
    if (
        surge is not None
        and unavailable is not None
        and scaled(surge, replicas_hint, round_up=True) == 0
        and scaled(unavailable, replicas_hint, round_up=False) == 0
    ):
        errs.invalid(path(fld, "maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0")


def validate_deployment(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    _replicas(spec, errs)
    _selector_and_template(spec, errs, kind="deployment")
    strategy = as_dict(spec.get("strategy"))
    stype = strategy.get("type")
    supported(stype, "spec.strategy.type", ("Recreate", "RollingUpdate"), errs)
    if stype == "Recreate" and strategy.get("rollingUpdate") is not None:
        errs.forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        )
    if stype == "RollingUpdate":
        _rolling_update(as_dict(strategy.get("rollingUpdate")), "spec.strategy.rollingUpdate", errs)
    pds = spec.get("progressDeadlineSeconds")
    if isinstance(pds, int):
        positive(pds, "spec.progressDeadlineSeconds", errs)
        mrs = spec.get("minReadySeconds") or 0
        if pds > 0 and isinstance(mrs, int) and pds <= mrs:
            errs.invalid(
                "spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"
            )


def _selector_immutable(new: JSON, old: JSON, errs: ErrorList) -> None:
    a = as_dict(new.get("spec")).get("selector")
    b = as_dict(old.get("spec")).get("selector")
    if a != b:
        errs.invalid_raw(
            "spec.selector",
            go_label_selector(as_dict(a) if a is not None else None),
            "field is immutable",
        )


def validate_deployment_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    _selector_immutable(new, old, errs)


def validate_replicaset(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    _replicas(spec, errs)
    _selector_and_template(spec, errs, kind="replicaset")


def validate_replicaset_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    _selector_immutable(new, old, errs)


def validate_statefulset(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    _replicas(spec, errs)
    _selector_and_template(spec, errs, kind="statefulset")
    supported(
        spec.get("podManagementPolicy"),
        "spec.podManagementPolicy",
        ("OrderedReady", "Parallel"),
        errs,
    )
    strategy = as_dict(spec.get("updateStrategy"))
    stype = strategy.get("type")
    supported(stype, "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"), errs)
    ru = as_dict(strategy.get("rollingUpdate"))
    if stype == "OnDelete" and strategy.get("rollingUpdate") is not None:
        errs.invalid(
            "spec.updateStrategy.rollingUpdate",
            "",
            "only allowed for updateStrategy 'RollingUpdate'",
        )
    non_negative(ru.get("partition"), "spec.updateStrategy.rollingUpdate.partition", errs)
    service_name = spec.get("serviceName")
    if service_name:
        for msg in names.dns1035_label_errors(str(service_name)):
            errs.invalid("spec.serviceName", service_name, msg)
    for i, claim in enumerate(spec.get("volumeClaimTemplates") or []):
        if isinstance(claim, dict):
            p = path("spec", "volumeClaimTemplates", i)
            claim_name = as_dict(claim.get("metadata")).get("name")
            if not claim_name:
                errs.required(path(p, "metadata", "name"))
            validate_pvc_spec(as_dict(claim.get("spec")), path(p, "spec"), errs)
    retention = as_dict(spec.get("persistentVolumeClaimRetentionPolicy"))
    for k in ("whenDeleted", "whenScaled"):
        supported(
            retention.get(k),
            f"spec.persistentVolumeClaimRetentionPolicy.{k}",
            ("Retain", "Delete"),
            errs,
        )


_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def validate_statefulset_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    a = {k: v for k, v in as_dict(new.get("spec")).items() if k not in _STS_MUTABLE}
    b = {k: v for k, v in as_dict(old.get("spec")).items() if k not in _STS_MUTABLE}
    if a != b:
        errs.forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
            "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden",
        )


def validate_daemonset(obj: JSON, errs: ErrorList) -> None:
    spec = as_dict(obj.get("spec"))
    non_negative(spec.get("minReadySeconds"), "spec.minReadySeconds", errs)
    non_negative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", errs)
    _selector_and_template(spec, errs, kind="daemonset")
    strategy = as_dict(spec.get("updateStrategy"))
    stype = strategy.get("type")
    supported(stype, "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"), errs)
    if stype == "RollingUpdate":
        _rolling_update(
            as_dict(strategy.get("rollingUpdate")), "spec.updateStrategy.rollingUpdate", errs
        )


def validate_daemonset_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    _selector_immutable(new, old, errs)


def validate_controllerrevision(obj: JSON, errs: ErrorList) -> None:
    non_negative(obj.get("revision"), "revision", errs)


def validate_controllerrevision_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    if new.get("data") != old.get("data"):
        errs.invalid("data", "", "field is immutable")


def validate_job_spec(
    spec: JSON, errs: ErrorList, *, fld: str = "spec", generated: bool = True
) -> None:
    for name in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        non_negative(spec.get(name), path(fld, name), errs)
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None:
        positive(ads, path(fld, "activeDeadlineSeconds"), errs)
    supported(
        spec.get("completionMode"), path(fld, "completionMode"), ("NonIndexed", "Indexed"), errs
    )
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        errs.required(path(fld, "completions"), "when completion mode is Indexed")
    supported(
        spec.get("podReplacementPolicy"),
        path(fld, "podReplacementPolicy"),
        ("TerminatingOrFailed", "Failed"),
        errs,
    )
    restart = ("OnFailure", "Never")
    if generated:
        selector = spec.get("selector")
        if selector is None:
            errs.required(path(fld, "selector"))
        validate_pod_template(
            spec.get("template"), path(fld, "template"), errs, restart_policies=restart
        )
        labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
        if selector is not None:
            validate_label_selector(selector, path(fld, "selector"), errs)
            if not labels_match_selector(labels, selector):
                errs.invalid_raw(
                    path(fld, "template", "metadata", "labels"),
                    go_map(labels),
                    "`selector` does not match template `labels`",
                )
    else:
        validate_pod_template(
            spec.get("template"), path(fld, "template"), errs, restart_policies=restart
        )


def validate_job(obj: JSON, errs: ErrorList) -> None:
    validate_job_spec(as_dict(obj.get("spec")), errs)


def validate_job_update(new: JSON, old: JSON, errs: ErrorList) -> None:
    a, b = as_dict(new.get("spec")), as_dict(old.get("spec"))
    _selector_immutable(new, old, errs)
    if a.get("completions") != b.get("completions"):
        errs.immutable("spec.completions", a.get("completions"))
    if a.get("completionMode") != b.get("completionMode"):
        errs.immutable("spec.completionMode", a.get("completionMode"))
    # A suspended Job that never started may have its template changed (upstream allows
    # scheduling directives only; kubelab allows the template as a whole).
    if a.get("template") != b.get("template") and not b.get("suspend"):
        errs.invalid_raw("spec.template", "core.PodTemplateSpec{...}", "field is immutable")


_CRON_FIELD = re.compile(r"^[0-9*/,\-?LW#A-Za-z]+$")
_CRON_MACROS = (
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
)


def cron_errors(schedule: str) -> list[str]:
    """Standard 5-field cron syntax (or a macro); upstream's robfig/cron wording."""
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        return ["cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]
    if text in _CRON_MACROS or text.startswith("@every "):
        return []
    fields = text.split()
    if len(fields) != 5:
        return [f"unparseable schedule: expected exactly 5 fields, found {len(fields)}: {text}"]
    ranges = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
    for value, (lo, hi) in zip(fields, ranges, strict=True):
        if not _CRON_FIELD.match(value):
            return [f"unparseable schedule: failed to parse int from {value}"]
        for part in value.split(","):
            base = part.split("/")[0]
            for bound in base.split("-"):
                if bound.isdigit() and int(bound) > hi:
                    return [f"end of range ({bound}) above maximum ({hi}): {part}"]
                if bound.isdigit() and int(bound) < lo:
                    return [f"beginning of range ({bound}) below minimum ({lo}): {part}"]
    return []


def validate_cronjob(obj: JSON, errs: ErrorList) -> None:
    name = as_dict(obj.get("metadata")).get("name")
    if isinstance(name, str) and len(name) > 52:
        errs.invalid("metadata.name", name, "must be no more than 52 characters")
    spec = as_dict(obj.get("spec"))
    schedule = spec.get("schedule")
    if not schedule:
        errs.required("spec.schedule")
    else:
        for msg in cron_errors(str(schedule)):
            errs.invalid("spec.schedule", schedule, msg)
    supported(
        spec.get("concurrencyPolicy"),
        "spec.concurrencyPolicy",
        ("Allow", "Forbid", "Replace"),
        errs,
    )
    for name_ in (
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ):
        non_negative(spec.get(name_), path("spec", name_), errs)
    job_template = as_dict(spec.get("jobTemplate"))
    meta = as_dict(job_template.get("metadata"))
    validate_labels(meta.get("labels"), "spec.jobTemplate.metadata.labels", errs)
    validate_annotations(meta.get("annotations"), "spec.jobTemplate.metadata.annotations", errs)
    validate_job_spec(
        as_dict(job_template.get("spec")),
        errs,
        fld="spec.jobTemplate.spec",
        generated=False,
    )
