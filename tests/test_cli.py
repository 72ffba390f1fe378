"""The unmodified AWS CLI against the server: the same wire as boto3, driven from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import LiveServer, unique, wait_for

# awscli is a test dependency installed next to this interpreter.
AWS = str(Path(sys.executable).parent / "aws")


def aws(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        # Never read a developer's own profile or retry policy.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    command = [AWS, "personalize", *args, "--endpoint-url", server.url, "--region", "us-east-1", "--output", "json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_list_dataset_groups(server: LiveServer, personalize: Any) -> None:
    name = unique("cli")
    arn = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"])
    result = aws(server, "list-dataset-groups")
    assert result.returncode == 0, result.stderr
    groups = {g["datasetGroupArn"]: g for g in json.loads(result.stdout)["datasetGroups"]}
    assert groups[arn]["name"] == name and groups[arn]["status"] == "ACTIVE"
    # CLI v1 prints timestamps as received: epoch seconds (spec §1.5).
    assert abs(groups[arn]["creationDateTime"] - time.time()) < 600


def test_create_schema_and_a_not_found_error(server: LiveServer) -> None:
    text = json.dumps({"type": "record", "name": "Users",
                       "fields": [{"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": "int"}]})
    created = aws(server, "create-schema", "--name", unique("cli"), "--schema", text)
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["schemaArn"]
    described = aws(server, "describe-schema", "--schema-arn", arn)
    assert json.loads(described.stdout)["schema"]["schema"] == text
    missing = aws(server, "describe-dataset-group", "--dataset-group-arn", arn.replace(":schema/", ":dataset-group/"))
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr and "Could not find dataset group" in missing.stderr
