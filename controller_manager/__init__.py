"""The controller-manager: level-triggered controllers (ReplicaSet, Deployment,
node lifecycle, garbage collection, namespaces, endpoints)."""
