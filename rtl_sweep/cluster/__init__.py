"""A sweep as a Ray job on a cluster: submit it, follow it, read its results from shared storage.

    rtl-sweep submit search_spaces/default.yaml --address http://HEAD:8265 --storage /mnt/results
    rtl-sweep jobs status JOB_ID --address http://HEAD:8265 --follow

jobs.py talks to the cluster's job server (the dashboard port) through Ray's JobSubmissionClient;
commands.py is the CLI over it; loopback_node.py starts a node of a one-machine cluster that keeps
to 127.0.0.1 (cluster/local-cluster.sh and the tests use it). The cluster manifests (ray up,
KubeRay, the image) live in the repository's cluster/ folder.
"""
