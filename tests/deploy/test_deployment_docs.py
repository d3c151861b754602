"""docs/deployment.md points at files that exist and commands that match the manifests."""

from __future__ import annotations

import re

from tests.deploy.k8s_objects import REPO, load_yaml_documents

DOC = REPO / "docs" / "deployment.md"


def test_every_referenced_file_exists() -> None:
    text = DOC.read_text()
    paths = set(re.findall(r"`((?:deploy|docs)/[\w./-]+)`", text))
    paths |= set(re.findall(r"\s((?:deploy|docs)/[\w./-]+\.ya?ml)", text))
    assert paths
    for path in sorted(paths):
        assert (REPO / path.rstrip("/.")).exists(), path


def test_documented_numbers_match_the_manifests() -> None:
    text = " ".join(DOC.read_text().split())
    relay = load_yaml_documents(REPO / "deploy/k8s/base/relay-gateway/deployment.yaml")[0]
    pod = relay["spec"]["template"]["spec"]
    deadline = next(
        e["value"]
        for e in pod["containers"][0]["env"]
        if e["name"] == "BATON_DRAIN_DEADLINE_SECONDS"
    )
    assert f"`BATON_DRAIN_DEADLINE_SECONDS` ({deadline} s in the manifests)" in text
    assert f"`terminationGracePeriodSeconds` ({pod['terminationGracePeriodSeconds']})" in text
