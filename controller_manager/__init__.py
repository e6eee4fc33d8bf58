"""The controller-manager: level-triggered controllers that make the cluster's
state follow what its objects ask for.

ReplicaSet, Deployment, StatefulSet, DaemonSet, Job and CronJob (workloads),
garbage collector (ownerReferences), namespace (deletion of a namespace's
content), endpoints and EndpointSlice (Services to pod addresses), node
lifecycle and taint eviction (a node that stops heartbeating loses its pods),
pod GC, service account and PersistentVolume binder. One module per
controller, each a `sync(key)` over shared informers and a workqueue
(`base.Controller`); `app` wires them; `python -m controller_manager` runs them
under leader election.
"""
