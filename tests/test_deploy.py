"""deploy/docker-compose.yml agrees with the code: its commands parse with the CLI, its settings are settings,
and its services reach each other under the names and credentials they are given. (No Docker here:
tests/cluster/ runs the same topology as local processes.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from openpersonalize.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
NODES = {name: service for name, service in SERVICES.items() if service.get("image") == "openpersonalize:latest"}
# Every OPENPERSONALIZE_* name the settings read (config.py's _env("NAME") calls).
SETTINGS = {f"OPENPERSONALIZE_{name}" for name in re.findall(r'_env\("([A-Z_]+)"', (ROOT / "src/openpersonalize/config.py").read_text())}


def _parsed(command: list[str]) -> click.Context:
    """The subcommand's context, as `openpersonalize <command>` would parse it (a bad option raises)."""
    name, *options = command
    subcommand = main.get_command(click.Context(main), name)
    assert subcommand is not None, f"openpersonalize has no command {name!r}"
    return subcommand.make_context(name, options)


def test_two_api_nodes_and_two_workers_beside_postgres_and_seaweedfs() -> None:
    commands = sorted(node["command"][0] for node in NODES.values())
    assert commands == ["serve", "serve", "worker", "worker"]
    assert {"postgres", "seaweedfs"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(NODES))
def test_each_command_is_one_the_cli_accepts(name: str) -> None:
    context = _parsed(NODES[name]["command"])
    if context.command.name == "serve":
        # API nodes leave the jobs to the workers, listen beyond loopback and, so, require access keys.
        assert context.params["no_worker"] and context.params["host"] == "0.0.0.0"
        assert NODES[name]["environment"]["OPENPERSONALIZE_ACCESS_KEYS"]


def test_every_setting_named_is_one_the_code_reads() -> None:
    for node in NODES.values():
        named = {key for key in node["environment"] if key.startswith("OPENPERSONALIZE_")}
        assert named - SETTINGS == set()


def test_the_nodes_share_the_metadata_database_and_the_data_volume() -> None:
    postgres = SERVICES["postgres"]["environment"]
    urls = {node["environment"]["OPENPERSONALIZE_METADATA_URL"] for node in NODES.values()}
    assert len(urls) == 1
    url = urlsplit(urls.pop())
    assert (url.scheme, url.hostname, url.username, url.password, url.path.lstrip("/")) == (
        "postgresql", "postgres", postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])
    for node in NODES.values():
        data_dir = node["environment"]["OPENPERSONALIZE_DATA_DIR"]
        assert f"data:{data_dir}" in node["volumes"]
        assert node["environment"]["OPENPERSONALIZE_LOCAL_PATHS"].startswith(data_dir + "/")
        assert urlsplit(node["environment"]["AWS_ENDPOINT_URL_S3"]).hostname == "seaweedfs"
        assert "postgres" in node["depends_on"] and "bucket" in node["depends_on"]
        bucket = urlsplit(node["environment"]["OPENPERSONALIZE_OBJECT_STORE"]).hostname
        assert f"s3.bucket.create -name {bucket}" in SERVICES["bucket"]["entrypoint"][-1]
        assert node["environment"]["OPENPERSONALIZE_EVENTS_URL"] == node["environment"]["OPENPERSONALIZE_METADATA_URL"]


def test_api_nodes_are_published_on_distinct_ports() -> None:
    published = [port for node in NODES.values() for port in node.get("ports", [])]
    assert len(published) == 2 == len(set(published))
