"""Users' tokens: stored hashed, issued and revoked by the admin's command, a revocation seen at once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from portal.tokens import TokenStore
from tests.portal.conftest import OTHER_STREET
from tests.portal.support import LogTail

REPO = Path(__file__).resolve().parents[2]
GRIDLAKE = Path(sys.executable).with_name("gridlake")


def test_a_revocation_is_seen_even_when_the_file_keeps_its_time(tmp_path: Path) -> None:
    """Two writes within one tick of a coarse file-system clock leave the file's time unchanged: the service's
    store (another instance, as in the service) must still see the revocation."""
    path = tmp_path / "tokens.json"
    admin, service = TokenStore(path), TokenStore(path)
    issued = admin.issue("街道甲", "street_office", {"street_code": "110101001"})
    assert service.check(issued.token) is not None
    before = path.stat()
    assert admin.revoke(issued.token_id)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert service.check(issued.token) is None


def _gridlake(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The admin's command, run as the admin runs it, over ``home``."""
    env = {**os.environ, "GRIDLAKE_HOME": str(home), "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([str(GRIDLAKE), "portal", "token", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_token_file_holds_hashes_not_tokens(service) -> None:
    text = (service.home / "portal" / "tokens.json").read_text(encoding="utf-8")
    entries = json.loads(text)
    for token in service.tokens.values():
        _, token_id, secret = token.split("_", 2)
        assert secret not in text and token not in text
        assert entries[token_id]["sha256"] == hashlib.sha256(secret.encode()).hexdigest()


def test_the_admin_issues_lists_and_revokes_a_token_the_service_honours_at_once(service) -> None:
    issued = _gridlake(service.home, "issue", "--user", "东四街道-王", "--role", "street_office", "--street",
                       OTHER_STREET)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    assert token.startswith("glk_") and token not in (service.home / "portal" / "tokens.json").read_text("utf-8")
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}) as client:
        me = client.get("/api/me").json()
        assert (me["role"], me["attributes"]) == ("street_office", {"street_code": OTHER_STREET})
        streets = client.post("/api/query", json={"sql": "select distinct street_code from city_events"}).json()
        assert [row["street_code"] for row in streets["rows"]] == [OTHER_STREET]

        listed = _gridlake(service.home, "list")
        assert listed.returncode == 0 and token_id in listed.stdout and token.split("_")[2] not in listed.stdout

        revoked = _gridlake(service.home, "revoke", token_id)
        assert revoked.returncode == 0, revoked.stderr
        tail = LogTail(service.home)
        answer = client.get("/api/datasets")
    assert answer.status_code == 401 and answer.json() == {"error": "unauthorized", "reason": "访问令牌已被撤销"}
    (line,) = tail.new()
    assert (line["user"], line["role"], line["token_id"], line["status"]) == (
        "东四街道-王", "street_office", token_id, "refused")
    assert token.split("_")[2] not in json.dumps(line)
    again = _gridlake(service.home, "revoke", token_id)
    assert again.returncode == 1 and "no active token" in again.stderr


def test_the_admin_cannot_issue_a_token_the_policy_does_not_allow(service) -> None:
    before = (service.home / "portal" / "tokens.json").read_text(encoding="utf-8")
    no_street = _gridlake(service.home, "issue", "--user", "甲", "--role", "street_office")
    no_role = _gridlake(service.home, "issue", "--user", "甲", "--role", "mayor")
    assert no_street.returncode == 2 and "street_code" in no_street.stderr
    assert no_role.returncode == 2 and "unknown role 'mayor'" in no_role.stderr
    assert (service.home / "portal" / "tokens.json").read_text(encoding="utf-8") == before


def test_a_token_revoked_in_the_store_fails_on_the_next_request(service) -> None:
    store = TokenStore(service.home / "portal" / "tokens.json")
    issued = store.issue("test-short-lived", "credit_office")
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {issued.token}"}) as client:
        assert client.get("/api/datasets").status_code == 200
        store.revoke(issued.token_id)
        assert client.post("/api/query", json={"sql": "select 1"}).status_code == 401


@pytest.mark.parametrize(("header", "reason", "token_id"), [
    (None, "未提供访问令牌（请求头 Authorization: Bearer <令牌>）", None),
    ("Basic dXNlcjpwYXNz", "未提供访问令牌（请求头 Authorization: Bearer <令牌>）", None),
    ("Bearer not-a-token", "访问令牌格式无效", None),
    ("Bearer glk_000000000000_guessed", "访问令牌无效", "000000000000"),
])
def test_a_request_without_a_valid_token_is_refused_and_logged(service, header: str | None, reason: str,
                                                                token_id: str | None) -> None:
    tail = LogTail(service.home)
    headers = {"Authorization": header} if header else {}
    with httpx.Client(base_url=service.url, headers=headers) as client:
        answers = [client.get("/api/datasets"), client.post("/api/query", json={"sql": "select 1"}),
                   client.get("/api/datasets/hotline_requests/rows")]
    assert [answer.status_code for answer in answers] == [401] * 3
    assert all(answer.json() == {"error": "unauthorized", "reason": reason} for answer in answers)
    lines = tail.new()
    assert [(line["status"], line["token_id"], line["user"]) for line in lines] == [("refused", token_id, None)] * 3
    assert all(line["reason"].startswith(reason) for line in lines)


def test_a_wrong_secret_for_a_real_id_is_just_invalid(service) -> None:
    token_id = service.tokens["centre"].split("_")[1]
    tail = LogTail(service.home)
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer glk_{token_id}_guessed"}) as client:
        answer = client.get("/api/datasets")
    assert answer.status_code == 401 and answer.json()["reason"] == "访问令牌无效"
    (line,) = tail.new()
    assert (line["token_id"], line["user"], line["status"]) == (token_id, "test-centre", "refused")
