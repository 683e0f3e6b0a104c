"""The links between the topology's hosts, and cutting them: nftables rules on loopback only.

Every host has an address of its own, but a connection *from* a host leaves from 127.0.0.1
like every other on loopback (PostgreSQL's and Patroni's clients bind no source address),
so a rule cannot tell the hosts apart by source address. Each recorded process is
therefore put in a cgroup of its own (cgroup v2, ``hosts_cgroup``/<name>; children, a
postmaster's backends included, inherit it), and a rule matches the *sending* socket's
cgroup (``socket cgroupv2``) and the destination address. On a machine without cgroup v2
everything runs as before, and only the cut fails, saying why.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg

from scripts.cluster.layout import PG_PORT, Node

NFT_TABLE = "ticketledger_cluster"
NFT_CGROUP_ROOT = Path("/sys/fs/cgroup")  # where nft resolves a cgroupv2 path from
CGROUP_FOLDER = "ticketledger-cluster"  # one cgroup per recorded process beneath it: level 2


def cgroup2_mount() -> Path | None:
    """Where cgroup v2 is mounted (``/sys/fs/cgroup`` or, beside v1, ``/sys/fs/cgroup/unified``)."""
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, kind, *_ = line.split()
        if kind == "cgroup2":
            return Path(mount)
    return None


def host_cgroup(name: str) -> Path | None:
    """The cgroup folder of host ``name``, made if need be; None without cgroup v2."""
    mount = cgroup2_mount()
    if mount is None or not os.access(mount, os.W_OK):
        return None
    folder = mount / CGROUP_FOLDER / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def place(pid: int, host: str) -> None:
    """Put process ``pid`` in ``host``'s cgroup, just started (before it has forked: what
    it starts later inherits the cgroup)."""
    folder = host_cgroup(host)
    if folder is not None:
        (folder / "cgroup.procs").write_text(str(pid))


def cut_off(host: str, address: str, others: dict[str, str]) -> None:
    """Cut ``host`` (on ``address``) off from ``others`` (name: address), both ways: what
    its processes send to them, and what theirs send to it, is dropped."""
    if host_cgroup(host) is None:
        raise RuntimeError("cutting a host off needs cgroup v2 (writable, for the nftables rules to match on)")
    ensure_table()
    own = ", ".join(others.values())
    nft(f'add rule inet {NFT_TABLE} out socket cgroupv2 level 2 "{cgroup_path(host)}" ip daddr {{ {own} }} drop')
    for other in others:
        nft(f'add rule inet {NFT_TABLE} out socket cgroupv2 level 2 "{cgroup_path(other)}" ip daddr {address} drop')


def cgroup_path(name: str) -> str:
    folder = host_cgroup(name)
    assert folder is not None
    return str(folder.relative_to(NFT_CGROUP_ROOT))


def cut_replication(source: Node) -> None:
    """Drop what ``source``'s PostgreSQL sends its standbys (the WAL stream), as a link that
    stops carrying packets. The standbys connect from 127.0.0.1 like everything else here,
    so their connections are told apart by their ports, as the leader reports them
    (``pg_stat_replication``)."""
    with psycopg.connect(
        host=source.address, port=PG_PORT, dbname="postgres", user="postgres", password="postgres"
    ) as conn:
        ports = [row[0] for row in conn.execute("SELECT client_port FROM pg_stat_replication")]
    ensure_table()
    for port in ports:
        nft(f"add rule inet {NFT_TABLE} out ip saddr {source.address} tcp sport {PG_PORT} tcp dport {port} drop")


def ensure_table() -> None:
    nft(f"add table inet {NFT_TABLE}")
    nft(f"add chain inet {NFT_TABLE} out {{ type filter hook output priority 0 ; }}")


def mend_links() -> None:
    """Remove every rule added here."""
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True)


def remove_cgroups() -> None:
    """The hosts' cgroups, once everything in them has ended: whatever of ours is still in
    one (a backend its postmaster's death has not yet ended) is killed with it."""
    mount = cgroup2_mount()
    folder = mount / CGROUP_FOLDER if mount else None
    if folder is None or not folder.exists():
        return
    for host in [path for path in folder.iterdir() if path.is_dir()]:
        if (host / "cgroup.kill").exists():
            (host / "cgroup.kill").write_text("1")
        remove_when_empty(host)
    remove_when_empty(folder)


def remove_when_empty(folder: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            folder.rmdir()
            return
        except OSError:  # its last processes are still exiting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def nft(command: str) -> None:
    subprocess.run(["nft", command], check=True, capture_output=True)
