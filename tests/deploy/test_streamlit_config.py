"""Streamlit runs with production settings in the container: the EFFECTIVE values, as Streamlit itself
resolves them in a fresh process started where the image starts it (the app directory, holding
.streamlit/config.toml), with the Deployment's STREAMLIT_* environment and the Dockerfile's command-line
flags on top, and no user-level ~/.streamlit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.deploy.manifests import DOCKERFILE, ROOT, pod_spec

#: option -> the value KAMS must run with.
PRODUCTION = {
    "server.enableXsrfProtection": True,
    "client.showErrorDetails": "none",
    "server.enableStaticServing": False,
    "browser.gatherUsageStats": False,
    "server.headless": True,
}

STREAMLIT = Path(sys.executable).parent / "streamlit"


def dockerfile_flags() -> list[str]:
    """The --section.option=value flags of the image's CMD (`streamlit run app.py ...`)."""
    [cmd] = re.findall(r"^CMD (\[.*\])$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    return [arg for arg in json.loads(cmd) if arg.startswith("--")]


def effective(tmp_path: Path) -> dict[str, tuple[Any, str]]:
    """option -> (value, where Streamlit says it was set), from `streamlit config show`: it loads the
    configuration exactly as `streamlit run` does (files, STREAMLIT_* variables, flags), then prints every
    option, those not at their default uncommented."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("STREAMLIT_")}
    [container] = pod_spec()["containers"]
    env.update({var["name"]: var["value"] for var in container["env"]
                if var["name"].startswith("STREAMLIT_") and "value" in var})
    env["HOME"] = str(tmp_path)  # as in the pod (HOME=/tmp): no user-level ~/.streamlit/config.toml
    result = subprocess.run([str(STREAMLIT), "config", "show", *dockerfile_flags()], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    values: dict[str, tuple[Any, str]] = {}
    section, where = "", ""
    for line in result.stdout.splitlines():
        if match := re.fullmatch(r"\[([\w.]+)\]", line):
            section = match[1]
        elif match := re.fullmatch(r"# The value below was set in (.+)", line):
            where = match[1]
        elif line and not line.startswith(("#", " ")):
            key, value = tomllib.loads(line).popitem()
            values[f"{section}.{key}"] = (value, where)
            where = ""
    return values


def test_streamlit_runs_with_production_settings(tmp_path: Path) -> None:
    values = effective(tmp_path)
    assert {name: values.get(name, ("(default)",))[0] for name in PRODUCTION} == PRODUCTION
    # None is left to a default that a Streamlit upgrade could change: each is set by the project's
    # config.toml, and where the Deployment or the image's command repeats one, to the same value.
    project_file = ROOT / ".streamlit" / "config.toml"
    for name in PRODUCTION:
        assert values[name][1] in {str(project_file), "command-line argument or environment variable"}, name
    project = tomllib.loads(project_file.read_text(encoding="utf-8"))
    assert {name: project[name.split(".")[0]][name.split(".")[1]] for name in PRODUCTION} == PRODUCTION


def test_the_image_carries_the_project_config_into_its_working_directory() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^WORKDIR /app$", text, re.M)
    assert re.search(r"^COPY \.streamlit/config\.toml \./\.streamlit/$", text, re.M)
    assert re.search(r'^CMD \["streamlit", "run", "app.py"', text, re.M)
