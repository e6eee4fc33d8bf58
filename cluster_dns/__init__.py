"""Cluster DNS: answers <svc>.<ns>.svc.cluster.local from Services and Endpoints."""
