"""The topology's configuration says what docs/production.md promises: three nodes in strict
quorum commit (an acknowledged commit is on the leader and at least one of two standbys),
three etcd members, failsafe mode, writes routed to Patroni's leader and cut
from a demoted one, reads to a replica, HTTP to ready web hosts, every host on loopback."""

from __future__ import annotations

import ipaddress
import re

import yaml

from scripts.cluster.layout import ETCD_MEMBERS, NODES, haproxy_config, patroni_config, store_settings, web_addresses


def test_a_commit_is_acknowledged_once_one_of_the_two_standbys_has_it():
    assert len(NODES) == 3 and len(ETCD_MEMBERS) == 3
    for node in NODES:
        config = yaml.safe_load(patroni_config(node))
        dcs = config["bootstrap"]["dcs"]
        assert dcs["synchronous_mode"] == "quorum" and dcs["synchronous_node_count"] == 1
        assert dcs["synchronous_mode_strict"] is True  # the last node left acknowledges nothing
        assert dcs["failsafe_mode"] is True
        assert config["etcd3"]["hosts"] == [f"{address}:2379" for address in ETCD_MEMBERS.values()]
        assert dcs["ttl"] >= 20 and dcs["loop_wait"] < dcs["ttl"]
        assert dcs["postgresql"]["parameters"]["archive_mode"] == "on"
        assert "archive_command" not in dcs["postgresql"]["parameters"]  # one for all would push node1's files
        archive = config["postgresql"]["parameters"]["archive_command"]
        assert f"--pg1-path={config['postgresql']['data_dir']} archive-push %p" in archive  # its own WAL
        assert config["postgresql"]["listen"].startswith(node.address)


def test_the_guards_runs_turn_synchronous_replication_off():
    dcs = yaml.safe_load(patroni_config(NODES[0], synchronous=False))["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is False and dcs["synchronous_mode_strict"] is False


def sections(config: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^listen (\S+)\n((?:  .*\n)+)", config, re.M)}


def test_writes_go_to_the_leader_and_a_demoted_leaders_sessions_are_cut():
    found = sections(haproxy_config(web_addresses(2)))
    write, read, http = found["postgres_write"], found["postgres_read"], found["http"]
    assert "option httpchk GET /primary" in write and "on-marked-down shutdown-sessions" in write
    assert "option httpchk GET /replica" in read
    assert "option httpchk GET /health" in http  # not /ready: a failover makes every host unready at once
    for node in NODES:
        assert f"{node.address}:5432 check port 8008" in write and f"{node.address}:5432 check port 8008" in read
    assert http.count("server web") == 2


def test_every_host_is_on_loopback_and_the_service_reaches_the_store_through_the_balancer():
    config = haproxy_config(web_addresses(3))
    addresses = set(re.findall(r"\b(\d+\.\d+\.\d+\.\d+)\b", config)) | {node.address for node in NODES}
    assert addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses)
    settings = store_settings()
    assert ipaddress.ip_address(settings["POSTGRES_HOST"]).is_loopback
    assert f"bind {settings['POSTGRES_HOST']}:{settings['POSTGRES_PORT']}" in sections(config)["postgres_write"]


def test_the_balancer_says_who_the_client_is_from_the_one_address_the_web_hosts_trust():
    http = sections(haproxy_config(web_addresses(2)))["http"]
    assert "option forwardfor" in http and "source 127.0.1.1\n" in http
