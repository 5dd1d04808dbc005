"""Where the Ray actors run: a private local Ray, or an existing cluster.

``--ray-address HOST:PORT`` (or ``RAY_ADDRESS``, which Ray itself reads; the flag wins)
connects to a cluster started with ``ray start --head``; ``auto`` finds the cluster this
machine last joined. Without either, a private local Ray with one CPU per actor starts, as
before. An address is checked before Ray is asked to connect: Ray's own client retries an
unreachable or wrong address for minutes, this fails within seconds with one clear line.
"""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

ENV_ADDRESS = "RAY_ADDRESS"
PROBE_TIMEOUT_S = 5.0
"""Seconds to wait for a TCP connection and for the cluster's answer to one request."""
ADDRESS_FORM = "HOST:PORT of the cluster's head (`ray start --head` prints it) or auto"
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")


class ClusterError(ConnectionError):
    """The Ray cluster cannot be reached or used (the CLI reports it as one line, exit 2)."""


@dataclass(frozen=True)
class RayTarget:
    """The Ray a pool of ``actors`` actors runs on."""

    address: str | None
    """A checked cluster address (``host:port``), or None: a private local Ray."""
    actors: int


def resolve_address(flag: str | None) -> str | None:
    """``--ray-address`` if given, else ``$RAY_ADDRESS``, else None (a private local Ray).
    ValueError for a malformed address."""
    address = flag if flag is not None else os.environ.get(ENV_ADDRESS) or None
    if address is None:
        return None
    return check_format(address, "--ray-address" if flag is not None else ENV_ADDRESS)


def check_format(address: str, name: str = "--ray-address") -> str:
    """``address`` stripped if it is ``host:port`` or ``auto`` (ValueError otherwise)."""
    text = address.strip()
    if text == "auto":
        return text
    if text.startswith("ray://"):
        raise ValueError(f"{name}: Ray Client addresses (ray://) are not supported; run langstack "
                         "on a node of the cluster and give the head's HOST:PORT")
    match = _HOST_PORT.fullmatch(text)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"{name}: expected {ADDRESS_FORM}, got {address!r}")
    return text


def check_reachable(address: str) -> str:
    """The ``host:port`` of the running Ray cluster at ``address`` (``auto``: the one this
    machine joined last); ClusterError within seconds if nothing answers there as Ray does."""
    if address == "auto":
        address = _auto_address()
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError(f"no Ray cluster at {address}: {_reason(exc)}") from None
    _ask_gcs(address)
    return address


def connect(target: RayTarget) -> None:
    """Start the private local Ray, or connect to the cluster; nothing if Ray is already up
    in this process (a caller, e.g. a test, chose the cluster itself). A cluster with fewer
    CPUs than actors is a ClusterError (the surplus actors would wait forever)."""
    import ray

    if ray.is_initialized():
        return
    if target.address is None:  # "local": a new private Ray even if $RAY_ADDRESS is set
        ray.init(address="local", num_cpus=target.actors, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
        return
    address = check_reachable(target.address)
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError) as exc:  # e.g. another Ray version on the cluster
        raise ClusterError(f"cannot join the Ray cluster at {address}: "
                           f"{' '.join(str(exc).split())}") from None
    check_capacity(target.actors, address)


def check_capacity(actors: int, where: str) -> None:
    """ClusterError if the connected cluster has fewer CPUs than ``actors`` (one each)."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < actors:
        ray.shutdown()
        raise ClusterError(f"the Ray cluster at {where} has {cpus} CPU(s); --actors {actors} "
                           "needs one each (add nodes or lower --actors)")


def _auto_address() -> str:
    """The address of the cluster ``ray start`` last started or joined on this machine."""
    from ray._private.services import canonicalize_bootstrap_address_or_die

    try:
        return canonicalize_bootstrap_address_or_die("auto")
    except ConnectionError as exc:
        raise ClusterError(f"--ray-address auto: {' '.join(str(exc).split())}") from None


def _ask_gcs(address: str) -> None:
    """Ask the cluster's control store (GCS) for its id, with a deadline: a port that
    accepts connections but is not a Ray head fails here instead of hanging ``ray.init``."""
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=PROBE_TIMEOUT_S)
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=PROBE_TIMEOUT_S)
    except grpc.FutureTimeoutError:
        raise ClusterError(f"no Ray cluster at {address}: it accepts connections but does not "
                           f"speak Ray's protocol (no answer in {PROBE_TIMEOUT_S:.0f} s)") from None
    except grpc.RpcError as exc:
        if exc.code() not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            raise ClusterError(f"no Ray cluster at {address}: it answered "
                               f"{exc.code().name} ({' '.join(str(exc.details()).split())})"
                               ) from None
        # a Ray head with token authentication: ray.init presents the token
    finally:
        channel.close()


def _reason(exc: OSError) -> str:
    """Why a TCP connection failed, in a few words."""
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is `ray start --head` running there?)"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer in {PROBE_TIMEOUT_S:.0f} s"
    return " ".join(str(exc).split()) or type(exc).__name__
