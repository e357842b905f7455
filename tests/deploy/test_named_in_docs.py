"""Every file an operator installs from deploy/ is named in docs/operations.md, and every
deploy/ path the docs name is there: a file added, renamed or removed without its docs fails."""

from __future__ import annotations

import re

from deploy_files import DEPLOY

OPERATIONS = DEPLOY.parent / "docs" / "operations.md"


def shipped() -> set[str]:
    return {
        path.relative_to(DEPLOY.parent).as_posix()
        for path in DEPLOY.rglob("*")
        if path.is_file() and path.name != "README.md"
    }


def named() -> set[str]:
    text = OPERATIONS.read_text(encoding="utf-8")
    return {match.rstrip(".,:;") for match in re.findall(r"deploy/[\w./-]+\w", text)}


def test_every_deploy_file_is_named_in_the_operations_docs():
    assert shipped() - named() == set()


def test_every_deploy_file_the_docs_name_is_shipped():
    folders = {path.rsplit("/", 1)[0] for path in shipped()} | {"deploy", "deploy/README.md"}
    assert named() - shipped() - folders == set()
