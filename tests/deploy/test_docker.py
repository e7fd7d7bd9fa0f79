
"""The Docker files checked statically: compose against the Compose specification schema, the
Dockerfile through hadolint and the image rules this project keeps."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


@pytest.mark.slow
def test_compose_file_matches_the_compose_spec():
    out = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                          str(DOCKER / "compose.yaml")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_compose_schema_check_rejects_a_broken_file(tmp_path):
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  x:\n    image: a\n    ports: 4318\n    restart_policy: sometimes\n")
    out = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0


def test_compose_wiring():
    c = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    s = c["services"]
    assert set(s) == {"pipeline", "clickhouse", "grafana"}
    assert s["pipeline"]["command"][-1] == "config/server.yaml"
    assert s["pipeline"]["environment"]["CLICKHOUSE_ENDPOINT"] == "http://clickhouse:8123"
    image = s["clickhouse"]["image"]
    assert image.startswith("clickhouse/clickhouse-server:") and re.fullmatch(r".*:\d+(\.\d+)+", image)
    assert any(v.endswith(":/var/lib/clickhouse") for v in s["clickhouse"]["volumes"])
    for name in s:
        files = [e["path"] for e in s[name]["env_file"]]
        assert "clickhouse.env.example" in files
        assert (DOCKER / "clickhouse.env.example").exists()
    assert "grafana-clickhouse-datasource" in s["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
    for svc in s.values():  # host ports bind loopback unless the operator says otherwise
        for p in svc.get("ports", []):
            assert p.startswith(("127.0.0.1:", "${SPANLENS_PUBLISH:-127.0.0.1}:")), p


def test_env_example_names_what_the_services_read():
    env = dict(l.split("=", 1) for l in (DOCKER / "clickhouse.env.example").read_text().splitlines()
               if l and not l.startswith("#"))
    assert {"CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"} <= set(env)
    server = (DOCKER.parent / "config" / "server.yaml").read_text()
    ds = (DOCKER / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml").read_text()
    for name in ("CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"):
        assert f"env:{name}" in server and "${" + name + "}" in ds


@pytest.mark.slow
def test_dockerfile_passes_hadolint():
    out = subprocess.run([_tool("hadolint"), "--no-color", str(DOCKER / "Dockerfile")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_rules():
    text = (DOCKER / "Dockerfile").read_text()
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    froms = [l for l in lines if l.startswith("FROM ")]
    assert froms == ["FROM python:3.11-slim"]
    users = [l.split()[1] for l in lines if l.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert 'VOLUME ["/data"]' in lines
    assert "SPANLENS_DATA_DIR=/data" in text and "SPANLENS_ENDPOINT=0.0.0.0:4318" in text
    health = text[text.index("HEALTHCHECK"):]
    assert "/health" in health.split("\n\n")[0]
    assert lines[-1] == 'CMD ["run", "--config", "config/default.yaml"]'
    ignored = (DOCKER.parent / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data"} <= set(ignored)


def test_embedded_default_config_is_in_the_image_context():
    """What the image copies exists and is not excluded by .dockerignore."""
    text = (DOCKER / "Dockerfile").read_text()
    ignored = set((DOCKER.parent / ".dockerignore").read_text().split())
    for src in re.findall(r"^COPY (.+) \S+$", text, flags=re.M):
        for path in src.split():
            assert (DOCKER.parent / path).exists(), path
            assert path.rstrip("/") not in ignored, path
