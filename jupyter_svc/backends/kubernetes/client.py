"""Credentials for the apiserver: the pod's service account inside a cluster, a kubeconfig outside.

The one place that reads a client configuration (the builders never do). Inside a pod, Kubernetes
sets ``KUBERNETES_SERVICE_HOST`` and mounts the service account's token and CA; the token is
re-read as it rotates (``kubernetes_asyncio``'s in-cluster loader does that). Elsewhere (a laptop,
a test against a local control plane) the kubeconfig named, else ``$KUBECONFIG``, else
``~/.kube/config``, as kubectl reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config

#: Where Kubernetes mounts a pod's service-account credentials.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class CredentialsError(RuntimeError):
    """No usable credentials: says which source was tried and why it failed."""


def in_cluster(service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> bool:
    """Running in a pod with a service-account token mounted."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (service_account_dir / "token").is_file()


async def api_client(kubeconfig: str | None = None, context: str | None = None,
                     service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> k8s.ApiClient:
    """An ``ApiClient`` for the apiserver: ``kubeconfig`` (and ``context``) when given, else the pod's
    service account when in a cluster, else the default kubeconfig. The caller closes it."""
    if kubeconfig is None and in_cluster(service_account_dir):
        configuration = k8s.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration,
                                         token_filename=str(service_account_dir / "token"),
                                         cert_filename=str(service_account_dir / "ca.crt"))
        except config.ConfigException as exc:
            raise CredentialsError(f"in-cluster credentials in {service_account_dir}: {exc}") from None
        return k8s.ApiClient(configuration)
    # read now, not when kubernetes_asyncio was imported (its default is frozen at import)
    where = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        return await config.new_client_from_config(config_file=where, context=context, persist_config=False)
    except (config.ConfigException, OSError) as exc:
        raise CredentialsError(f"kubeconfig {where}{f' (context {context})' if context else ''}: {exc}") from None
