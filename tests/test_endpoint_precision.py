"""Endpoint precision: real configurations as people write them, found where they are and nowhere else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Machine, run_scanner

from scanner.audit import AuditOptions, run_audit
from scanner.policy.loader import load_policy
from scanner.report import report_dict
from scanner.reporters.interface import Format
from scanner.store.database import open_store


def write(machine: Machine, inside: str, text: str) -> None:
    path = machine.path(inside)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def findings(machine: Machine) -> set[tuple[str, int | None, str, str, str]]:
    """``(path, line, provider, rule, subject)`` of every finding."""
    report = report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([])))
    return {
        (f["location"]["path"], f["location"]["line"], f["provider"], f["rule_id"], f["subject"])
        for f in report["findings"]
    }


def test_secrets_written_inside_urls_are_masked_everywhere(machine: Machine) -> None:
    secrets = [
        "sk-SECRETuserinfo1234567890",
        "sk-SECRETquery123456789012",
        "sk-SECRETcode12345678901234",
        "SECRET/with/slashes/1234",  # a password with "/": urlsplit would call its start a port
        "sk-SECRETbarequerykey1234",  # a key written as a query name, no "="
    ]
    write(
        machine,
        "/home/u/proj/.env",
        f"OPENAI_BASE_URL=https://deepseek:{secrets[0]}@api.deepseek.com/v1\n"
        f"MOONSHOT_URL=https://api.moonshot.ai/v1?api_key={secrets[1]}\n"
        f"OPENAI_API_BASE=https://bob:{secrets[3]}@api.deepseek.com/beta\n",
    )
    write(
        machine,
        "/home/u/proj/c.py",
        f'requests.get("https://api.minimax.io/v1/models?key={secrets[2]}")\n'
        f'requests.get("https://api.minimax.io/v1/files?{secrets[4]}")\n',
    )
    outputs = [run_scanner("audit", "--root", str(machine.root), "-f", f.value).stdout for f in Format]
    for secret in secrets:
        assert all(secret[:12] not in text for text in outputs), secret
    subjects = {f["subject"] for f in json.loads(outputs[list(Format).index(Format.JSON)])["findings"]}
    assert subjects == {
        "OPENAI_BASE_URL=https://api.deepseek.com/v1",
        "OPENAI_API_BASE=https://api.deepseek.com/beta",
        "MOONSHOT_URL=https://api.moonshot.ai/v1?…",
        "https://api.minimax.io/v1/models?…",
        "https://api.minimax.io/v1/files?…",
    }


def test_the_salt_lives_in_the_store_and_a_scan_writes_nothing_to_the_cache_folder(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier scanner kept the salt in the cache folder: a good one is adopted (fingerprints stay
    comparable across the upgrade), an empty one (a failed write) never is, and neither is rewritten."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("SCANNER_CACHE_DIR", str(cache))
    legacy = bytes(range(32))
    (cache / "secret-salt").write_text(legacy.hex())
    with open_store(tmp_path / "upgraded.db") as store:
        assert store.secret_salt() == legacy
    (cache / "secret-salt").write_text("")
    with open_store(tmp_path / "fresh.db") as store:
        salt = store.secret_salt()
        assert len(salt) == 32 and salt != legacy and store.secret_salt() == salt
    write(machine, "/home/u/.env", "DEEPSEEK_API_KEY=sk-0123456789abcdef0123\n")
    done = run_scanner("audit", "--root", str(machine.root), "--no-store", "-f", "json")
    assert done.returncode == 0, done.stderr
    (secret,) = [i["attributes"]["secret"] for i in json.loads(done.stdout)["inventory"]]
    assert secret["last4"] == "0123" and secret["fingerprint"].startswith("hmac-sha256:")
    assert [p.name for p in cache.iterdir()] == ["secret-salt"] and (cache / "secret-salt").read_text() == ""


def test_a_projects_own_config_files_count_but_not_their_type_fields(machine: Machine) -> None:
    write(machine, "/home/u/game/config.yaml", "players:\n  - name: kimi\n    type: minimax\n")
    write(machine, "/home/u/app/config.toml", '[llm]\nbase_url = "https://api.deepseek.com/v1"\n')
    write(machine, "/home/u/app/settings.json", '{"llm": {"base_url": "https://api.moonshot.ai/v1"}}\n')
    assert findings(machine) == {
        ("/home/u/app/config.toml", 2, "deepseek", "endpoint-host", "base_url=https://api.deepseek.com/v1"),
        ("/home/u/app/settings.json", 1, "moonshot", "endpoint-host", "base_url=https://api.moonshot.ai/v1"),
    }


def test_each_model_and_provider_of_a_settings_block_is_judged_on_its_own(machine: Machine) -> None:
    claude = {
        "env": {
            "ANTHROPIC_BASE_URL": "http://localhost:4000",
            "ANTHROPIC_MODEL": "claude-sonnet-4-5",
            "ANTHROPIC_SMALL_FAST_MODEL": "moonshotai/kimi-k2",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "MiniMax-M2",
        }
    }
    write(machine, "/home/u/.claude/settings.json", json.dumps(claude, indent=2))
    mixed = {
        "env": {
            "ANTHROPIC_BASE_URL": "https://api.minimax.io/anthropic",
            "OPENAI_BASE_URL": "https://api.openai.com/v1",
        }
    }
    write(machine, "/home/v/.claude/settings.json", json.dumps(mixed, indent=2))
    cline = {
        "actModeApiProvider": "anthropic",
        "actModeApiModelId": "claude-sonnet-4-5",
        "planModeApiProvider": "deepseek",
        "planModeApiModelId": "deepseek-reasoner",
    }
    write(machine, "/home/w/.cline/data/globalState.json", json.dumps(cline, indent=2))
    write(
        machine,
        "/home/x/.claude/settings.json",
        '{"env": {"OPENAI_API_KEY": "sk-openaiKEY1234567890", "DEEPSEEK_API_KEY": "sk-deepseekKEY1234567890"}}',
    )
    assert findings(machine) == {
        ("/home/u/.claude/settings.json", 5, "moonshot", "endpoint-model", "moonshotai/kimi-k2"),
        ("/home/u/.claude/settings.json", 6, "minimax", "endpoint-model", "MiniMax-M2"),
        (
            "/home/v/.claude/settings.json",
            3,
            "minimax",
            "endpoint-host",
            "ANTHROPIC_BASE_URL=https://api.minimax.io/anthropic",
        ),
        ("/home/w/.cline/data/globalState.json", 4, "deepseek", "endpoint-provider", "deepseek"),
        ("/home/w/.cline/data/globalState.json", 5, "deepseek", "endpoint-model", "deepseek-reasoner"),
        ("/home/x/.claude/settings.json", 1, "deepseek", "endpoint-variable", "DEEPSEEK_API_KEY=key …7890"),
    }


def test_repeated_settings_get_their_own_lines_and_comments_are_passed_over(machine: Machine) -> None:
    write(
        machine,
        "/home/u/.continue/config.yaml",
        "name: mine\nversion: 1.0.0\nmodels:\n  - name: claude\n    provider: anthropic\n    model: claude-sonnet-4-5\n"
        "  - name: DS chat\n    provider: deepseek\n    model: deepseek-chat\n"
        "  - name: DS reasoner\n    provider: deepseek\n    model: deepseek-reasoner\n",
    )
    write(
        machine,
        "/home/u/.config/Code/User/settings.json",
        '{\n  // old: "roo-cline.openAiBaseUrl": "https://api.deepseek.com/v1",\n'
        '  "editor.fontSize": 14,\n  "roo-cline.openAiBaseUrl": "https://api.deepseek.com/v1"\n}\n',
    )
    lines = {(path, line) for path, line, *_ in findings(machine)}
    assert lines == {
        ("/home/u/.continue/config.yaml", 8),
        ("/home/u/.continue/config.yaml", 11),
        ("/home/u/.config/Code/User/settings.json", 4),
    }


def test_shell_lines_are_read_word_by_word(machine: Machine) -> None:
    write(
        machine,
        "/home/u/.zshrc",
        "export DEEPSEEK_BASE_URL=https://api.deepseek.com/v1; export FOO=1\n"
        "export OPENAI_BASE_URL=https://api.minimax.io/v1 OPENAI_MODEL=gpt-5\n"
        "alias claude-ds='ANTHROPIC_BASE_URL=https://api.deepseek.com/anthropic claude'\n"
        'kimi() { ANTHROPIC_BASE_URL=https://api.moonshot.ai/anthropic ANTHROPIC_AUTH_TOKEN=$K claude "$@"; }\n'
        "alias ds='ANTHROPIC_BASE_URL=https://api.deepseek.com/anthropic claude'\n",  # a name that is a valid variable
    )
    write(machine, "/home/u/.config/fish/config.fish", "set -gx OPENAI_BASE_URL https://api.moonshot.cn/v1\n")
    write(machine, "/home/u/app/.env", "OPENAI_BASE_URL = https://api.minimaxi.com/v1\n")
    write(machine, "/home/u/app/.env.development.local", "OPENAI_API_BASE='https://api.kimi.com/coding/v1'\n")
    write(machine, "/etc/profile.d/ai.sh", "export OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    found = {(path, line, provider) for path, line, provider, *_ in findings(machine)}
    assert found == {
        ("/home/u/.zshrc", 1, "deepseek"),
        ("/home/u/.zshrc", 2, "minimax"),
        ("/home/u/.zshrc", 3, "deepseek"),
        ("/home/u/.zshrc", 4, "moonshot"),
        ("/home/u/.zshrc", 5, "deepseek"),
        ("/home/u/.config/fish/config.fish", 1, "moonshot"),
        ("/home/u/app/.env", 1, "minimax"),
        ("/home/u/app/.env.development.local", 1, "moonshot"),
        ("/etc/profile.d/ai.sh", 1, "deepseek"),
    }


def test_links_to_provider_web_sites_in_settings_are_mentions_but_base_urls_are_not(machine: Machine) -> None:
    write(
        machine,
        "/home/u/.continue/config.yaml",
        "docs:\n  - name: DeepSeek API docs\n    startUrl: https://api-docs.deepseek.com/\n",
    )
    write(
        machine,
        "/home/u/app/.env",
        "STATUS_PAGE_URL=https://status.deepseek.com/\nOPENAI_BASE_URL=https://chat.deepseek.com/api\n",
    )
    assert findings(machine) == {
        ("/home/u/app/.env", 2, "deepseek", "endpoint-host", "OPENAI_BASE_URL=https://chat.deepseek.com/api"),
    }


def test_gateway_and_catalog_ids_name_the_provider(machine: Machine) -> None:
    write(
        machine,
        "/srv/litellm/config.yaml",
        "model_list:\n  - model_name: r1\n    litellm_params:\n      model: bedrock/us.deepseek.r1-v1:0\n",
    )
    write(
        machine,
        "/home/u/.local/share/jupyter/jupyter_ai/config.json",
        '{"model_provider_id": "openrouter:deepseek/deepseek-r1", "embeddings_provider_id": null}',
    )
    write(
        machine,
        "/home/u/.config/opencode/opencode.json",
        '{"provider": {"moonshotai-cn": {"options": {"apiKey": "{env:MOONSHOT_API_KEY}"}}, "anthropic": {}}}',
    )
    write(
        machine,
        "/home/u/.local/share/opencode/auth.json",
        '{"deepseek": {"type": "api", "key": "sk-ds0123456789abcdef"}}',
    )
    found = {(path, provider, rule) for path, _, provider, rule, _ in findings(machine)}
    assert found == {
        ("/srv/litellm/config.yaml", "deepseek", "endpoint-model"),
        ("/home/u/.local/share/jupyter/jupyter_ai/config.json", "deepseek", "endpoint-model"),
        ("/home/u/.config/opencode/opencode.json", "moonshot", "endpoint-provider"),
        ("/home/u/.local/share/opencode/auth.json", "deepseek", "endpoint-provider"),
    }


def test_notebook_prose_and_outputs_are_not_usage(machine: Machine) -> None:
    notebook: dict[str, Any] = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["See https://api.deepseek.com/v1 docs\n"]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "source": ["import requests\n", 'r = requests.post("https://api.moonshot.cn/v1/chat/completions")\n'],
                "outputs": [
                    {
                        "output_type": "stream",
                        "name": "stderr",
                        "text": ["ConnectionError: https://api.minimax.io/v1\n"],
                    }
                ],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write(machine, "/home/u/nb/try.ipynb", json.dumps(notebook, indent=1))
    (finding,) = findings(machine)
    assert finding[2:4] == ("moonshot", "endpoint-host")
    text = machine.path("/home/u/nb/try.ipynb").read_text().splitlines()
    assert "api.moonshot.cn" in text[finding[1] - 1]  # type: ignore[operator]


def test_small_things_people_write(machine: Machine) -> None:
    write(machine, "/home/u/proj/lib/python3/acme/client.py", 'URL = "https://api.deepseek.com/v1"\n')
    write(
        machine,
        "/home/u/.bashrc",
        "export KIMI_CODE_HOME=/home/u/work/.kimi-code\nexport OPENAI_API_HOST=api.deepseek.com.\n",
    )
    found = {(path, line, rule, subject) for path, line, _, rule, subject in findings(machine)}
    assert found == {
        ("/home/u/proj/lib/python3/acme/client.py", 1, "endpoint-host", "https://api.deepseek.com/v1"),
        ("/home/u/.bashrc", 1, "endpoint-variable", "KIMI_CODE_HOME=(set)"),
        ("/home/u/.bashrc", 2, "endpoint-host", "OPENAI_API_HOST=api.deepseek.com"),
    }
    report = report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([])))
    kimi = [r for r in report["inventory"] if r["attributes"].get("variable") == "KIMI_CODE_HOME"]
    assert kimi and kimi[0]["attributes"]["secret"] is None


def test_a_settings_file_with_thousands_of_entries_is_recorded_in_part_and_says_so(machine: Machine) -> None:
    from scanner.collectors.endpoints.toolconfigs import RECORDS_PER_FILE

    entries = ",\n".join(f'{{"model": "deepseek-chat-{n}"}}' for n in range(RECORDS_PER_FILE * 3))
    write(machine, "/srv/data/config.json", f"[\n{entries}\n]\n")
    report = report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([])))
    assert sum(1 for item in report["inventory"] if item["kind"] == "endpoint") == RECORDS_PER_FILE
    skipped = report["scan"]["coverage"]["skipped"]
    assert {
        "path": "/srv/data/config.json",
        "reason": f"{RECORDS_PER_FILE * 3} settings; only the first {RECORDS_PER_FILE} recorded",
        "kind": "partial",
    } in skipped
    assert {(s["path"], s["kind"]) for s in skipped} == {("/srv/data/config.json", "partial")}, (
        "the text scan's cap too"
    )
