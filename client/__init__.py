"""Shared client machinery: the async gRPC client of the apiserver (`api`),
informers (`informer`: list + watch caches with indexes), the workqueue
(`workqueue`), leader election on a Lease (`leaderelection`), Events
(`events`), the common `main` of every component (`component`) and their
metrics (`metrics`). Every component that talks to the apiserver uses these;
none writes its own."""
