"""Detection in the wild: the providers' identities in any text file, use told from mention.

The files below are written the way the public files of each class are (launch scripts, manifests,
code in several languages, tool settings); the project's in-the-wild set (``tests/wild``,
``bench/bench_wild.py``) measures the same rules on the real public files themselves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Machine, require_module

from scanner.audit import AuditOptions, run_audit
from scanner.collectors.endpoints.identities import literal_cores
from scanner.policy.loader import load_policy
from scanner.report import report_dict

POLICY = load_policy([])


def write(machine: Machine, inside: str, text: str | bytes) -> None:
    path = machine.path(inside)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def report(machine: Machine) -> dict[str, Any]:
    return report_dict(run_audit(AuditOptions(root=str(machine.root)), POLICY))


def judged(machine: Machine) -> dict[tuple[str, int | None], tuple[str | None, str, str]]:
    """``(path, line) -> (provider, rule, severity)`` of the endpoint findings, the most severe per line."""
    found: dict[tuple[str, int | None], tuple[str | None, str, str]] = {}
    for f in report(machine)["findings"]:
        if f["kind"] == "endpoint":
            found.setdefault(
                (f["location"]["path"], f["location"]["line"]), (f["provider"], f["rule_id"], f["severity"])
            )
    return found


USES = {
    # Model ids with no URL, in any language: a cloud's id, a framework's selector, a gateway's id.
    "/srv/app/amplify/functions/chat/resource.ts": (
        "export const chat = defineFunction({\n  environment: {\n    MODEL_ID: 'us.deepseek.r1-v1:0',\n  },\n});\n",
        3,
        "deepseek",
    ),
    "/home/dev/agent/main.py": (
        'from pydantic_ai import Agent\n\nagent = Agent("deepseek:deepseek-chat")\n',
        3,
        "deepseek",
    ),
    "/home/dev/app/router.go": (
        'package main\n\nconst model = "accounts/fireworks/models/kimi-k2-instruct"\n',
        3,
        "moonshot",
    ),
    "/home/dev/bot/src/Bot.kt": ('class Bot {\n    val model = "minimax/minimax-m2"\n}\n', 2, "minimax"),
    "/srv/app/src/main/resources/application.properties": (
        "server.port=8080\nspring.ai.deepseek.chat.options.model=deepseek-reasoner\n",
        2,
        "deepseek",
    ),
    # Self-hosted serving of the weights: launch commands, manifests, images, Modelfiles, proxies.
    "/home/dev/serve.sh": (
        "#!/bin/sh\nvllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-7B \\\n  --tensor-parallel-size 2\n",
        2,
        "deepseek",
    ),
    "/home/dev/run.ps1": (
        "docker run --gpus all vllm/vllm-openai `\n  --model moonshotai/Kimi-K2-Instruct\n",
        2,
        "moonshot",
    ),
    "/srv/llm/Dockerfile": (
        "FROM ollama/ollama\nRUN ollama serve & sleep 5 && ollama pull deepseek-r1:14b\n",
        2,
        "deepseek",
    ),
    "/srv/llm/Modelfile": ("FROM deepseek-r1:14b\nPARAMETER temperature 0.6\n", 1, "deepseek"),
    "/srv/k8s/deploy.yaml": (
        'spec:\n  containers:\n    - name: vllm\n      args: ["--model", "MiniMaxAI/MiniMax-M1-80k"]\n',
        4,
        "minimax",
    ),
    "/etc/nginx/conf.d/llm.conf": ("location /v1/ {\n    proxy_pass https://api.deepseek.com/;\n}\n", 2, "deepseek"),
    "/srv/compose/docker-compose.yml": (
        "services:\n  llm:\n    command: --model ${MODEL:-deepseek-ai/DeepSeek-V3}\n",
        3,
        "deepseek",
    ),
    # SDKs named in code, with no URL and no model.
    "/home/dev/music/llm.py": (
        "from langchain_deepseek import ChatDeepSeek\n\nllm = ChatDeepSeek(temperature=0)\n",
        1,
        "deepseek",
    ),
    "/srv/web/lib/ai.ts": ("import { createDeepSeek } from '@ai-sdk/deepseek';\n", 1, "deepseek"),
    "/home/dev/kimi/chat.py": ("from langchain_community.chat_models.moonshot import MoonshotChat\n", 1, "moonshot"),
    # A provider selected by name in a setting, and a provider's key read by code.
    "/home/dev/mem0/config.yaml": ("llm:\n  provider: deepseek\n  config:\n    temperature: 0.1\n", 2, "deepseek"),
    "/srv/web/lib/key.js": ("const key = process.env.MINIMAX_API_KEY;\n", 1, "minimax"),
    # Lists in one value.
    "/srv/webui/compose.yaml": (
        'environment:\n  - OPENAI_API_BASE_URLS="https://api.openai.com/v1;https://api.moonshot.cn/v1"\n',
        2,
        "moonshot",
    ),
    # A unit's own words, beside its Environment= lines.
    "/etc/systemd/system/llm.service": (
        "[Service]\nDescription=MiniMax-M2 server\nExecStart=/opt/tabby/start.sh\n",
        2,
        "minimax",
    ),
}


def test_use_is_found_in_any_text_file_whatever_its_language_or_shape(machine: Machine) -> None:
    for path, (text, _, _) in USES.items():
        write(machine, path, text)
    found = judged(machine)
    for path, (_, line, provider) in USES.items():
        assert (path, line) in found, (path, sorted(k for k in found if k[0] == path))
        assert found[(path, line)][0] == provider, path
        assert found[(path, line)][2] in ("violation", "warning"), (path, found[(path, line)])


MENTIONS = {
    "/home/dev/serve.sh": "#!/bin/sh\n# vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-7B\nvllm serve Qwen/Qwen2.5-7B\n",
    "/home/dev/app.py": 'model = "gpt-4o"  # deepseek-chat was slower\n',
    "/home/dev/plugins.lua": "-- see https://github.com/deepseek-ai/DeepSeek-V3 for the paper\nreturn {}\n",
    "/etc/nginx/snippets/bots.conf": 'if ($http_user_agent ~* "DeepSeekBot") { return 403; }\n',
    "/etc/caddy/Caddyfile": '@bots header_regexp User-Agent "(GPTBot|ClaudeBot|Bytespider|Kimi-User|CCBot|DeepSeekBot)"\nabort @bots\n',
    "/etc/dnsmasq.d/ai.conf": "address=/deepseek.com/0.0.0.0\n0.0.0.0 api.deepseek.com\n",
    "/srv/translator/settings.json": '{\n  "thinkIgnore": "qwen3,deepseek-r1",\n  "model": "gpt-4o-mini"\n}\n',
    "/srv/router/policy.yaml": "blocked_models:\n  - deepseek-chat\n  - kimi-k2-instruct\nallowed_models:\n  - gpt-4o\n",
    "/home/dev/proj/.gitignore": "models/deepseek-r1/\n",
    "/home/dev/proj/notes.md": "We compared `deepseek-chat` with `MiniMax-M2` last week.\n",
    "/home/dev/proj/ids.csv": "name,vendor\ndeepseek-chat,DeepSeek\n",
    "/srv/ai/domains.json": '{"domains": [\n  "api.deepseek.com",\n  "api.moonshot.ai",\n  "api.openai.com"\n]}\n',
}


def test_mentions_are_never_more_than_info(machine: Machine) -> None:
    """Comments, block rules, name lists, exclusions, ignore lists, documents and data tables name a
    provider without using it."""
    for path, text in MENTIONS.items():
        write(machine, path, text)
    found = judged(machine)
    assert {k: v for k, v in found.items() if v[2] != "info"} == {}
    assert ("/home/dev/serve.sh", 2) in found, "a commented-out launch is still on record, as info"


LOOK_ALIKES = {
    "/home/dev/game/minimax.py": "def minimax(board, depth, maximizing):\n    return alpha_beta(board, depth)\n",
    "/home/dev/game/config.yaml": "players:\n  - name: kimi\n    type: minimax\n",
    "/home/dev/net/route.rsc": '/ip dns static add comment="deepseek" name="deepseek.com" type=FWD\n',
    "/home/u/.bashrc": "export KIMI_CODE_HOME=/home/u/work/.kimi-code\n",
    "/home/dev/tok/constants.py": "DEEPSEEK_SPECIALS = ['<think>']\nAUTHOR = 'a@deepseek.com'\n",
    "/home/dev/algo/search.py": 'PATH = "algorithms/minimax/alphabeta.py"\n',
}


def test_words_that_only_look_like_a_provider_are_not_accused(machine: Machine) -> None:
    for path, text in LOOK_ALIKES.items():
        write(machine, path, text)
    found = judged(machine)
    assert {k: v for k, v in found.items() if v[2] != "info" and k[0] != "/home/u/.bashrc"} == {}
    assert all(v[1] == "endpoint-variable" for k, v in found.items() if k[0] == "/home/u/.bashrc")


def test_a_structured_readers_record_is_kept_and_the_text_scans_repeat_dropped(machine: Machine) -> None:
    write(machine, "/home/u/app/.env", "OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    write(
        machine,
        "/home/u/.claude-code-router/config.json",
        json.dumps(
            {"Providers": [{"api_base_url": "https://openrouter.ai/api/v1", "models": ["moonshotai/kimi-k2"]}]},
            indent=2,
        ),
    )
    found = report(machine)["findings"]
    env = [f for f in found if f["location"]["path"] == "/home/u/app/.env"]
    assert [(f["rule_id"], f["subject"]) for f in env] == [
        ("endpoint-host", "OPENAI_BASE_URL=https://api.deepseek.com/v1")
    ]
    router = [f for f in found if f["location"]["path"].endswith("config.json")]
    assert [(f["provider"], f["subject"]) for f in router] == [("moonshot", "moonshotai/kimi-k2")], (
        "the gateway's model"
    )


def test_installed_trees_and_binaries_are_not_read_as_use(machine: Machine) -> None:
    line = 'client = OpenAI(base_url="https://api.deepseek.com")\n'
    for inside in (
        "/opt/venv/lib/python3.11/site-packages/litellm/deepseek.py",
        "/srv/web/node_modules/@ai-sdk/deepseek/dist/index.js",
        "/home/u/.cargo/registry/src/index/deepseek-rs-0.1/src/lib.rs",
        "/home/u/go/pkg/mod/github.com/x/deepseek@v1.0.0/client.go",
        "/usr/share/doc/example.py",
    ):
        write(machine, inside, line)
    write(machine, "/srv/bin/tool", b"\x7fELF\x00\x00" + line.encode())
    assert judged(machine) == {}


def test_a_file_that_names_a_provider_endlessly_is_recorded_in_part_and_says_so(machine: Machine) -> None:
    from scanner.collectors.endpoints.text import RECORDS_PER_FILE

    write(machine, "/srv/data/run.sh", "".join(f"vllm serve deepseek-ai/DeepSeek-V3 --port {n}\n" for n in range(5000)))
    result = report(machine)
    assert sum(1 for i in result["inventory"] if i["kind"] == "endpoint") == RECORDS_PER_FILE
    assert result["scan"]["coverage"]["skipped"] == [
        {
            "path": "/srv/data/run.sh",
            "reason": f"only the first {RECORDS_PER_FILE} uses of provider identities in this file are recorded",
            "kind": "partial",
        }
    ]


@pytest.mark.parametrize(
    ("pattern", "cores"),
    [
        ("(^|[/.:])deepseek[-_. ]", ["deepseek"]),
        ("(^|[/.:])(moonshot-v1|kimi[-_. ])", ["moonshot-v1", "kimi"]),
        (r"(^|[^a-z0-9])(abab\d|minimax[-_. ]?(m\d|text))", ["abab", "minimax"]),
        ("r1[-_. ]distill", ["distill"]),
        ("x?abc", ["abc"]),
    ],
)
def test_the_prefilter_needle_of_a_pattern_is_a_literal_every_match_contains(pattern: str, cores: list[str]) -> None:
    assert literal_cores(pattern) == cores


def test_a_recipe_that_trains_on_data_distilled_from_a_provider_names_its_lineage(machine: Machine) -> None:
    write(
        machine,
        "/home/u/open-r1/recipes/sft.yaml",
        "model_name_or_path: Qwen/Qwen2.5-7B\ndataset_name: open-r1/Mixture-of-Thoughts\n",
    )
    write(
        machine,
        "/home/u/train.py",
        'from datasets import load_dataset\nds = load_dataset("bespokelabs/Bespoke-Stratos-17k")\n',
    )
    write(
        machine,
        "/home/u/old.yaml",
        "# dataset_name: open-r1/Mixture-of-Thoughts\ndataset_name: HuggingFaceH4/ultrachat_200k\n",
    )
    findings = [f for f in report(machine)["findings"] if f["kind"] == "model"]
    assert {(f["location"]["path"], f["location"]["line"], f["provider"], f["rule_id"]) for f in findings} == {
        ("/home/u/open-r1/recipes/sft.yaml", 2, "deepseek", "model-lineage"),
        ("/home/u/train.py", 2, "deepseek", "model-lineage"),
    }
    (recipe,) = [f for f in findings if f["location"]["path"].endswith("sft.yaml")]
    assert (
        "teacher-outputs" in " ".join(recipe["evidence"]) and recipe["lineage"][-1] == "→ provider deepseek (DeepSeek)"
    )


@pytest.mark.parametrize("accelerated", [True, False], ids=["re2", "pure-python"])
def test_the_accelerated_search_and_its_fallback_give_the_same_answers(accelerated: bool) -> None:
    from scanner.collectors.endpoints.identities import NeedleSearch

    search = NeedleSearch(("deepseek", "kimi", "open-r1/"), accelerated=accelerated)
    if accelerated:
        require_module("re2")
        assert search.accelerated
    text = "Ünïcode first\nuse DeepSeek and KIMI-k2 here\nnothing\nOpen-R1/Mixture and deepseekdeepseek\n"
    assert search.occurs(text.encode()) and not search.occurs(b"nothing at all")
    assert search.offsets(text) == [18, 31, 52, 72, 80]


def test_a_settings_block_named_after_a_provider_and_a_package_a_command_runs_are_use(machine: Machine) -> None:
    """Tools nobody catalogued: an INI section, a TOML table or a JSON or YAML key named after the
    provider that sets a key, a model or a command; an MCP client starting the provider's server."""
    write(machine, "/home/u/.aicommit2", "[DEEPSEEK]\napi_key = sk-0123456789abcdef0123\n\n[OPENAI]\nkey = x\n")
    write(machine, "/home/u/.config/tool/config.toml", '[providers.moonshot]\nmodel = "some-model"\n')
    write(
        machine,
        "/home/u/.cursor/mcp.json",
        json.dumps({"mcpServers": {"minimax": {"command": "uvx", "args": ["minimax-mcp"]}}}, indent=2),
    )
    write(machine, "/home/u/setup.sh", "pip install langchain-deepseek==1.1.1\nnpx -y @deepseek-ai/dsh@latest\n")
    write(machine, "/home/u/game.yaml", "players:\n  kimi:\n    score: 3\n")  # a name, no AI setting
    found = judged(machine)
    assert {k: v[:2] for k, v in found.items()} == {
        ("/home/u/.aicommit2", 1): ("deepseek", "endpoint-provider"),
        ("/home/u/.config/tool/config.toml", 1): ("moonshot", "endpoint-provider"),
        ("/home/u/.cursor/mcp.json", 3): ("minimax", "endpoint-provider"),
        ("/home/u/.cursor/mcp.json", 6): ("minimax", "endpoint-sdk"),  # json.dumps puts args on two lines
        ("/home/u/setup.sh", 1): ("deepseek", "endpoint-sdk"),
        ("/home/u/setup.sh", 2): ("deepseek", "endpoint-sdk"),
    }


def test_a_hostile_file_of_endless_lines_costs_linear_time(machine: Machine) -> None:
    """A minified line of megabytes full of quotes, comment markers and words next to a provider's name
    is judged within a window around each name, so the scan ends (quadratic work here took hours) and
    still finds the use at the end."""
    noise = ("a" * 2000 + ' "q" # x // y | ') * 1500
    write(machine, "/srv/app/bundle.js", noise + 'fetch("https://api.deepseek.com/v1")\n')
    write(machine, "/srv/app/words.yaml", "k: " + "w" * 3_000_000 + " deepseek-chat\n")
    found = judged(machine)
    assert found[("/srv/app/bundle.js", 1)][:2] == ("deepseek", "endpoint-host")
