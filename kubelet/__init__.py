"""The kubelet: runs a node's pods as Docker containers and reports their status."""
