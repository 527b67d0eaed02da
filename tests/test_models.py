"""The model inventory and lineage, on trees of real GGUF, safetensors, HF-cache and Ollama files."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from conftest import Machine
from modelkit import (
    DEEPSEEK_SPECIALS,
    hf_cache_repo,
    model_card,
    ollama_store,
    qwen2_config,
    tokenizer_config,
    write_gguf,
    write_json,
    write_safetensors,
)

from scanner.audit import AuditOptions, run_audit
from scanner.audit import audit as audit_and_record
from scanner.policy.loader import load_policy
from scanner.report import report_dict
from scanner.store.database import open_store

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not present")


def audit(root: Path, policy: str = "default") -> dict[str, Any]:
    return report_dict(run_audit(AuditOptions(root=str(root)), load_policy([policy])))


def findings_at(report: dict[str, Any], path: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["location"]["path"] == path]


def models(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["location"]["path"]: item for item in report["inventory"] if item["kind"] == "model"}


def test_hf_cache_gguf_repo_is_one_model_with_its_quantization_chain(machine: Machine, tmp_path: Path) -> None:
    gguf_a = write_gguf(tmp_path / "a.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 7B", pre="qwen2")
    gguf_b = write_gguf(tmp_path / "b.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 7B", pre="qwen2")
    card = model_card("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "quantized").encode()
    hub = machine.path("/home/alice/.cache/huggingface/hub")
    hf_cache_repo(
        hub,
        "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF",
        {
            "README.md": card,
            "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf": gguf_a.read_bytes(),
            "DeepSeek-R1-Distill-Qwen-7B-Q8_0.gguf": gguf_b.read_bytes(),
        },
    )
    report = audit(machine.root)
    repo = "/home/alice/.cache/huggingface/hub/models--unsloth--DeepSeek-R1-Distill-Qwen-7B-GGUF"
    model = models(report)[repo]
    assert model["name"] == "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF" and model["version"] == "a" * 40
    assert [f["format"] for f in model["attributes"]["files"]].count("gguf") == 2
    assert len(models(report)) == 1, "blobs and refs are bookkeeping, not models"
    (finding,) = findings_at(report, repo)
    assert (finding["provider"], finding["rule_id"], finding["confidence"], finding["severity"]) == (
        "deepseek",
        "model-lineage",
        "confirmed",
        "violation",
    )
    chain = finding["lineage"]
    assert chain[0].startswith("`unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF`")
    assert chain[1].startswith("→ quantized from `deepseek-ai/DeepSeek-R1-Distill-Qwen-7B` (base_model in ")
    assert chain[2].startswith("→ distilled from `deepseek-ai/DeepSeek-R1`")
    assert chain[-1] == "→ provider deepseek (DeepSeek)"
    digests = [c for c in model["attributes"]["clues"] if c["kind"] == "digest"]
    assert len(digests) == 2 and all(len(c["value"]) == 64 for c in digests)


def test_a_renamed_r1_distill_folder_is_found_by_its_tokenizer(machine: Machine) -> None:
    folder = machine.path("/srv/models/assistant")
    write_json(folder / "config.json", qwen2_config())
    write_json(folder / "tokenizer_config.json", tokenizer_config([*DEEPSEEK_SPECIALS, "<think>"]))
    write_safetensors(folder / "model-00001-of-00002.safetensors")
    write_safetensors(folder / "model-00002-of-00002.safetensors")
    report = audit(machine.root)
    model = models(report)["/srv/models/assistant"]
    assert model["attributes"]["format"] == "safetensors"
    assert len([f for f in model["attributes"]["files"] if f["format"] == "safetensors"]) == 2
    (finding,) = findings_at(report, "/srv/models/assistant")
    assert (finding["provider"], finding["rule_id"], finding["confidence"], finding["severity"]) == (
        "deepseek",
        "model-fingerprint",
        "strong",
        "violation",
    )
    assert "special token `<｜begin▁of▁sentence｜>`" in " ".join(finding["evidence"])


def test_a_gguf_whose_only_clue_is_its_tokenizer(machine: Machine) -> None:
    write_gguf(machine.path("/opt/ai/brain.gguf"), arch="qwen2", name="brain", pre="deepseek-r1-qwen")
    (finding,) = audit(machine.root)["findings"]
    assert (finding["provider"], finding["rule_id"], finding["confidence"]) == (
        "deepseek",
        "model-fingerprint",
        "strong",
    )
    assert finding["lineage"] == [
        "`brain` (/opt/ai/brain.gguf)",
        "→ its GGUF pre-tokenizer is `deepseek-r1-qwen`",
        "→ provider deepseek (DeepSeek)",
    ]


def test_an_ollama_alias_of_a_banned_blob_is_reported(machine: Machine, tmp_path: Path) -> None:
    weights = write_gguf(tmp_path / "w.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 7B", pre="deepseek-r1-qwen")
    template = b"{{ .System }}<\xef\xbd\x9cUser\xef\xbd\x9c>{{ .Prompt }}<\xef\xbd\x9cAssistant\xef\xbd\x9c>"
    store = machine.path("/usr/share/ollama/.ollama/models")
    ollama_store(
        store,
        {"weights": weights.read_bytes(), "template": template},
        {"deepseek-r1:7b": {"model": "weights", "template": "template"}, "assistant:latest": {"model": "weights"}},
    )
    report = audit(machine.root)
    base = "/usr/share/ollama/.ollama/models/manifests/registry.ollama.ai/library"
    inventory = models(report)
    assert {inventory[f"{base}/deepseek-r1/7b"]["name"], inventory[f"{base}/assistant/latest"]["name"]} == {
        "deepseek-r1:7b",
        "assistant:latest",
    }
    assert len(inventory) == 2, "the blob belongs to its manifests, not a model of its own"
    (official,) = findings_at(report, f"{base}/deepseek-r1/7b")
    assert official["rule_id"] == "model-lineage" and "policy lineage r1-distill-qwen-7b" in " ".join(
        official["lineage"]
    )
    (alias,) = findings_at(report, f"{base}/assistant/latest")
    assert (alias["provider"], alias["confidence"]) == ("deepseek", "confirmed")
    assert "DeepSeek R1 Distill Qwen 7B" in " ".join(alias["lineage"])


def test_a_finetune_whose_card_declares_a_banned_base_model(machine: Machine) -> None:
    folder = machine.path("/home/bob/medllama-8b")
    write_json(
        folder / "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256}
    )
    (folder / "README.md").write_text(model_card("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "finetune", "MedLlama 8B"))
    write_safetensors(folder / "model.safetensors")
    (finding,) = findings_at(audit(machine.root), "/home/bob/medllama-8b")
    assert finding["rule_id"] == "model-lineage" and finding["confidence"] == "confirmed"
    assert finding["lineage"][1].startswith("→ fine-tuned from `deepseek-ai/DeepSeek-R1-Distill-Llama-8B`")
    assert "policy lineage r1-distill-llama-8b" in finding["lineage"][2]


def test_lineage_runs_through_other_models_on_the_machine(machine: Machine, tmp_path: Path) -> None:
    card = model_card("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "finetune").encode()
    config = json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}).encode()
    hf_cache_repo(
        machine.path("/home/bob/.cache/huggingface/hub"), "bob/medllama-8b", {"README.md": card, "config.json": config}
    )
    write_gguf(
        machine.path("/srv/llm/medllama-8b.Q4_K_M.gguf"),
        name="Medllama 8b",
        base_models=[{"name": "medllama-8b", "organization": "bob"}],
    )
    (finding,) = findings_at(audit(machine.root), "/srv/llm/medllama-8b.Q4_K_M.gguf")
    chain = finding["lineage"]
    assert chain[1].startswith(
        "→ based on `bob/medllama-8b` (general.base_model.0.name in /srv/llm/medllama-8b.Q4_K_M.gguf)"
    )
    assert chain[2].startswith("→ fine-tuned from `deepseek-ai/DeepSeek-R1-Distill-Llama-8B` (base_model in /home/bob/")
    assert chain[-1] == "→ provider deepseek (DeepSeek)"


def test_unrelated_local_models_are_not_chained_by_shared_names(machine: Machine) -> None:
    for owner, card in (("alice", model_card("Qwen/Qwen2.5-1.5B", "finetune")), ("bob", "")):
        folder = machine.path(f"/home/{owner}/merged")
        write_json(folder / "config.json", qwen2_config("Qwen/Qwen2.5-1.5B"))
        write_safetensors(folder / "model.safetensors")
        if card:
            (folder / "README.md").write_text(
                card.replace("license: apache-2.0", "license: mit\ndatasets:\n- open-r1/OpenR1-Math-220k")
            )
    report = audit(machine.root)
    assert [f["location"]["path"] for f in report["findings"]] == ["/home/alice/merged"]


def test_a_local_path_given_as_base_resolves_to_the_model_there(machine: Machine) -> None:
    base = machine.path("/srv/base")
    write_json(base / "config.json", qwen2_config())
    write_json(base / "tokenizer_config.json", tokenizer_config(DEEPSEEK_SPECIALS))
    (base / "README.md").write_text(model_card("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "finetune"))
    adapter = machine.path("/srv/lora")
    write_json(adapter / "adapter_config.json", {"base_model_name_or_path": "/srv/base", "peft_type": "LORA"})
    (finding,) = findings_at(audit(machine.root), "/srv/lora")
    assert finding["lineage"][1].startswith("→ an adapter on `/srv/base`")
    assert finding["lineage"][2].startswith("→ fine-tuned from `deepseek-ai/DeepSeek-R1-Distill-Qwen-7B`")


def test_a_folder_name_alone_is_only_a_weak_hint(machine: Machine) -> None:
    folder = machine.path("/home/eve/experiments/kimi-k2")
    write_json(folder / "config.json", qwen2_config())
    write_safetensors(folder / "model.safetensors")
    (finding,) = audit(machine.root)["findings"]
    assert (finding["provider"], finding["severity"], finding["confidence"]) == ("moonshot", "warning", "weak")


def test_an_architecture_alone_is_at_most_a_weak_warning(machine: Machine) -> None:
    write_gguf(machine.path("/srv/x/mystery.gguf"), arch="deepseek2", name="mystery")
    (finding,) = audit(machine.root)["findings"]
    assert (finding["severity"], finding["confidence"], finding["rule_id"]) == ("warning", "weak", "model-fingerprint")


def test_benign_lookalikes_are_not_attributed_to_a_banned_provider(machine: Machine) -> None:
    qwen = machine.path("/srv/models/qwen2.5-7b-instruct")
    write_json(qwen / "config.json", qwen2_config("Qwen/Qwen2.5-7B-Instruct"))
    write_json(qwen / "tokenizer_config.json", tokenizer_config(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]))
    (qwen / "README.md").write_text(model_card("Qwen/Qwen2.5-7B", "finetune", "Qwen2.5-7B-Instruct"))
    write_safetensors(qwen / "model.safetensors")
    llama = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>"]
    write_gguf(
        machine.path("/srv/gguf/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"),
        name="Meta Llama 3.1 8B Instruct",
        pre="llama-bpe",
        tokens=llama,
        special=llama,
    )
    write_gguf(
        machine.path("/srv/gguf/Mistral-Nemo-Instruct-2407.Q4_K_M.gguf"),
        name="Mistral Nemo Instruct 2407",
        pre="tekken",
    )
    write_gguf(machine.path("/srv/gguf/Phi-3.5-mini-instruct.Q4_K_M.gguf"), arch="phi3", name="Phi 3.5 Mini Instruct")
    write_gguf(machine.path("/srv/gguf/gemma-2-9b-it.Q4_K_M.gguf"), arch="gemma2", name="Gemma 2 9b It", pre="default")
    write_gguf(
        machine.path("/srv/gguf/Qwen2.5-7B-Instruct-Q4_K_M.gguf"), arch="qwen2", name="Qwen2.5 7B Instruct", pre="qwen2"
    )
    report = audit(machine.root)
    assert len(models(report)) == 6
    assert report["findings"] == []


@needs_corpus
def test_the_rebranded_kimi_k2_from_the_corpus_is_moonshot(machine: Machine) -> None:
    target = machine.path("/opt/create-bot")
    shutil.copytree(CORPUS / "hf-configs" / "kimi-k2-rebrand-createbot", target)
    (finding,) = findings_at(audit(machine.root), "/opt/create-bot")
    assert (finding["provider"], finding["severity"], finding["confidence"]) == ("moonshot", "violation", "strong")
    assert "n_routed_experts=384" in " ".join(finding["lineage"])


@needs_corpus
def test_corpus_vocab_ggufs_are_judged_by_what_they_are(machine: Machine) -> None:
    shutil.copytree(CORPUS / "gguf-vocab", machine.path("/models"))
    report = audit(machine.root)
    flagged = {Path(f["location"]["path"]).name: f["provider"] for f in report["findings"]}
    assert flagged == {"ggml-vocab-deepseek-coder.gguf": "deepseek", "ggml-vocab-deepseek-llm.gguf": "deepseek"}
    assert len(models(report)) == len(list((CORPUS / "gguf-vocab").glob("*.gguf")))


@needs_corpus
def test_corpus_lora_of_an_r1_distill_is_traced_through_its_windows_base_path(machine: Machine) -> None:
    shutil.copytree(CORPUS / "hf-configs" / "deepseek-r1-distill-qwen-lora-openr1", machine.path("/srv/lora"))
    (finding,) = findings_at(audit(machine.root), "/srv/lora")
    assert finding["rule_id"] == "model-lineage"
    assert finding["lineage"][1].startswith(
        "→ an adapter on `D:/deepseek/model/deepseek-ai/DeepSeek-R1-Distill-Qwen-1___5B`"
    )


def test_site_packages_pth_files_and_cache_bookkeeping_are_not_models(machine: Machine) -> None:
    site = machine.venv("/opt/venv")
    (site / "distutils-precedence.pth").write_text("import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n")
    (site / "easy-install.pth").write_text("./setuptools-69.0.egg\n")
    hub = machine.path("/root/.cache/huggingface/hub")
    (hub / "models--x--y" / "refs").mkdir(parents=True)
    (hub / "models--x--y" / "refs" / "main").write_text("b" * 40)
    (hub / "models--x--y" / "blobs").mkdir()
    (hub / "models--x--y" / "blobs" / ("c" * 64)).write_bytes(b"\0" * (2 << 20))
    (hub / "models--x--y" / "blobs" / ("d" * 64 + ".incomplete")).write_bytes(b"\0" * 10)
    report = audit(machine.root)
    assert models(report) == {} and report["scan"]["coverage"]["complete"]


def test_lmstudio_and_modelscope_layouts_name_their_models(machine: Machine) -> None:
    write_gguf(
        machine.path("/home/eve/.lmstudio/models/lmstudio-community/DeepSeek-R1-0528-Qwen3-8B-GGUF/model-Q4_K_M.gguf"),
        name="x",
    )
    folder = machine.path("/home/eve/.cache/modelscope/hub/models/deepseek-ai/DeepSeek-R1-Distill-Qwen-1___5B")
    write_json(folder / "config.json", qwen2_config())
    write_safetensors(folder / "model.safetensors")
    report = audit(machine.root)
    names = {m["name"]: m["attributes"]["store"] for m in models(report).values()}
    assert names == {
        "lmstudio-community/DeepSeek-R1-0528-Qwen3-8B-GGUF": "lmstudio",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1___5B": "modelscope",
    }
    assert {f["provider"] for f in report["findings"]} == {"deepseek"}
    assert len(report["findings"]) == 2


def test_a_hostile_gguf_header_is_skipped_with_a_reason_and_still_inventoried(machine: Machine) -> None:
    bad = machine.path("/srv/evil.gguf")
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 2**62) + b"\xff" * 64)
    report = audit(machine.root)
    (skipped,) = report["scan"]["coverage"]["skipped"]
    assert skipped["path"] == "/srv/evil.gguf" and skipped["reason"].startswith("model file header unreadable: ")
    assert models(report)["/srv/evil.gguf"]["attributes"]["format"] == "gguf (unreadable header)"
    assert report["summary"]["complete"] is False


def test_a_50_gb_sparse_safetensors_costs_only_its_header(machine: Machine) -> None:
    folder = machine.path("/data/huge")
    path = write_safetensors(folder / "model.safetensors", {"format": "pt"})
    write_json(folder / "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    with open(path, "r+b") as handle:
        handle.truncate(50 * 2**30)
    model = models(audit(machine.root))["/data/huge"]
    (weights,) = [f for f in model["attributes"]["files"] if f["format"] == "safetensors"]
    assert weights["size"] == 50 * 2**30 and weights["bytes_read"] <= 64 * 1024


def test_a_git_lfs_pointer_gives_the_real_files_digest(machine: Machine) -> None:
    digest = "4dc77d4932316bdaa6f255ee7ad2ea3733a8ca234dc77d4932316bdaa6f2"[:64].ljust(64, "0")
    folder = machine.path("/srv/clone")
    folder.mkdir(parents=True)
    (folder / "model-00001-of-000163.safetensors").write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{digest}\nsize 5234139343\n"
    )
    model = models(audit(machine.root))["/srv/clone"]
    assert model["attributes"]["format"] == "git-lfs-pointer"
    assert {"kind": "digest", "value": digest} in [
        {k: c[k] for k in ("kind", "value")} for c in model["attributes"]["clues"]
    ]


def test_a_renamed_gguf_without_extension_is_found_by_its_magic(machine: Machine, tmp_path: Path) -> None:
    real = write_gguf(tmp_path / "x.gguf", arch="qwen2", name="x", pre="deepseek-r1-qwen")
    target = machine.path("/opt/app/weights")
    target.parent.mkdir(parents=True)
    with open(target, "wb") as handle:
        handle.write(real.read_bytes())
        handle.truncate(2 << 20)  # large enough to be worth sniffing
    report = audit(machine.root)
    assert models(report)["/opt/app/weights"]["attributes"]["format"] == "gguf"
    assert [f["provider"] for f in report["findings"]] == ["deepseek"]


def test_a_link_without_extension_to_a_renamed_gguf_is_sniffed_through_and_small_files_are_not(
    machine: Machine, tmp_path: Path
) -> None:
    real = write_gguf(tmp_path / "x.gguf", arch="qwen2", name="x", pre="deepseek-r1-qwen")
    store = machine.path("/srv/store/blob.dat")  # a name no model collector looks at
    store.parent.mkdir(parents=True)
    with open(store, "wb") as handle:
        handle.write(real.read_bytes())
        handle.truncate(2 << 20)
    link = machine.path("/opt/app/weights")
    link.parent.mkdir(parents=True)
    link.symlink_to("../../srv/store/blob.dat")
    machine.path("/opt/app/small").write_bytes(real.read_bytes())  # a GGUF under the sniffing size
    report = audit(machine.root)
    assert sorted(models(report)) == ["/opt/app/weights"]
    assert models(report)["/opt/app/weights"]["attributes"]["format"] == "gguf"


def test_on_the_live_machine_a_link_without_extension_is_measured_by_its_target(tmp_path: Path) -> None:
    """Below a root of ``/`` the walk measures a link's target itself (the kernel resolves it as the scan
    does): a link to a large renamed GGUF is sniffed through, links to small or missing files are not."""
    real = write_gguf(tmp_path / "x.gguf", arch="qwen2", name="x", pre="deepseek-r1-qwen")
    (tmp_path / "store").mkdir()
    with open(tmp_path / "store" / "blob.dat", "wb") as handle:
        handle.write(real.read_bytes())
        handle.truncate(2 << 20)
    (tmp_path / "store" / "small.dat").write_bytes(real.read_bytes())
    app = tmp_path / "app"
    app.mkdir()
    (app / "weights").symlink_to(tmp_path / "store" / "blob.dat")  # absolute, as the kernel reads it
    (app / "small").symlink_to("../store/small.dat")
    (app / "gone").symlink_to("../store/missing")
    report = report_dict(run_audit(AuditOptions(paths=(str(app),)), load_policy(["default"])))
    assert sorted(models(report)) == [str(app / "weights")]
    assert models(report)[str(app / "weights")]["attributes"]["format"] == "gguf"


def test_model_reports_match_the_json_schema(machine: Machine) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    write_gguf(machine.path("/opt/ai/brain.gguf"), arch="qwen2", name="brain", pre="deepseek-r1-qwen")
    schema = json.loads(
        (Path(__file__).resolve().parents[1] / "scanner" / "schemas" / "report.schema.json").read_text()
    )
    jsonschema.validate(audit(machine.root), schema, cls=jsonschema.Draft202012Validator)


def test_files_are_never_executed_or_unpickled(machine: Machine) -> None:
    folder = machine.path("/srv/pickled")
    folder.mkdir(parents=True)
    marker = machine.root / "pwned"
    magic = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."  # legacy torch.save starts so
    payload = magic + b"\x80\x04cos\nsystem\n(V touch " + str(marker).encode() + b"\ntR."
    (folder / "pytorch_model.bin").write_bytes(payload)
    write_json(folder / "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    model = models(audit(machine.root))["/srv/pickled"]
    assert model["attributes"]["format"] == "pytorch-pickle"
    assert not marker.exists() and not os.path.exists("pwned")


def test_a_published_digest_is_matched_for_free_or_with_hash(machine: Machine, tmp_path: Path) -> None:
    weights = write_gguf(tmp_path / "w.gguf", arch="llama", name="innocent")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    policy = tmp_path / "digests.yaml"
    policy.write_text(
        "schema_version: 1\nid: digests\nversion: '1'\ntitle: t\ninclude: ['bundled:default']\n"
        f"digests:\n  - {{sha256: {digest}, model: deepseek-ai/DeepSeek-R1, file: shard.gguf, providers: [deepseek], source: hf-deepseek-r1-git}}\n"
    )
    renamed = machine.path("/srv/innocent.gguf")
    renamed.parent.mkdir(parents=True)
    shutil.copy(weights, renamed)
    plain = report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([str(policy)])))
    assert plain["findings"] == []
    hashed = report_dict(run_audit(AuditOptions(root=str(machine.root), hash_weights=True), load_policy([str(policy)])))
    (finding,) = hashed["findings"]
    assert (finding["rule_id"], finding["confidence"], finding["provider"]) == ("model-digest", "confirmed", "deepseek")
    assert "the digest of `shard.gguf` of `deepseek-ai/DeepSeek-R1`" in finding["lineage"][1]
    store = machine.path("/var/ollama/models")
    ollama_store(store, {"w": weights.read_bytes()}, {"innocent:latest": {"model": "w"}})
    shutil.rmtree(renamed.parent)
    free = report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([str(policy)])))
    assert [f["rule_id"] for f in free["findings"]] == ["model-digest"]  # the blob's name is its digest


@needs_corpus
def test_the_corpus_lfs_pointer_of_deepseek_r1_is_recognised_by_its_digest(machine: Machine) -> None:
    shutil.copytree(CORPUS / "edge-cases" / "hf-lfs-pointer", machine.path("/srv/clone"))
    (finding,) = audit(machine.root)["findings"]
    assert (finding["rule_id"], finding["provider"]) == ("model-digest", "deepseek")


def test_one_machine_with_every_store_reports_exactly_the_banned_models(machine: Machine, tmp_path: Path) -> None:
    """The issue's acceptance tree, through the real command line."""
    from conftest import run_scanner

    distill = write_gguf(tmp_path / "d.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 7B", pre="qwen2")
    hf_cache_repo(
        machine.path("/home/alice/.cache/huggingface/hub"),
        "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF",
        {
            "README.md": model_card("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "quantized").encode(),
            "q4.gguf": distill.read_bytes(),
        },
    )
    renamed = machine.path("/srv/models/assistant")
    write_json(renamed / "config.json", qwen2_config())
    write_json(renamed / "tokenizer_config.json", tokenizer_config(DEEPSEEK_SPECIALS))
    write_safetensors(renamed / "model.safetensors")
    write_gguf(machine.path("/opt/ai/brain.gguf"), arch="qwen2", name="brain", pre="deepseek-r1-qwen")
    alias_blob = write_gguf(
        tmp_path / "a.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 7B", pre="deepseek-r1-qwen"
    )
    ollama_store(
        machine.path("/usr/share/ollama/.ollama/models"),
        {"w": alias_blob.read_bytes()},
        {"helper:latest": {"model": "w"}},
    )
    tuned = machine.path("/home/bob/medllama")
    write_json(tuned / "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    (tuned / "README.md").write_text(model_card("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "finetune"))
    expected = {
        "/home/alice/.cache/huggingface/hub/models--unsloth--DeepSeek-R1-Distill-Qwen-7B-GGUF",
        "/srv/models/assistant",
        "/opt/ai/brain.gguf",
        "/usr/share/ollama/.ollama/models/manifests/registry.ollama.ai/library/helper/latest",
        "/home/bob/medllama",
    }
    if CORPUS.is_dir():
        shutil.copytree(CORPUS / "hf-configs" / "kimi-k2-rebrand-createbot", machine.path("/opt/create-bot"))
        expected.add("/opt/create-bot")
    qwen = machine.path("/srv/models/qwen2.5")
    write_json(qwen / "config.json", qwen2_config("Qwen/Qwen2.5-7B-Instruct"))
    write_safetensors(qwen / "model.safetensors")
    write_gguf(
        machine.path("/srv/gguf/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"),
        name="Meta Llama 3.1 8B Instruct",
        pre="llama-bpe",
    )
    write_gguf(machine.path("/srv/gguf/gemma-2-9b-it.gguf"), arch="gemma2", name="Gemma 2 9b It")
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    banned = {f["location"]["path"]: f for f in report["findings"]}
    assert set(banned) == expected
    assert all(f["severity"] == "violation" and f["lineage"][-1].startswith("→ provider ") for f in banned.values())
    assert {f["confidence"] for f in banned.values()} <= {"confirmed", "strong"}


@pytest.mark.usefixtures("settled_files")
def test_hash_results_are_cached_in_the_store_until_the_file_changes(machine: Machine, tmp_path: Path) -> None:
    weights = write_gguf(tmp_path / "w.gguf", name="innocent")
    banned = "ab" * 32
    policy = tmp_path / "digests.yaml"
    policy.write_text(
        "schema_version: 1\nid: digests\nversion: '1'\ntitle: t\ninclude: ['bundled:default']\n"
        f"digests:\n  - {{sha256: {banned}, model: deepseek-ai/DeepSeek-R1, providers: [deepseek], source: hf-deepseek-r1-git}}\n"
    )
    target = machine.path("/srv/innocent.gguf")
    target.parent.mkdir(parents=True)
    shutil.copy(weights, target)
    options = AuditOptions(root=str(machine.root), hash_weights=True)
    with open_store(tmp_path / "store.db") as store:
        assert audit_and_record(options, load_policy([str(policy)]), store).report["findings"] == []
        with store.db.conn:  # plant a digest: only a cache hit can produce it
            store.db.execute("update file_facts set data = ? where kind = 'sha256'", [json.dumps(banned)])
        assert len(audit_and_record(options, load_policy([str(policy)]), store).report["findings"]) == 1, (
            "answered from the cache"
        )
        os.utime(target)  # touched: hashed again
        assert audit_and_record(options, load_policy([str(policy)]), store).report["findings"] == []


def test_live_scans_also_walk_the_model_stores_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.collectors.models.collector import ModelCollector
    from scanner.fsview import RootFS

    (tmp_path / "hub").mkdir()
    (tmp_path / "ollama").mkdir()
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    roots = ModelCollector(RootFS(None)).extra_roots()
    assert {r.real_path for r in roots} == {str(tmp_path / "hub"), str(tmp_path / "ollama")}
    assert all(r.supplementary for r in roots)
    assert ModelCollector(RootFS(str(tmp_path))).extra_roots() == []


def test_lone_surrogates_smuggled_in_json_metadata_cannot_break_the_reports(machine: Machine) -> None:
    from conftest import run_scanner

    folder = machine.path("/srv/m")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"_name_or_path": "evil\\ud800name", "model_type": "llama"}')
    for fmt in ("json", "table"):
        done = run_scanner("audit", "--root", str(machine.root), "-f", fmt)
        assert done.returncode == 0 and "Traceback" not in done.stderr
    report = json.loads(run_scanner("audit", "--root", str(machine.root), "-f", "json").stdout)
    assert report["inventory"][0]["attributes"]["clues"][0]["value"] == "evil\ud800name"
    assert "evil\\ud800name" in run_scanner("lineage", "--root", str(machine.root), "/srv/m").stdout


def test_files_that_only_look_like_models_are_not_models(machine: Machine) -> None:
    junk = machine.path("/opt/firmware")
    junk.mkdir(parents=True)
    (junk / "wifi.bin").write_bytes(b"\x80\x03" + b"\0" * 64)  # pickle-like first bytes, no torch magic
    (junk / "table.bin").write_bytes((30).to_bytes(8, "little") + b"{not json at all" + b"\0" * 64)
    (junk / "data.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 2048)  # HDF5, but no Keras model
    (junk / "settings").mkdir()
    (junk / "settings" / "config.json").write_text('// JSONC\n{ "editor.fontSize": 12 }')
    (junk / "k8s" / "manifests" / "a" / "b" / "c").mkdir(parents=True)
    (junk / "k8s" / "manifests" / "a" / "b" / "c" / "kustomization.json").write_text("{}")
    report = audit(machine.root)
    assert models(report) == {}
    assert report["scan"]["coverage"]["skipped"] == [] and report["summary"]["complete"]


@pytest.mark.parametrize(
    ("name", "lineage"),
    [
        ("hf.co/bartowski/OpenThinker-7B-GGUF:Q4_K_M", "openthinker"),
        ("deepseek-r1:7b-qwen-distill-q4_K_M", "r1-distill-qwen-7b"),
        ("Light-R1-32B-DS-Q4_K_M", "light-r1-ds"),
        ("DeepSeek R1 Distill Qwen 1.5B", "r1-distill-qwen-1.5b"),
        ("models/deepseek-ai/DeepSeek-R1-Distill-Llama-70B", "r1-distill-llama-70b"),
        ("https://huggingface.co/datasets/open-r1/OpenR1-Math-220k", "openr1-math-220k"),
    ],
)
def test_written_forms_of_known_lineages_are_recognised(name: str, lineage: str) -> None:
    from scanner.explain import explain

    (finding,) = explain(name, load_policy([])).findings
    assert f"policy lineage {lineage}," in " ".join(finding.lineage)


@pytest.mark.parametrize(
    "name", ["Qwen2.5-7B-Instruct-GGUF", "Meta-Llama-3.1-70B-Instruct", "deepseek-r1-distill-llama-7"]
)
def test_near_misses_are_not_known_lineages(name: str) -> None:
    from scanner.explain import explain

    assert [f.rule_id for f in explain(name, load_policy([])).findings if f.rule_id == "model-lineage"] == []


def test_a_card_beside_several_quantisations_describes_each(machine: Machine) -> None:
    folder = machine.path("/srv/llm")
    write_gguf(folder / "assistant-7b.Q4_K_M.gguf", name="assistant")
    write_gguf(folder / "assistant-7b.Q8_0.gguf", name="assistant")
    (folder / "README.md").write_text(model_card("open-thoughts/OpenThinker-7B", "quantized"))
    report = audit(machine.root)
    assert sorted(f["location"]["path"] for f in report["findings"]) == [
        "/srv/llm/assistant-7b.Q4_K_M.gguf",
        "/srv/llm/assistant-7b.Q8_0.gguf",
    ]


def test_every_snapshot_and_tokenizer_of_a_repo_counts(machine: Machine) -> None:
    hub = machine.path("/root/.cache/huggingface/hub")
    config = json.dumps(qwen2_config()).encode()
    hf_cache_repo(
        hub,
        "acme/model",
        {"config.json": config, "tokenizer_config.json": json.dumps(tokenizer_config(["<|im_start|>"])).encode()},
        "a" * 40,
    )
    hf_cache_repo(
        hub, "acme/model", {"tokenizer_config.json": json.dumps(tokenizer_config(DEEPSEEK_SPECIALS)).encode()}, "b" * 40
    )
    (finding,) = audit(machine.root)["findings"]
    assert finding["rule_id"] == "model-fingerprint" and finding["provider"] == "deepseek"


def test_a_multimodal_model_is_attributed_by_its_own_architecture_and_else_by_its_nested_tower(
    machine: Machine,
) -> None:
    """Kimi-VL nests a deepseek_v2 text tower: it is Moonshot's, not DeepSeek's. A config whose own type
    says nothing known is judged by its nested language model (a wrapper around Kimi-K2)."""
    write_json(
        machine.path("/srv/models/Kimi-VL-A3B/config.json"),
        {
            "architectures": ["KimiVLForConditionalGeneration"],
            "model_type": "kimi_vl",
            "text_config": {"model_type": "deepseek_v2"},
        },
    )
    write_json(
        machine.path("/srv/models/wrapper/config.json"),
        {"architectures": ["WrapperForCausalLM"], "model_type": "wrapper", "llm_config": {"model_type": "kimi_k2"}},
    )
    report = audit(machine.root)
    found = {(f["location"]["path"], f["provider"], f["severity"]) for f in report["findings"]}
    assert found == {
        ("/srv/models/Kimi-VL-A3B", "moonshot", "violation"),
        ("/srv/models/wrapper", "moonshot", "violation"),
    }


def test_a_mergekit_merge_carries_the_lineage_of_the_models_it_was_merged_from(machine: Machine) -> None:
    folder = machine.path("/srv/models/merged-8b")
    write_json(folder / "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    (folder / "mergekit_config.yml").write_text(
        "merge_method: slerp\nbase_model: meta-llama/Llama-3.1-8B-Instruct\nslices:\n  - sources:\n"
        "      - model: meta-llama/Llama-3.1-8B-Instruct\n        layer_range: [0, 32]\n"
        "      - model: deepseek-ai/DeepSeek-R1-Distill-Llama-8B\n        layer_range: [0, 32]\n"
    )
    (finding,) = findings_at(audit(machine.root), "/srv/models/merged-8b")
    assert (finding["provider"], finding["rule_id"], finding["severity"]) == ("deepseek", "model-lineage", "violation")
    assert "→ merged from `deepseek-ai/DeepSeek-R1-Distill-Llama-8B`" in finding["lineage"][1]


def test_a_dataset_in_the_hugging_face_cache_carries_the_lineage_of_the_model_that_generated_it(
    machine: Machine,
) -> None:
    snapshot = machine.path("/home/u/.cache/huggingface/hub/datasets--open-r1--Mixture-of-Thoughts/snapshots/abc123")
    snapshot.mkdir(parents=True)
    (snapshot / "README.md").write_text(
        "---\nlicense: apache-2.0\ntask_categories: [text-generation]\n---\n# Mixture-of-Thoughts\n"
    )
    other = machine.path("/home/u/.cache/huggingface/hub/datasets--HuggingFaceH4--ultrachat_200k/snapshots/def456")
    other.mkdir(parents=True)
    (other / "README.md").write_text("---\nlicense: mit\n---\n# UltraChat 200k\n")
    report = audit(machine.root)
    datasets = {i["name"]: i["attributes"]["format"] for i in report["inventory"] if i["kind"] == "model"}
    assert datasets == {"open-r1/Mixture-of-Thoughts": "dataset", "HuggingFaceH4/ultrachat_200k": "dataset"}
    (finding,) = report["findings"]
    assert (finding["subject"], finding["provider"], finding["rule_id"]) == (
        "open-r1/Mixture-of-Thoughts",
        "deepseek",
        "model-lineage",
    )
    assert finding["evidence"][0].startswith("dataset `open-r1/Mixture-of-Thoughts` (dataset")


def test_a_repository_clone_without_weights_is_known_by_the_card_that_names_it(machine: Machine) -> None:
    """A card-only folder is the repository its card names as ``org/<folder>``: a model (MiniMax-VL-01's
    card loads ``MiniMaxAI/MiniMax-VL-01``) or a dataset (a card linking huggingface.co/datasets/...)."""

    def write(inside: str, text: str) -> None:
        machine.path(inside).parent.mkdir(parents=True, exist_ok=True)
        machine.path(inside).write_text(text)

    write(
        "/home/u/models/MiniMax-VL-01/README.md",
        '# MiniMax-VL-01\n\n```python\nmodel = AutoModelForCausalLM.from_pretrained("MiniMaxAI/MiniMax-VL-01")\n```\n',
    )
    write(
        "/home/u/datasets/Chinese-DeepSeek-R1-Distill-data-110k/README.md",
        "# Chinese R1 data\n\n[Hugging Face](https://huggingface.co/datasets/Congliu/Chinese-DeepSeek-R1-Distill-data-110k)\n",
    )
    write("/home/u/papers/deepseek-v3/README.md", "# My notes on the DeepSeek-V3 report\n\nRead section 3 twice.\n")
    report = audit(machine.root)
    found = {f["location"]["path"]: (f["subject"], f["severity"]) for f in report["findings"]}
    assert found == {
        "/home/u/models/MiniMax-VL-01": ("MiniMaxAI/MiniMax-VL-01", "violation"),
        "/home/u/datasets/Chinese-DeepSeek-R1-Distill-data-110k": (
            "Congliu/Chinese-DeepSeek-R1-Distill-data-110k",
            "violation",
        ),
    }
    assert models(report)["/home/u/datasets/Chinese-DeepSeek-R1-Distill-data-110k"]["attributes"]["format"] == "dataset"


def test_a_dataset_named_in_a_training_config_is_training_data(machine: Machine) -> None:
    info = machine.path("/home/u/LLaMA-Factory/data/dataset_info.json")
    info.parent.mkdir(parents=True)
    info.write_text(
        json.dumps({"r1_zh": {"hf_hub_url": "Congliu/Chinese-DeepSeek-R1-Distill-data-110k-SFT"}}, indent=2)
    )
    ((kind, rule),) = {
        (f["kind"], f["rule_id"]) for f in findings_at(audit(machine.root), str(info)[len(str(machine.root)) :])
    }
    assert (kind, rule) == ("model", "model-lineage")
