"""--online lineage and digest lists, against a real HTTP server on 127.0.0.1 imitating the Hub API."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import Machine, run_scanner
from modelkit import hf_cache_repo, write_gguf

from scanner.audit import AuditOptions, run_audit
from scanner.policy.loader import load_policy
from scanner.report import report_dict

REPOS: dict[str, dict[str, Any]] = {
    "acme/helper-7b": {
        "cardData": {"base_model": "acme/helper-7b-base", "base_model_relation": "finetune"},
        "siblings": [],
    },
    "acme/helper-7b-base": {
        "cardData": {"base_model": ["deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"], "base_model_relation": "merge"},
        "siblings": [],
    },
    "deepseek-ai/DeepSeek-R1": {
        "cardData": {"license": "mit"},
        "siblings": [
            {"rfilename": "config.json", "size": 1729, "blobId": "x"},
            {
                "rfilename": "model-00001-of-000163.safetensors",
                "size": 5234139343,
                "blobId": "y",
                "lfs": {
                    "size": 5234139343,
                    "sha256": "c2388e6b127ce6664e35c5e2529c3ce4bfc99f4f7fb6fa48e92b29ed5e4922af",
                    "pointerSize": 135,
                },
            },
        ],
    },
}


class FakeHub(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        FakeHub.requests.append(self.path)
        repo = self.path.split("?")[0].removeprefix("/api/models/")
        data = REPOS.get(repo)
        body = json.dumps({"id": repo, **data} if data else {"error": "Repository not found"}).encode()
        self.send_response(200 if data else 404)
        self.send_header("Content-Type", "application/json")
        if not data:
            self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("SCANNER_CACHE_DIR", str(tmp_path / "cache"))
    FakeHub.requests = []
    yield endpoint
    server.shutdown()


def _weights_only_cache(machine: Machine, tmp_path: Path) -> str:
    gguf = write_gguf(tmp_path / "w.gguf", name="Helper 7B")
    hf_cache_repo(
        machine.path("/root/.cache/huggingface/hub"), "acme/helper-7b", {"helper-7b.Q4_K_M.gguf": gguf.read_bytes()}
    )
    return "/root/.cache/huggingface/hub/models--acme--helper-7b"


def audit(machine: Machine, online: bool) -> dict[str, Any]:
    return report_dict(run_audit(AuditOptions(root=str(machine.root), online=online), load_policy([])))


def test_online_follows_base_model_chains_on_the_hub(machine: Machine, tmp_path: Path, hub: str) -> None:
    repo = _weights_only_cache(machine, tmp_path)
    assert audit(machine, online=False)["findings"] == [] and FakeHub.requests == []
    (finding,) = audit(machine, online=True)["findings"]
    assert finding["location"]["path"] == repo and finding["rule_id"] == "model-lineage"
    chain = finding["lineage"]
    assert chain[1].startswith(
        f"→ fine-tuned from `acme/helper-7b-base` (model card of acme/helper-7b on {hub}, fetched "
    )
    assert chain[2].startswith(
        "→ merged from `deepseek-ai/DeepSeek-R1-Distill-Qwen-7B` (model card of acme/helper-7b-base"
    )
    assert "policy lineage r1-distill-qwen-7b" in chain[3]


def test_hub_answers_are_cached_and_an_unreachable_hub_does_not_fail_the_scan(
    machine: Machine, tmp_path: Path, hub: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _weights_only_cache(machine, tmp_path)
    audit(machine, online=True)
    asked = len(FakeHub.requests)
    audit(machine, online=True)
    assert len(FakeHub.requests) == asked, "the second scan is answered from the cache"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", dead)
    monkeypatch.setenv("SCANNER_CACHE_DIR", str(tmp_path / "empty-cache"))
    report = audit(machine, online=True)
    assert report["findings"] == []
    (gap,) = report["scan"]["coverage"]["skipped"]
    assert gap["path"] == dead and "unreachable" in gap["reason"] and report["summary"]["complete"] is False


def test_policy_digests_lists_a_repos_weight_files(hub: str) -> None:
    done = run_scanner(
        "policy", "digests", "deepseek-ai/DeepSeek-R1", "--provider", "deepseek", "--source", "hf-deepseek-r1"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == (
        "  - {sha256: c2388e6b127ce6664e35c5e2529c3ce4bfc99f4f7fb6fa48e92b29ed5e4922af, model: deepseek-ai/DeepSeek-R1, "
        'file: model-00001-of-000163.safetensors, providers: [deepseek], source: hf-deepseek-r1, note: "size 5234139343"}'
    )
    missing = run_scanner("policy", "digests", "nobody/nothing", "--provider", "deepseek", "--source", "x")
    assert missing.returncode == 2 and "repository not found" in missing.stderr


def test_lineage_of_a_name_can_go_online(hub: str) -> None:
    done = run_scanner("lineage", "acme/helper-7b", "--online")
    assert done.returncode == 1 and "policy lineage r1-distill-qwen-7b" in done.stdout
