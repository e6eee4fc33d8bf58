"""The API server: Kubernetes objects in etcd, served over gRPC (6444) to the
components and over HTTPS (6443) to kubectl and any Kubernetes client."""
