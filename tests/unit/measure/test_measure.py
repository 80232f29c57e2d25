"""measure(): what each scale-rule mode measures, on real directory trees (docs/scale-rules.md)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from task_api.measure import InputMissing, InputUnreadable, measure
from task_api.spec.resolved import Measurement
from task_api.spec.scale_rule import ScaleRule, ScaleRuleMode
from tests.unit.measure.conftest import TreeSpec, build_tree

#: Two items (studies) with series folders, a file in the root that belongs to no item, hidden data, a link.
STUDIES: TreeSpec = {
    "README.txt": 1000,
    "study-a/ct/1.dcm": 100,
    "study-a/ct/2.dcm": 300,
    "study-a/ct/notes.txt": 7,
    "study-a/seg/mask.nrrd": 50,
    "study-b/ct/1.dcm": 250,
    "study-b/ct/2.dcm": 250,
    "study-b/.meta/tags.json": 20,
    "study-c/seg/only.nrrd": 5,
}


def rule(mode: str, **fields: Any) -> ScaleRule:
    return ScaleRule.model_validate({"scale_factor": 2, "type": "limit", "mode": mode, **fields})


CASES: list[tuple[str, dict[str, Any], int, int, str | None]] = [
    # (mode, rule fields, measured_bytes, files_counted, largest)
    ("sum", {}, 1982, 9, None),
    ("sum", {"target_glob": "*.dcm"}, 900, 4, None),
    ("sum", {"target_regex": r"study-a/.*"}, 457, 4, None),
    ("sum", {"target_regex": r".*\.dcm", "target_glob": "1.*"}, 350, 2, None),
    ("sum", {"target_dir": "study-b"}, 520, 3, None),  # hidden files count
    (
        "sum",
        {"target_dir": "study-b", "target_regex": r"ct/.*"},
        500,
        2,
        None,
    ),  # regex relative to target_dir
    ("max_file_size", {}, 1000, 9, "README.txt"),
    ("max_file_size", {"target_glob": "*.dcm"}, 300, 4, "study-a/ct/2.dcm"),
    ("max_file_size", {"target_dir": "study-b/ct"}, 250, 2, "study-b/ct/1.dcm"),  # ties: smaller path
    # max_item_sum: items are the root's folders; the root's own files belong to none
    ("max_item_sum", {}, 520, 8, "study-b"),
    ("max_item_sum", {"target_glob": "*.dcm"}, 500, 4, "study-b"),
    ("max_item_sum", {"target_dir": "ct"}, 500, 5, "study-b"),  # study-c has no ct: it counts 0
    ("max_item_sum", {"target_dir": "seg"}, 50, 2, "study-a"),
    ("max_item_sum", {"target_regex": r"ct/[12]\.dcm"}, 500, 4, "study-b"),
]


class TestModes:
    @pytest.mark.parametrize(("mode", "fields", "size", "files", "largest"), CASES)
    @pytest.mark.parametrize("workers", [1, 2])
    def test_measures(
        self,
        tree: Callable[[TreeSpec], Path],
        mode: str,
        fields: dict[str, Any],
        size: int,
        files: int,
        largest: str | None,
        workers: int,
    ) -> None:
        root = tree(STUDIES)
        result = measure(root, rule(mode, **fields), channel="in", workers=workers)
        assert result == Measurement(
            channel="in",
            mode=ScaleRuleMode(mode),
            measured_bytes=size,
            files_counted=files,
            items_counted=3 if mode == "max_item_sum" else None,
            largest=largest,
            target_missing=False,
        )

    def test_a_symlink_into_another_tree_is_not_measured(self, tree: Callable[[TreeSpec], Path]) -> None:
        other = tree({"huge.bin": 10_000, "dir/more.bin": 10_000})
        root = tree({"a/x.bin": 10, "a/link.bin": str(other / "huge.bin"), "a/linkdir": str(other / "dir")})
        for mode in ("sum", "max_file_size", "max_item_sum"):
            assert measure(root, rule(mode), channel="in").measured_bytes == 10, mode

    def test_the_channel_root_itself_may_be_a_symlink(self, tree: Callable[[TreeSpec], Path], tmp_path: Path) -> None:
        real = tree({"x.bin": 42})
        (tmp_path / "alias").symlink_to(real)
        assert measure(tmp_path / "alias", rule("sum"), channel="in").measured_bytes == 42

    def test_an_empty_input_measures_zero(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"empty/": 0})
        for mode in ("sum", "max_file_size", "max_item_sum"):
            found = measure(root, rule(mode), channel="in")
            assert (found.measured_bytes, found.files_counted, found.target_missing) == (0, 0, False), mode

    def test_many_items_and_files_spread_over_helpers(self, tree: Callable[[TreeSpec], Path]) -> None:
        spec: dict[str, int | str] = {
            f"item{i:02d}/s{j}/f{k}": i + j + k for i in range(20) for j in range(3) for k in range(5)
        }
        root = tree(spec)
        for mode in ("sum", "max_file_size", "max_item_sum"):
            assert measure(root, rule(mode), channel="c", workers=1) == measure(
                root, rule(mode), channel="c", workers=2
            )
        assert measure(root, rule("sum"), channel="c").measured_bytes == sum(
            v for v in spec.values() if isinstance(v, int)
        )


class TestMissing:
    @pytest.mark.parametrize("mode", ["sum", "max_file_size", "max_item_sum"])
    def test_a_missing_root_measures_zero_and_says_so(self, tmp_path: Path, mode: str) -> None:
        found = measure(tmp_path / "absent", rule(mode), channel="in")
        assert (found.measured_bytes, found.target_missing) == (0, True)

    @pytest.mark.parametrize("mode", ["sum", "max_file_size"])
    def test_a_missing_target_dir_measures_zero_and_says_so(self, tree: Callable[[TreeSpec], Path], mode: str) -> None:
        found = measure(tree(STUDIES), rule(mode, target_dir="nope"), channel="in")
        assert (found.measured_bytes, found.target_missing) == (0, True)

    def test_items_without_the_target_dir_are_missing_only_when_all_lack_it(
        self, tree: Callable[[TreeSpec], Path]
    ) -> None:
        root = tree(STUDIES)
        assert measure(root, rule("max_item_sum", target_dir="nope"), channel="in").target_missing is True
        assert measure(root, rule("max_item_sum", target_dir="seg"), channel="in").target_missing is False

    def test_a_root_that_is_a_file_is_an_error(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"file.bin": 1})
        with pytest.raises(InputMissing) as caught:
            measure(root / "file.bin", rule("sum"), channel="scans")
        assert "input channel 'scans'" in str(caught.value)
        assert "file.bin: is not a directory" in str(caught.value)

    def test_an_items_target_dir_that_is_a_file_is_an_error(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"item1/seg/x": 1, "item2/seg": 5})
        with pytest.raises(InputMissing, match="target_dir is not a directory"):
            measure(root, rule("max_item_sum", target_dir="seg"), channel="in")

    def test_a_target_dir_that_is_a_symlink_is_an_error(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"real/x.bin": 1, "alias": "real"})
        with pytest.raises(InputMissing, match="target_dir is not a directory"):
            measure(root, rule("sum", target_dir="alias"), channel="in")


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A folder directly in /tmp that other users can enter (pytest's tmp_path lives below a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="task-api-measure-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the walk as another user")
def test_an_unreadable_directory_is_an_error_naming_it(world_readable_dir: Path) -> None:
    # Root reads every directory, so the walk runs in a forked child that became `nobody` (the measuring pod
    # runs as a non-root user too). The child reports what it caught through a pipe.
    root = build_tree(world_readable_dir / "in", {"ok/a.bin": 1, "locked/b.bin": 2})
    os.chmod(root / "locked", 0o700)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 4
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            measure(root, rule("sum"), channel="in", workers=1)
        except InputUnreadable as exc:
            os.write(write_end, str(exc).encode())
            code = 3
        except BaseException as exc:
            os.write(write_end, repr(exc).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3, message
    assert message == f"input channel 'in', {root}: cannot read {root / 'locked'}: Permission denied"
