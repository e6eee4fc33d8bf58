"""The ingress controller: routes HTTP by host and path to Services."""
