"""The host-path policy (task_api/core/host_paths.py): a table of paths a tenant might try, and the verdicts."""

from __future__ import annotations

import pytest

from task_api.core.host_paths import PATH_MAX, HostPathRefused, check_host_path, check_root

ROOTS = ("/data/kaapana", "/srv/inputs")

ACCEPTED = [
    "/data/kaapana",
    "/data/kaapana/batch-1/series",
    "/srv/inputs/Ünïcödé ok",  # NFC, printable: a name like any other
    "/data/kaapana/" + "a" * 255,
    "/data/kaapana/with space",
    "/data/kaapana/\uff0e\uff0e",  # fullwidth full stops: a name, not '..'
]

REFUSED = [
    # (path, words of the reason)
    ("/data/kaapana/../../etc", "'..' component"),
    ("/data/kaapana/./x", "'.' component"),
    ("/data/kaapana/x/..", "'..' component"),
    ("/data/kaapana//x", "'//'"),
    ("/data/kaapana/", "ends with '/'"),
    ("data/kaapana", "not absolute"),
    ("", "empty"),
    ("/data/kaapana2", "not under an allowed root"),
    ("/data", "not under an allowed root"),
    ("/etc", "not under an allowed root"),
    ("/", "not under an allowed root"),
    ("/data/k\u0430apana/x", "not under an allowed root"),  # a Cyrillic a: another directory, outside every root
    ("/data/kaapana/\u202egpj.exe", "U+202E"),  # right-to-left override
    ("/data/kaapana/a\u200bb", "U+200B"),  # zero-width space
    ("/data/kaapana/a\x00b", "U+0000"),
    ("/data/kaapana/a\nb", "U+000A"),
    ("/data/kaapana/a\u00a0b", "non-ASCII space U+00A0"),
    ("/data/kaapana/e\u0301", "normal form NFC"),  # e + combining acute: é spelled another way
    ("/data/kaapana/" + "a" * 256, "longer than 255 bytes"),
    ("/data/kaapana/" + "/".join(["d" * 200] * 21), f"longer than {PATH_MAX} bytes"),
    ("/data/kaapana/" + "é" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
]


@pytest.mark.parametrize("path", ACCEPTED)
def test_read_only_inputs_under_a_root_are_accepted(path: str) -> None:
    assert check_host_path(path, roots=ROOTS, read_only=True) == path


@pytest.mark.parametrize(("path", "reason"), REFUSED)
def test_refused_with_the_reason_and_what_is_allowed(path: str, reason: str) -> None:
    with pytest.raises(HostPathRefused) as caught:
        check_host_path(path, roots=ROOTS, read_only=True)
    message = str(caught.value)
    assert reason in message
    assert "(given " in message and "; allowed " in message
    assert "\x00" not in message and "\u202e" not in message  # shown escaped, never raw


@pytest.mark.parametrize("path", ["/data/kaapana/out", "/data/kaapana"])
def test_outputs_never_go_to_host_paths(path: str) -> None:
    # The symlink escape needs a writable host path under a root: there is none.
    with pytest.raises(HostPathRefused, match="outputs cannot go to host paths") as caught:
        check_host_path(path, roots=ROOTS, read_only=False)
    assert "persistentVolumeClaim" in caught.value.allowed


def test_no_root_means_no_host_path() -> None:
    with pytest.raises(HostPathRefused, match="TASK_API_ALLOWED_HOST_PATH_ROOTS is empty"):
        check_host_path("/data/kaapana/x", roots=(), read_only=True)


@pytest.mark.parametrize(("root", "reason"), [("/", "whole node"), ("/data/", "ends with"), ("rel", "not absolute")])
def test_roots_are_checked_too(root: str, reason: str) -> None:
    with pytest.raises(HostPathRefused, match=reason):
        check_root(root)


def test_a_good_root_passes() -> None:
    assert check_root("/data/kaapana") == "/data/kaapana"
