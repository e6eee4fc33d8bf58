"""The lab CLI: `kubelab up|down|status|kubeconfig|node ...` around the cluster."""
