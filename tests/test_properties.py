"""Property tests: parsers of outside input fail only in the ways they promise, links never escape."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collectors.packages.metadata import parse_core_metadata, split_dist_dir_name
from scanner.errors import PolicyError
from scanner.fsview import FileRefused, RootFS
from scanner.mounts import parse_mountinfo
from scanner.policy.schema import PolicyDocument
from scanner.policy.typed_yaml import compose, convert
from scanner.urls import HostIndex

label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)


@given(st.text(max_size=2000))
def test_core_metadata_parsing_never_crashes(text: str) -> None:
    parsed = parse_core_metadata(text)
    assert all("@" not in domain for domain in parsed.author_email_domains)


@given(st.text(max_size=80))
def test_dist_folder_names_always_split(name: str) -> None:
    split_dist_dir_name(name + ".dist-info")


@given(st.text(max_size=2000))
def test_mountinfo_parsing_never_crashes(text: str) -> None:
    parse_mountinfo(text)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
policy_keys = st.sampled_from(["schema_version", "id", "version", "title", "providers", "sources", "include", "mode"])


@given(st.dictionaries(policy_keys | st.text(max_size=8), yaml_values, max_size=6))
def test_any_yaml_document_is_a_policy_or_a_policy_error(document: dict[str, object]) -> None:
    node = compose(yaml.safe_dump(document), "fuzz.yaml")
    if node is None:
        return
    try:
        convert(node, PolicyDocument, "fuzz.yaml")
    except PolicyError as error:
        assert str(error).startswith("fuzz.yaml")


@given(st.text(max_size=300))
def test_any_text_composes_or_is_a_policy_error(text: str) -> None:
    with contextlib.suppress(PolicyError):
        compose(text, "fuzz.yaml")


@given(st.lists(label, min_size=1, max_size=4), st.lists(label, min_size=1, max_size=4))
def test_hosts_match_only_on_dot_boundaries(known: list[str], host: list[str]) -> None:
    index: HostIndex[str] = HostIndex()
    suffix = ".".join(known)
    index.add(suffix, "p")
    name = ".".join(host)
    expected = name == suffix or name.endswith("." + suffix)
    assert bool(index.lookup(name)) == expected


link_target = st.lists(st.sampled_from(["..", ".", "a", "b", "c", "etc", "/"]), min_size=1, max_size=6).map(
    lambda parts: "/".join(parts).replace("//", "/")
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["l1", "a/l2", "a/b/l3"]), link_target), min_size=1, max_size=3))
def test_symlinks_never_resolve_outside_the_root(links: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        (root / "a" / "b").mkdir(parents=True)
        (root / "etc").mkdir()
        (Path(tmp) / "host-secret").write_text("x")
        for where, target in links:
            path = root / where
            if not os.path.lexists(path):
                path.symlink_to(target)
        fs = RootFS(str(root))
        for where, _ in links:
            try:
                resolved = fs.resolve(str(root / where))
            except FileRefused:
                continue
            assert resolved == fs.root or resolved.startswith(fs.root + os.sep), resolved
