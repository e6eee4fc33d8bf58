"""The CronJob controller: creates a Job at each time of a cron schedule.

At each scheduled time (UTC, standard five-field cron syntax or @hourly,
@daily...) a Job named `<cronjob>-<minutes since the epoch>` is created from
the jobTemplate, unless the CronJob is suspended, the time was missed by more
than startingDeadlineSeconds, or concurrencyPolicy Forbid finds a Job still
running (Replace deletes it instead). Finished Jobs beyond
successfulJobsHistoryLimit/failedJobsHistoryLimit are deleted, oldest first.
Status lists the active Jobs and the last schedule and success times.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apimachinery import errors
from controller_manager import kube
from controller_manager.base import JSON, Context, Controller, split_key
from controller_manager.job import JOBS, job_finished

CRONJOBS = kube.rt("batch", "cronjobs")
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d.lower(): (i + 1) % 7 for i, d in enumerate(calendar.day_abbr)}


def _field(text: str, lo: int, hi: int, names: Mapping[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for term in text.lower().split(","):
        part, step = term, 1
        if "/" in term:
            part, step_text = term.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise ValueError(f"invalid step in {text!r}")
        if part in ("*", "?"):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = int(names.get(a, a)), int(names.get(b, b))
        else:
            start = int(names.get(part, part))
            end = hi if step > 1 else start
        if start < lo or end > hi or start > end:
            raise ValueError(f"{text!r} is out of range {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @staticmethod
    def parse(text: str) -> Schedule:
        text = _MACROS.get(text.strip(), text.strip())
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(f"expected exactly 5 fields, found {len(parts)}: {text!r}")
        weekdays = {7 if d == 7 else d for d in _field(parts[4], 0, 7, _DAYS)}
        return Schedule(
            minutes=_field(parts[0], 0, 59, {}),
            hours=_field(parts[1], 0, 23, {}),
            days=_field(parts[2], 1, 31, {}),
            months=_field(parts[3], 1, 12, _MONTHS),
            weekdays=frozenset(0 if d == 7 else d for d in weekdays),
            any_day=parts[2] in ("*", "?"),
            any_weekday=parts[4] in ("*", "?"),
        )

    def _day_matches(self, t: datetime.datetime) -> bool:
        dom = t.day in self.days
        dow = (t.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow  # cron: either restricted field may match

    def next_after(self, after: float) -> float:
        """The first scheduled time strictly after `after` (seconds since the epoch)."""
        t = datetime.datetime.fromtimestamp(after, datetime.UTC).replace(second=0, microsecond=0)
        t += datetime.timedelta(minutes=1)
        for _ in range(100_000):
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0)
                continue
            if not self._day_matches(t):
                t = (t + datetime.timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if t.hour not in self.hours:
                t = (t + datetime.timedelta(hours=1)).replace(minute=0)
                continue
            if t.minute not in self.minutes:
                t += datetime.timedelta(minutes=1)
                continue
            return t.timestamp()
        raise ValueError("the schedule never fires")

    def last_at_or_before(self, now: float, since: float) -> tuple[float | None, int]:
        """The latest scheduled time in (since, now], and how many there were (up to 101)."""
        last: float | None = None
        count = 0
        t = since
        while count <= 100:
            nxt = self.next_after(t)
            if nxt > now:
                break
            last, t = nxt, nxt
            count += 1
        return last, count


def job_name(cronjob: Mapping[str, Any], scheduled: float) -> str:
    return f"{kube.name(cronjob)}-{int(scheduled // 60)}"


def job_from_template(cronjob: JSON, scheduled: float) -> JSON:
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(cronjob, scheduled),
            "namespace": kube.namespace(cronjob),
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": {
                **(tmeta.get("annotations") or {}),
                SCHEDULED_AT: kube.rfc3339(scheduled),
            },
            "ownerReferences": [kube.owner_reference(cronjob)],
        },
        "spec": kube.deepcopy(dict(template.get("spec") or {})),
    }


def object_reference(job: Mapping[str, Any]) -> JSON:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": kube.name(job),
        "namespace": kube.namespace(job),
        "uid": kube.uid(job),
        "resourceVersion": kube.meta(job).get("resourceVersion", ""),
    }


class CronJobController(Controller):
    name = "cronjob"
    component = "cronjob-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.cronjobs = ctx.informers.informer(CRONJOBS)
        self.jobs = ctx.informers.informer(JOBS)
        self.cronjobs.add_handlers(on_add=self.enqueue, on_update=self._cronjob_updated)
        self.jobs.add_handlers(
            on_add=self._job_changed, on_update=self._job_updated, on_delete=self._job_changed
        )

    def synced(self) -> bool:
        return self.cronjobs.has_synced() and self.jobs.has_synced()

    def _cronjob_updated(self, old: JSON, new: JSON) -> None:
        self.enqueue(new)

    def _job_changed(self, job: JSON) -> None:
        ref = kube.controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.queue.add(f"{kube.namespace(job)}/{ref.get('name')}")

    def _job_updated(self, old: JSON, new: JSON) -> None:
        self._job_changed(new)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cj = self.cronjobs.get(ns, name)
        if cj is None or kube.deleting(cj):
            return
        now = self.ctx.clock()
        spec = cj.get("spec") or {}
        jobs = [j for j in self.jobs.list(namespace=ns) if kube.is_controlled_by(j, cj)]
        active = [j for j in jobs if job_finished(j) is None and not kube.deleting(j)]
        old_status = cj.get("status") or {}
        status: JSON = {
            k: v for k, v in old_status.items() if k in ("lastScheduleTime", "lastSuccessfulTime")
        }
        for j in jobs:
            if job_finished(j) == "Complete":
                done = (j.get("status") or {}).get("completionTime")
                if done and (
                    not status.get("lastSuccessfulTime")
                    or (kube.parse_time(done) or 0)
                    > (kube.parse_time(status["lastSuccessfulTime"]) or 0)
                ):
                    status["lastSuccessfulTime"] = done
        try:
            schedule = Schedule.parse(str(spec.get("schedule", "")))
        except ValueError as e:
            self.event(cj, "Warning", "UnparseableSchedule", f"unparseable schedule: {e}")
            return
        since = kube.parse_time(status.get("lastScheduleTime")) or kube.parse_time(
            kube.meta(cj).get("creationTimestamp")
        )
        since = since if since is not None else now
        scheduled, missed = schedule.last_at_or_before(now, since)
        deadline = spec.get("startingDeadlineSeconds")
        if scheduled is not None and not spec.get("suspend"):
            if missed > 100:
                self.event(
                    cj,
                    "Warning",
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                    "or check clock skew",
                )
            if deadline is not None and now - scheduled > int(deadline):
                self.event(
                    cj,
                    "Warning",
                    "MissSchedule",
                    f"Missed scheduled time to start a job: {kube.rfc3339(scheduled)}",
                )
            else:
                policy = spec.get("concurrencyPolicy", "Allow")
                if policy == "Forbid" and active:
                    self.event(
                        cj,
                        "Normal",
                        "JobAlreadyActive",
                        "Not starting job because prior execution is running and concurrency "
                        "policy is Forbid",
                    )
                    scheduled = None
                elif policy == "Replace":
                    for j in active:
                        await self._delete_job(cj, j)
                    active = []
                if scheduled is not None:
                    created = await self._create_job(cj, scheduled)
                    if created is not None:
                        active.append(created)
                    status["lastScheduleTime"] = kube.rfc3339(scheduled)
        if active:
            status["active"] = [object_reference(j) for j in active]
        if status != old_status:
            new = kube.deepcopy(cj)
            new["status"] = status
            await self.api.update_status(CRONJOBS, new)
        await self.cleanup(cj, jobs)
        self.queue.add_after(key, max(schedule.next_after(now) - now, 0) + 0.5)

    async def _create_job(self, cj: JSON, scheduled: float) -> JSON | None:
        try:
            job = await self.api.create(
                JOBS, job_from_template(cj, scheduled), namespace=kube.namespace(cj)
            )
        except errors.AlreadyExists:
            return None
        self.event(cj, "Normal", "SuccessfulCreate", f"Created job {kube.name(job)}")
        return job

    async def _delete_job(self, cj: JSON, job: JSON) -> None:
        with contextlib.suppress(errors.NotFound):
            await self.api.delete(
                JOBS,
                kube.name(job),
                namespace=kube.namespace(job),
                options={"propagationPolicy": "Background"},
            )
            self.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {kube.name(job)}")

    async def cleanup(self, cj: JSON, jobs: list[JSON]) -> None:
        spec = cj.get("spec") or {}
        for kind, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit", 3)),
            ("Failed", spec.get("failedJobsHistoryLimit", 1)),
        ):
            if limit is None:
                continue
            finished = sorted(
                (j for j in jobs if job_finished(j) == kind and not kube.deleting(j)),
                key=lambda j: kube.parse_time(kube.meta(j).get("creationTimestamp")) or 0,
            )
            for j in finished[: max(len(finished) - int(limit), 0)]:
                await self._delete_job(cj, j)
