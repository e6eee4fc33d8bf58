"""Shared client machinery: the async gRPC client of the apiserver, informers
(list + watch caches), the workqueue and leader election. Every component that
talks to the apiserver uses these; none writes its own."""
