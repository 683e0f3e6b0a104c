"""docker-compose.yml cannot be started here (no Docker engine): check what can be checked."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml

from scripts.commands.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text().splitlines()
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]


def by_default() -> dict[str, dict]:
    """What plain ``docker compose up`` starts: the services without a profile."""
    return {name: service for name, service in COMPOSE["services"].items() if "profiles" not in service}


def test_compose_runs_postgres_redis_the_web_app_and_the_projection_process():
    services = by_default()
    assert set(services) == {"postgres", "redis", "web", "projections"}
    assert all("healthcheck" in services[name] for name in ("postgres", "redis", "web"))
    assert services["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["web"]["environment"]["RATE_LIMIT_STORAGE_URI"].startswith("redis://redis:")
    assert services["web"]["environment"]["QUEUE_STORAGE_URI"].startswith("redis://redis:")
    for name in ("web", "projections"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["environment"]["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert "pgdata" in COMPOSE["volumes"]


def assert_resolves(command: list[str]) -> None:
    """A command the image runs: gunicorn with a config the image has, or a ticketledger command."""
    program, *args = command
    if program == "gunicorn":
        config = args[args.index("-c") + 1]
        assert (ROOT / config).is_file() and f"COPY {config} ./" in DOCKERFILE
    else:
        assert program == "ticketledger" and args[0] in COMMANDS, command


def test_every_command_of_the_image_exists_in_the_project():
    built = [service for service in COMPOSE["services"].values() if service.get("build") == "."]
    assert len(built) == 6  # web and projections; the cluster profile's two web hosts, projections, edge publisher
    for service in built:
        assert_resolves(service["command"])
    edge = COMPOSE["services"]["edge"]["build"]  # the edge's own image: nginx with nchan
    assert (ROOT / edge["dockerfile"]).is_file() and "libnginx-mod-nchan" in (ROOT / edge["dockerfile"]).read_text()
    (cmd,) = [line.removeprefix("CMD ") for line in DOCKERFILE if line.startswith("CMD ")]
    assert_resolves(json.loads(cmd))


def test_the_compose_database_settings_agree_with_the_postgres_service():
    db = COMPOSE["services"]["postgres"]["environment"]
    app = COMPOSE["services"]["projections"]["environment"]
    assert (app["POSTGRES_DBNAME"], app["POSTGRES_USER"], app["POSTGRES_PASSWORD"]) == (
        db["POSTGRES_DB"],
        db["POSTGRES_USER"],
        db["POSTGRES_PASSWORD"],
    )


def test_the_dockerfile_copies_every_package_and_runs_as_a_user():
    for package in {name.split(".")[0].rstrip("*") for name in PACKAGES}:
        assert f"COPY {package} {package}" in DOCKERFILE
    assert any(shlex.split(line)[:1] == ["USER"] for line in DOCKERFILE if line.strip())


def test_env_example_lists_every_setting_the_configuration_page_documents():
    page = (ROOT / "docs" / "configuration.md").read_text()
    table = page[page.index("## Environment variables") : page.index("## PostgreSQL mode")]
    documented = set(
        re.findall(
            r"`([A-Z][A-Z0-9_]+)`",
            "\n".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| `")),
        )
    )
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert documented and documented == example


def test_every_setting_the_web_app_reads_is_documented():
    from web.settings import DEFAULTS

    example = (ROOT / ".env.example").read_text()
    assert all(f"\n{key}=" in example for key in DEFAULTS if key != "LEDGER_ENV")


def test_the_package_data_takes_every_file_of_the_web_page():
    """An installed wheel (the Dockerfile's) must serve the page too, not only a checkout."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["web"]
    files = [
        p.relative_to(ROOT / "web").as_posix()
        for folder in ("templates", "static")
        for p in (ROOT / "web" / folder).rglob("*")
        if p.is_file()
    ]
    assert "templates/index.html" in files and "static/app.js" in files
    assert [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)] == []


def test_the_cluster_profile_is_a_synchronous_patroni_pair_behind_haproxy():
    """docs/production.md's topology for real machines: every service of the profile is
    in it, the pair is synchronous and strict, and the service reaches it through HAProxy."""
    cluster = {name: service for name, service in COMPOSE["services"].items() if "profiles" in service}
    assert set(cluster) == {
        "etcd",
        "pg1",
        "pg2",
        "haproxy",
        "web1",
        "web2",
        "cluster-projections",
        "edge",
        "edge-publisher",
    }
    assert all(service["profiles"] == ["cluster"] for service in cluster.values())
    for node in ("pg1", "pg2"):
        dcs = yaml.safe_load(cluster[node]["environment"]["SPILO_CONFIGURATION"])["bootstrap"]["dcs"]
        assert dcs["synchronous_mode"] is True and dcs["synchronous_mode_strict"] is True
    for name in ("web1", "web2", "cluster-projections"):
        env = cluster[name]["environment"]
        assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("haproxy", "5000")
    (mount,) = cluster["haproxy"]["volumes"]
    haproxy = (ROOT / mount.split(":")[0]).read_text()
    assert "bind :5000" in haproxy and "GET /primary" in haproxy and "shutdown-sessions" in haproxy
    assert {f"server {name} {name}:8000 check" for name in ("web1", "web2")} <= set(
        map(str.strip, haproxy.splitlines())
    )
