"""The text scan against files written to fool it, and against ordinary files that only look like use.

Each case comes from a hostile review of the text scan (its reproducers built these trees): a key
must never reach a report, use must not be talked down to a mention by a word nearby, a size cap or a
flood of mentions must not hide use, harmless files (detection rules, installed software, caches,
identifiers, file names, help text) must not be accused, and no line may make the work quadratic.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from conftest import Machine, run_scanner, write_dist_info

from scanner.audit import AuditOptions, run_audit
from scanner.collectors.endpoints.identities import NeedleSearch
from scanner.policy.loader import load_policy
from scanner.report import report_dict

POLICY = load_policy([])
KEY = "sk-7f3a9c2e1b8d4f6a0e5c3b7d9a1f2e4c"


def build(machine: Machine, files: dict[str, str | bytes]) -> None:
    for inside, text in files.items():
        path = machine.path(inside)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())


def audit(machine: Machine) -> dict[str, Any]:
    return report_dict(run_audit(AuditOptions(root=str(machine.root)), POLICY))


def worst(report: dict[str, Any]) -> dict[str, str]:
    """The most severe finding's severity per file (``nothing`` where none)."""
    rank = {"violation": 3, "warning": 2, "info": 1}
    found: dict[str, str] = {}
    for f in report["findings"]:
        path = f["location"]["path"]
        if rank[f["severity"]] > rank.get(found.get(path, ""), 0):
            found[path] = f["severity"]
    return found


def test_a_key_written_onto_a_name_is_fingerprinted_never_printed(machine: Machine) -> None:
    files = {
        "/srv/app/src/main/resources/application.properties": f"app.deepseek.key:{KEY}\n",
        "/home/dev/e/app.ini": f"[llm]\ndeepseek_token:{KEY}\n",
        "/home/dev/e/run.sh": f"#!/bin/sh\nmytool --key deepseek:{KEY} --ask hi\n",
        "/home/dev/e/k.conf": f"model = kimi-k2:{KEY}\n",
    }
    build(machine, files)
    table = run_scanner("audit", "--root", str(machine.root), "--wide", "--all").stdout
    as_json = run_scanner("audit", "--root", str(machine.root), "-f", "json").stdout
    assert KEY not in table and KEY[3:] not in as_json
    assert set(worst(json.loads(as_json))) == set(files), "each is a provider's key, configured: use"
    secrets = [i["attributes"].get("secret") for i in json.loads(as_json)["inventory"]]
    assert all(s and s["fingerprint"].startswith("hmac-sha256:") for s in secrets)


USE_WITH_WORDS_NEARBY = {
    "/home/dev/a/dropin.py": 'client = OpenAI(base_url="https://api.deepseek.com")  # drop-in replacement for OpenAI\n',
    "/home/dev/a/serve.sh": "#!/bin/sh\nvllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-32B --block-size 16 --port 8000\n",
    "/home/dev/a/call.js": (
        'const p = new Promise((resolve, reject) => fetch("https://api.deepseek.com/chat/completions", o).then(resolve));\n'
    ),
    "/home/dev/a/wrap.js": (
        "function ask(q) {\n  return new Promise((resolve, reject) => {\n"
        '    c.chat.completions.create({ model: "deepseek-chat", messages: q }).then(resolve, reject);\n  });\n}\n'
    ),
    "/home/dev/a/loop.py": 'for block in chunks:\n    out = client.chat.completions.create(model="deepseek-chat", messages=[block])\n',
    "/home/dev/a/ansible.yml": (
        "- hosts: gpu\n  tasks:\n    - block:\n        - ansible.builtin.shell: vllm serve deepseek-ai/DeepSeek-R1 --port 8000\n"
    ),
    "/home/dev/a/blockchain_agent.py": 'from langchain_deepseek import ChatDeepSeek\nllm = ChatDeepSeek(model="deepseek-chat")\n',
    "/home/dev/a/src/components/CodeBlock.tsx": 'const ds = createDeepSeek({ apiKey });\nconst r = await generateText({ model: ds("deepseek-chat") });\n',
    "/home/dev/a/std.js": 'const OpenAI = require("openai")\n;(async () => { new OpenAI({ baseURL: "https://api.deepseek.com" }) })()\n',
    "/home/dev/a/main.cpp": '::setenv("OPENAI_BASE_URL", "https://api.moonshot.ai/v1", 1);\n',
    "/home/dev/a/pipe.sh": "#!/bin/sh\ncat q.txt | ollama run deepseek-r1 | tee answer.log | grep -v think | sort | uniq\n",
    "/home/dev/a/filt.py": "filtered_llm = ChatDeepSeek(temperature=0)\n",
    "/home/dev/a/compose.yaml": (
        "services:\n  content-filter:\n    image: vllm/vllm-openai:latest\n    command: --model deepseek-ai/DeepSeek-R1-Distill-Qwen-7B\n"
    ),
    "/home/dev/a/legacy.yaml": "legacy_model: deepseek-chat\n",
    "/home/dev/c/app/settings.json": '{"model":"gpt-4o-mini","routes":{"coding":"deepseek-chat","long":"kimi-k2-0905-preview"}}',
}


def test_use_is_not_talked_down_by_a_word_a_flag_a_file_name_or_a_neighbour_on_the_line(machine: Machine) -> None:
    build(machine, USE_WITH_WORDS_NEARBY)
    found = worst(audit(machine))
    assert {path: found.get(path, "nothing") for path in USE_WITH_WORDS_NEARBY} == dict.fromkeys(
        USE_WITH_WORDS_NEARBY, "violation"
    )


HARMLESS = {
    # detection and policy rules, and block lists in one line
    "/etc/suricata/rules/local.rules": 'alert dns any any -> any any (msg:"AI"; dns.query; content:"api.deepseek.com"; sid:1;)\n',
    "/opt/yara-rules/ai_clients.yar": 'rule AI_Client_DeepSeek {\n  strings:\n    $h = "api.deepseek.com"\n  condition:\n    $h\n}\n',
    "/etc/falco/rules.d/ai.yaml": '- rule: Banned LLM client\n  condition: proc.cmdline contains "ollama run deepseek-r1"\n',
    "/opt/sigma/rules/ai.yml": 'detection:\n  selection:\n    CommandLine|contains:\n      - "ollama pull deepseek-r1"\n',
    "/etc/opt/chrome/policies/managed/policy.json": '{"URLBlocklist": ["https://api.deepseek.com", "https://api.moonshot.ai"]}\n',
    "/srv/opa/ai.rego": 'package ai\nbanned_models := {"deepseek-chat", "kimi-k2"}\n',
    # installed software, caches and mail
    "/home/u/.vscode/extensions/saoudrizwan.claude-dev-3.20.0/dist/extension.js": 'var d={baseURL:"https://api.deepseek.com/v1"};\n',
    "/opt/cursor/resources/app/out/main.js": 'const M=["gpt-4o","deepseek-r1","kimi-k2-instruct"];\n',
    "/home/u/.config/Code/User/globalStorage/x.y/cache/models.json": '{"deepseek/deepseek-chat": {"maxTokens": 8192}}\n',
    "/home/u/.aider/caches/model_prices.json": '{"deepseek/deepseek-chat": {"input_cost_per_token": 1e-7}}\n',
    "/home/u/Mail/Inbox/cur/1700000000.M1.host": "Subject: AI bulletin\n\nBlocked endpoints:\n  https://api.deepseek.com\n",
    # digests, identifiers and file names
    "/home/u/proj/uv.lock": 'wheels = [{ url = "https://x/six.whl", hash = "sha256:abab5d3c2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f" }]\n',
    "/home/u/rs/Cargo.lock": 'checksum = "abab9e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"\n',
    "/home/u/app/settings.yaml": "enable_deepseek: false\n",
    "/home/u/app/flags.py": "use_deepseek = False\n",
    "/home/u/web/src/Providers.tsx": 'import deepseekLogo from "./logos/deepseek-logo.svg";\n',
    "/home/u/web/docker/Dockerfile": "FROM debian:12\nADD janus-1.2.4.tar.gz /src/\n",
    "/home/u/game/ai.py": "def minimax_h1(board):\n    return 0\n",
    "/home/u/.local/share/applications/moonlight.desktop": "[Desktop Entry]\nExec=/home/u/Moonlight-5.0.1-x86_64.AppImage\n",
    "/home/u/.local/share/recently-used.xbel": '<bookmark href="file:///home/u/Downloads/DeepSeek-V3-Technical-Report.pdf"/>\n',
    # sentences: help text, docstrings, block comments, messages, notes
    "/home/u/tool/cli.py": 'p.add_argument("--model", default="gpt-4o", help="model id, e.g. gpt-4o or deepseek-chat")\n',
    "/home/u/tool/doc.py": 'def ask(q):\n    """Ask the model.\n\n    Works with any compatible server, for example deepseek-chat.\n    """\n',
    "/home/u/tool/x.js": "/*\n  Tested with: gpt-4o, deepseek-chat, kimi-k2-instruct\n*/\nexport const x = 1;\n",
    "/home/u/tool/i18n/en.json": '{\n  "warning": "DeepSeek models such as deepseek-chat are not allowed here"\n}\n',
    "/home/u/notes/todo": "compare deepseek-r1 vs o1 on the eval set\n",
}


def test_rules_installed_software_caches_mail_digests_identifiers_and_sentences_are_not_accused(
    machine: Machine,
) -> None:
    build(machine, HARMLESS)
    found = worst(audit(machine))
    assert {path: severity for path, severity in found.items() if severity != "info"} == {}


def test_a_flood_of_mentions_or_padding_cannot_hide_use(machine: Machine) -> None:
    build(
        machine,
        {
            "/home/dev/c/big.py": "".join(f"# deepseek-chat note {i}\n" for i in range(400))
            + 'client = OpenAI(base_url="https://api.deepseek.com")\n',
            "/home/dev/c/pad.yaml": "x: " + "a" * (1 << 20) + "\nbase_url: https://api.deepseek.com\n",
        },
    )
    report = audit(machine)
    assert worst(report)["/home/dev/c/big.py"] == "violation", "mentions do not use up the budget of uses"
    gaps = [s["path"] for s in report["scan"]["coverage"]["skipped"] if s["kind"] == "unreadable"]
    assert gaps == ["/home/dev/c/pad.yaml"] and report["summary"]["complete"] is False


def test_places_people_keep_calls_in_are_read(machine: Machine) -> None:
    cell = {
        "cell_type": "code",
        "metadata": {},
        "outputs": [],
        "source": ['c = OpenAI(base_url="https://api.deepseek.com")\n'],
    }
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    call = "#!/bin/sh\ncurl -s https://api.deepseek.com/chat/completions -d @diff.json\n"
    files = {
        "/home/dev/b/chat.html": '<p>Chat</p>\n<script>\nfetch("https://api.deepseek.com/chat/completions")\n</script>\n',
        "/home/dev/b/requirements/base.txt": "langchain-deepseek==0.1.3\n",
        "/home/dev/b/dev-requirements.txt": "langchain-deepseek==0.1.3\n",
        "/home/dev/b/CMakeLists.txt": 'add_compile_definitions(LLM_URL="https://api.deepseek.com")\n',
        "/usr/local/bin/ask": call,
        "/usr/local/etc/llm.yaml": "base_url: https://api.deepseek.com\n",
        "/home/dev/b/.git/hooks/pre-commit": call,
        "/home/dev/b/nb_min.ipynb": json.dumps(notebook),
        "/srv/models/m/generation_config.json": '{"architectures": ["X"], "base_url": "https://api.deepseek.com"}\n',
    }
    build(machine, files)
    found = worst(audit(machine))
    declared = {
        "/home/dev/b/requirements/base.txt",
        "/home/dev/b/dev-requirements.txt",
    }  # the policy's declared_severity
    expected = {path: "warning" if path in declared else "violation" for path in files}
    assert {path: found.get(path, "nothing") for path in files} == expected


def test_a_page_s_words_are_prose_and_its_scripts_code(machine: Machine) -> None:
    build(machine, {"/home/dev/b/about.html": "<p>We compared deepseek-chat with gpt-4o.</p>\n"})
    assert worst(audit(machine)) == {}


def test_lines_that_would_make_the_work_quadratic_are_read_in_linear_time(machine: Machine) -> None:
    """Each would take minutes to hours at these sizes if any test of a token or a line rescanned the line."""
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["# deepseek\n", *(["    },\n"] * 40000)]}
    build(
        machine,
        {
            "/home/u/p/a.yaml": "édeepseek" * 60000,
            "/home/u/p/b.js": "var a='deepseek';" + "'http://x.io/' ," * 60000,
            "/home/u/p/c.js": "deepseek a" + "@" * 400000 + "/a",
            "/home/u/p/d.ipynb": json.dumps(
                {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1
            ),
            "/home/u/p/e.js": '"deepseek-chat",' * 200000,
        },
    )
    report = audit(machine)
    assert report["summary"]["records"].get("endpoint", 0) <= 200


def test_offsets_without_the_accelerator_survive_text_that_grows_when_lowered() -> None:
    needles = NeedleSearch(("deepseek",), accelerated=False)
    text = "# İSTANBUL İZMİR İÇİN İLK İŞLEM\n" * 50 + 'client = OpenAI(base_url="https://api.deepseek.com")\n'
    assert [text[at : at + 8] for at in needles.offsets(text)] == ["deepseek"]


def test_sockets_fifos_and_links_to_nothing_leave_a_scan_complete(machine: Machine) -> None:
    home = machine.path("/home/u")
    (home / ".gnupg").mkdir(parents=True)
    os.mkfifo(home / "pickup")
    (home / "result").symlink_to("/nix/store/gone-result")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(home / ".gnupg" / "S.gpg-agent"))
        report = audit(machine)
    finally:
        server.close()
    assert report["summary"]["complete"] is True
    assert {s["kind"] for s in report["scan"]["coverage"]["skipped"]} <= {"special-file"}


def test_an_odd_maintainers_field_does_not_hide_a_node_package(machine: Machine) -> None:
    build(
        machine,
        {
            "/home/u/p/node_modules/@ai-sdk/deepseek/package.json": json.dumps(
                {"name": "@ai-sdk/deepseek", "version": "1.0.0", "maintainers": {"name": "x"}}
            ),
            "/home/u/p/node_modules/kimi-code/package.json": json.dumps(
                {"name": "kimi-code", "version": "1.0.0", "maintainers": 1}
            ),
        },
    )
    report = audit(machine)
    assert {f["subject"] for f in report["findings"] if f["kind"] == "package"} >= {"@ai-sdk/deepseek 1.0.0"}
    assert not [s for s in report["scan"]["coverage"]["skipped"] if s["kind"] == "error"]


def test_direction_controls_in_a_name_are_shown_escaped_at_the_terminal(machine: Machine) -> None:
    site = machine.venv("/opt/venv")
    write_dist_info(site, "deepseek-\u202eevil", "1", summary="x")
    table = run_scanner("audit", "--root", str(machine.root), "--all").stdout
    assert "\u202e" not in table and "\\u202e" in table
