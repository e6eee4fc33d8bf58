"""kube-proxy: a userspace proxy for Service ClusterIPs and NodePorts."""
