"""The simulated network: one namespace per host, veth links to a switch in its own namespace.

Pure: builds the plan and the ``ip``/``tc`` command lines; :mod:`.network` runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

SUBNET_PREFIX: Final = "10.213.0"
PREFIX_LENGTH: Final = 24
FIRST_HOST_OCTET: Final = 10
NAMESPACE_PREFIX: Final = "pbn"
SWITCH: Final = "wire"
BRIDGE: Final = "br0"
HOST_DEVICE: Final = "veth0"
NETEM_LIMIT: Final = 100_000  # packets; netem's default of 1000 drops under load
MAX_DEVICE_NAME: Final = 15

LOADGEN: Final = "lg"
NGINX: Final = "nginx"
POSTGRES: Final = "pg"
REDIS: Final = "redis"


def host_names(replicas: int) -> tuple[str, ...]:
    """The hosts of the profile: load generator, nginx, Rasa and action servers, stores."""
    rasa = tuple(f"rasa{i + 1}" for i in range(replicas))
    actions = tuple(f"act{i + 1}" for i in range(replicas))
    return (LOADGEN, NGINX, *rasa, *actions, POSTGRES, REDIS)


@dataclass(frozen=True)
class Host:
    """One simulated machine: its namespace, address and the switch port it hangs on."""

    name: str
    namespace: str
    address: str
    port: str  # the veth end in the switch's namespace


@dataclass(frozen=True)
class Topology:
    """Every namespace and link of one run (names carry the owner's process id)."""

    owner: int
    hosts: tuple[Host, ...]

    @property
    def switch_namespace(self) -> str:
        """The namespace of the bridge."""
        return namespace_name(self.owner, SWITCH)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace, the switch last."""
        return (*(host.namespace for host in self.hosts), self.switch_namespace)

    def host(self, name: str) -> Host:
        """The host called ``name``."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


def namespace_name(owner: int, host: str) -> str:
    """``pbn<owner>-<host>``: the owner's process id finds stale namespaces of dead runs."""
    return f"{NAMESPACE_PREFIX}{owner}-{host}"


def owner_of(namespace: str) -> int | None:
    """The process id in a namespace name of this tool, or None for any other namespace."""
    head, dash, _ = namespace.partition("-")
    digits = head[len(NAMESPACE_PREFIX) :]
    if not dash or not head.startswith(NAMESPACE_PREFIX) or not digits.isdigit():
        return None
    return int(digits)


def plan(owner: int, replicas: int = 2) -> Topology:
    """The topology of one run: a /24 with hosts from .10 on, one switch port per host."""
    hosts = []
    for index, name in enumerate(host_names(replicas)):
        if len(name) > MAX_DEVICE_NAME:
            raise ValueError(f"host name too long for a device: {name}")
        hosts.append(
            Host(
                name=name,
                namespace=namespace_name(owner, name),
                address=f"{SUBNET_PREFIX}.{FIRST_HOST_OCTET + index}",
                port=name,
            )
        )
    return Topology(owner=owner, hosts=tuple(hosts))


def setup_commands(topology: Topology) -> list[list[str]]:
    """``ip`` commands that build the network (run in order, as root)."""
    switch = topology.switch_namespace
    commands = [["ip", "netns", "add", ns] for ns in topology.namespaces]
    commands += [
        ["ip", "-n", switch, "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "-n", switch, "link", "set", BRIDGE, "up"],
    ]
    for host in topology.hosts:
        commands += [
            ["ip", "link", "add", HOST_DEVICE, "netns", host.namespace, "type", "veth",
             "peer", "name", host.port, "netns", switch],
            ["ip", "-n", switch, "link", "set", host.port, "master", BRIDGE],
            ["ip", "-n", switch, "link", "set", host.port, "up"],
            ["ip", "-n", host.namespace, "addr", "add", f"{host.address}/{PREFIX_LENGTH}",
             "dev", HOST_DEVICE],
            ["ip", "-n", host.namespace, "link", "set", HOST_DEVICE, "up"],
            ["ip", "-n", host.namespace, "link", "set", "lo", "up"],
        ]  # fmt: skip
    return commands


def teardown_commands(namespaces: Sequence[str]) -> list[list[str]]:
    """Deleting a namespace deletes its veth ends (and so both ends of each link)."""
    return [["ip", "netns", "delete", ns] for ns in namespaces]


def netem_commands(topology: Topology, rtt_ms: float) -> list[list[str]]:
    """``tc netem`` on every switch port: half the round trip on each port's egress.

    A packet from A to B leaves the switch through B's port, the answer through A's: every
    pair of hosts then sees ``rtt_ms`` of round trip. 0 ms removes the qdisc's delay.
    """
    if rtt_ms < 0:
        raise ValueError("the round-trip time cannot be negative")
    one_way_us = round(rtt_ms * 1000 / 2)
    return [
        ["ip", "netns", "exec", topology.switch_namespace, "tc", "qdisc", "replace", "dev",
         host.port, "root", "netem", "delay", f"{one_way_us}us", "limit", str(NETEM_LIMIT)]
        for host in topology.hosts
    ]  # fmt: skip


def exec_in(namespace: str, command: Sequence[str]) -> list[str]:
    """``command`` run inside ``namespace``."""
    return ["ip", "netns", "exec", namespace, *command]
