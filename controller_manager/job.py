"""The Job controller: runs pods until enough of them succeed.

A Job keeps up to `parallelism` pods running until `completions` pods have
succeeded (or, without completions, until one succeeded and none is left
running: a work queue). More than `backoffLimit` failed pods, or running
longer than `activeDeadlineSeconds`, fails it; either way the pods still
running are deleted. Its status counts active, ready, succeeded and failed
pods and carries upstream's conditions (Complete/SuccessCriteriaMet,
Failed/FailureTarget, Suspended), which `kubectl get jobs` and `kubectl wait
--for=condition=complete` read. `ttlSecondsAfterFinished` deletes a finished
Job (and, through the garbage collector, its pods).

Not done: Indexed completion mode, pod failure policies, the exponential
delay before recreating failed pods.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from apimachinery import errors
from controller_manager import kube, podcontrol
from controller_manager.base import JSON, Context, Controller, Expectations, key_of, split_key

JOBS = kube.rt("batch", "jobs")


def job_finished(job: Mapping[str, Any]) -> str | None:
    """ "Complete" or "Failed" when the Job has finished."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def condition(type_: str, reason: str, message: str, now: float) -> JSON:
    t = kube.rfc3339(now)
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": t,
        "lastTransitionTime": t,
        "reason": reason,
        "message": message,
    }


def newest_first(pods: list[JSON]) -> list[JSON]:
    return sorted(
        pods,
        key=lambda p: (
            1 if kube.node_name(p) else 0,
            1 if kube.pod_is_ready(p) else 0,
            -(kube.parse_time(kube.meta(p).get("creationTimestamp")) or 0.0),
        ),
    )


class JobController(Controller):
    name = "job"
    component = "job-controller"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.jobs = ctx.informers.informer(JOBS)
        self.pods = ctx.informers.informer(kube.PODS)
        self.expectations = Expectations()
        self.jobs.add_handlers(
            on_add=self.enqueue,
            on_update=self._job_updated,
            on_delete=self._job_deleted,
        )
        self.pods.add_handlers(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    def synced(self) -> bool:
        return self.jobs.has_synced() and self.pods.has_synced()

    def _job_updated(self, old: JSON, new: JSON) -> None:
        self.enqueue(new)

    def _job_deleted(self, job: JSON) -> None:
        self.expectations.forget(key_of(job))

    def _owner_key(self, pod: Mapping[str, Any]) -> str | None:
        ref = kube.controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        return f"{kube.namespace(pod)}/{ref.get('name')}"

    def _pod_added(self, pod: JSON) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        key = self._owner_key(new)
        if key is not None:
            if kube.deleting(new) and not kube.deleting(old):
                self.expectations.deletion_observed(key, kube.uid(new))
            self.queue.add(key)

    def _pod_deleted(self, pod: JSON) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, kube.uid(pod))
            self.queue.add(key)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        job = self.jobs.get(ns, name)
        if job is None:
            self.expectations.forget(key)
            return
        now = self.ctx.clock()
        spec = job.get("spec") or {}
        old_status = job.get("status") or {}
        selector = kube.label_selector(spec.get("selector"))
        pods = await podcontrol.claim_pods(self.api, job, self.pods.list(namespace=ns), selector)
        active = [p for p in pods if kube.pod_is_active(p)]
        succeeded = max(
            sum(1 for p in pods if kube.pod_phase(p) == "Succeeded"),
            int(old_status.get("succeeded") or 0),
        )
        failed = max(
            sum(1 for p in pods if kube.pod_phase(p) == "Failed"),
            int(old_status.get("failed") or 0),
        )
        status: JSON = {k: v for k, v in old_status.items() if k in ("startTime", "conditions")}
        conditions: list[JSON] = list(status.get("conditions") or [])
        finished = job_finished(job)

        if finished is None:
            suspended = bool(spec.get("suspend"))
            if not suspended and "startTime" not in status:
                status["startTime"] = kube.rfc3339(now)
            start = kube.parse_time(status.get("startTime")) or now
            completions = spec.get("completions")
            parallelism = int(spec.get("parallelism", 1))
            deadline = spec.get("activeDeadlineSeconds")
            failure: tuple[str, str] | None = None
            if failed > int(spec.get("backoffLimit", 6)):
                failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            elif deadline is not None and not suspended and now - start >= int(deadline):
                failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
            if completions is not None:
                complete = succeeded >= int(completions)
            else:
                complete = succeeded > 0 and not active
            if failure is not None:
                await asyncio.gather(*(podcontrol.delete_pod(self.api, p) for p in active))
                active = []
                for type_ in ("FailureTarget", "Failed"):
                    conditions = kube.set_condition_in(
                        conditions, condition(type_, failure[0], failure[1], now)
                    )
                self.event(job, "Warning", failure[0], failure[1])
                finished = "Failed"
            elif complete:
                await asyncio.gather(*(podcontrol.delete_pod(self.api, p) for p in active))
                active = []
                for type_ in ("SuccessCriteriaMet", "Complete"):
                    conditions = kube.set_condition_in(
                        conditions,
                        condition(
                            type_,
                            "CompletionsReached",
                            "Reached expected number of succeeded pods",
                            now,
                        ),
                    )
                status["completionTime"] = kube.rfc3339(now)
                self.event(job, "Normal", "Completed", "Job completed")
                finished = "Complete"
            elif suspended:
                await asyncio.gather(*(podcontrol.delete_pod(self.api, p) for p in active))
                active = []
                conditions = kube.set_condition_in(
                    conditions, condition("Suspended", "JobSuspended", "Job suspended", now)
                )
            else:
                if kube.condition_in(conditions, "Suspended") is not None:
                    conditions = kube.remove_condition_in(conditions, "Suspended")
                if self.expectations.satisfied(key):
                    want = parallelism
                    if completions is not None:
                        want = min(parallelism, int(completions) - succeeded)
                    elif succeeded > 0:
                        want = 0
                    await self.manage(key, job, active, want)
                if deadline is not None:
                    self.queue.add_after(key, max(start + int(deadline) - now, 0) + 0.1)
        if "completionTime" in old_status:
            status["completionTime"] = old_status["completionTime"]
        if conditions:
            status["conditions"] = conditions
        if active:
            status["active"] = len(active)
        status["ready"] = sum(1 for p in active if kube.pod_is_ready(p))
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        if status != old_status:
            new = kube.deepcopy(job)
            new["status"] = status
            job = await self.api.update_status(JOBS, new)
        if finished is not None:
            await self.delete_after_ttl(key, job, now)

    async def manage(self, key: str, job: JSON, active: list[JSON], want: int) -> None:
        diff = want - len(active)
        template = (job.get("spec") or {}).get("template") or {}
        if diff > 0:
            self.expectations.expect_creations(key, diff)
            results = await asyncio.gather(
                *(
                    self.api.create(
                        kube.PODS,
                        podcontrol.pod_from_template(job, template),
                        namespace=kube.namespace(job),
                    )
                    for _ in range(diff)
                ),
                return_exceptions=True,
            )
            for r in results:
                if isinstance(r, BaseException):
                    self.expectations.creation_observed(key)
                    self.event(job, "Warning", "FailedCreate", f"Error creating: {r}")
                else:
                    self.event(job, "Normal", "SuccessfulCreate", f"Created pod: {kube.name(r)}")
            failures = [r for r in results if isinstance(r, errors.APIError) and r.is_retryable]
            if failures:
                raise failures[0]
        elif diff < 0:
            victims = newest_first(active)[:-diff]
            self.expectations.expect_deletions(key, [kube.uid(p) for p in victims])
            for p in victims:
                if await podcontrol.delete_pod(self.api, p):
                    self.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {kube.name(p)}")
                else:
                    self.expectations.deletion_observed(key, kube.uid(p))

    async def delete_after_ttl(self, key: str, job: JSON, now: float) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        status = job.get("status") or {}
        finished_at = kube.parse_time(status.get("completionTime"))
        if finished_at is None:
            for c in status.get("conditions") or []:
                if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                    finished_at = kube.parse_time(c.get("lastTransitionTime"))
        finished_at = finished_at or now
        if now < finished_at + int(ttl):
            self.queue.add_after(key, finished_at + int(ttl) - now + 0.1)
            return
        self.log.info("deleting job %s: finished more than %ss ago", key, ttl)
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.api.delete(
                JOBS,
                kube.name(job),
                namespace=kube.namespace(job),
                options={
                    "propagationPolicy": "Background",
                    "preconditions": {"uid": kube.uid(job)},
                },
            )
