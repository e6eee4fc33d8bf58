#!/bin/sh
# The pod sandbox's entrypoint: route Services through this pod's node, then wait.
if [ -n "$KUBELAB_SERVICE_CIDR" ] && [ -n "$KUBELAB_NODE_IP" ]; then
    ip route replace "$KUBELAB_SERVICE_CIDR" via "$KUBELAB_NODE_IP" \
        || echo "pause: could not route $KUBELAB_SERVICE_CIDR via $KUBELAB_NODE_IP" >&2
fi
trap 'exit 0' TERM INT
while :; do
    sleep 3600 &
    wait $!
done
