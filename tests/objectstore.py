"""An S3-compatible server on loopback (moto's), for the tests of the lake, the shared zone and the dbt build on an
object store: ``object_store`` starts it once per session with one bucket and sets the store's Airflow connection
(``AIRFLOW_CONN_GRIDLAKE_STORE``) as a deployment would; ``store_root`` gives a test a prefix of its own in it.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gridlake.connections import env_var_name
from gridlake.storage import STORE_CONN_ID, store_filesystem

__all__ = ["ObjectStore", "object_store"]

BUCKET = "gridlake-test"


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    bucket: str
    environment: dict[str, str]

    def root(self, name: str) -> str:
        """A fresh prefix of the bucket: ``s3://<bucket>/<name>-<random>``."""
        return f"s3://{self.bucket}/{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def object_store() -> Iterator[ObjectStore]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    conn = json.dumps({"conn_type": "aws", "login": "gridlake", "password": "gridlake-secret",
                       "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}})
    environment = {env_var_name(STORE_CONN_ID): conn}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        store_filesystem("s3").call_s3("create_bucket", Bucket=BUCKET)
        yield ObjectStore(endpoint, BUCKET, environment)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
