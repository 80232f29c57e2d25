"""The directory walk: filters, what counts and what is skipped, forked walk = sequential walk."""

from __future__ import annotations

import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from task_api.measure._scan import (
    MAX_AUTO_WORKERS,
    FileFilter,
    ScanError,
    Tally,
    Unit,
    auto_workers,
    cpu_quota,
    scan_level,
    scan_tree,
    scan_units,
)
from tests.unit.measure.conftest import TreeSpec

#: Forks made by this process, counted in the parent just before each fork.
_FORKS = [0]
os.register_at_fork(before=lambda: _FORKS.__setitem__(0, _FORKS[0] + 1))


class TestFileFilter:
    @pytest.mark.parametrize(
        ("flt", "rel", "expected"),
        [
            (FileFilter(), "a/b/c.bin", True),
            (FileFilter(glob="*"), ".hidden", True),
            (FileFilter(glob="*.dcm"), "x.dcm", True),
            (FileFilter(glob="*.dcm"), "deep/er/x.dcm", True),  # the glob applies to names at any depth
            (FileFilter(glob="*.dcm"), "x.dcm.bak", False),
            (FileFilter(glob="*.DCM"), "x.dcm", False),  # case-sensitive, like the filesystem
            (FileFilter(glob="img?.nrrd"), "s/img1.nrrd", True),
            (FileFilter(glob="img*"), "a/img.raw", True),  # prefix shape
            (FileFilter(glob="img*"), "a/xmg.raw", False),
            (FileFilter(glob="mask.nrrd"), "s/mask.nrrd", True),  # exact shape
            (FileFilter(glob="mask.nrrd"), "s/mask.nrrd.gz", False),
            (FileFilter(glob="*"), ".hidden/x", True),
            (FileFilter(glob="img[0-4].nrrd"), "img7.nrrd", False),
            (FileFilter(regex=r".*\.txt"), "a/b.txt", True),
            (FileFilter(regex=r"[^/]*\.txt"), "a/b.txt", False),  # full match on the whole relative path
            (FileFilter(regex=r"b\.txt"), "a/b.txt", False),
            (FileFilter(regex="a/.*"), "a/b.txt", True),
            (FileFilter(glob="*.txt", regex="keep/.*"), "keep/x.txt", True),
            (FileFilter(glob="*.txt", regex="keep/.*"), "drop/x.txt", False),
            (FileFilter(glob="*.txt", regex="keep/.*"), "keep/x.bin", False),
        ],
    )
    def test_matches(self, flt: FileFilter, rel: str, expected: bool) -> None:
        assert flt.matches(rel, rel.rsplit("/", 1)[-1]) is expected

    @pytest.mark.parametrize(
        ("flt", "everything"),
        [
            (FileFilter(), True),
            (FileFilter(glob="*", regex=".*"), True),
            (FileFilter(glob="*.x"), False),
            (FileFilter(regex="a.*"), False),
        ],
    )
    def test_defaults_match_everything(self, flt: FileFilter, everything: bool) -> None:
        assert flt.matches_everything is everything


class TestWalk:
    def test_counts_regular_files_recursively(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"a.bin": 3, "d/b.bin": 5, "d/e/f/c.bin": 7, "empty/": 0})
        tally = scan_tree(str(root), FileFilter())
        assert (tally.bytes, tally.files, tally.largest_bytes, tally.largest_path) == (
            15,
            3,
            7,
            "d/e/f/c.bin",
        )

    def test_symlinks_are_never_followed(self, tree: Callable[[TreeSpec], Path], tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "big.bin").write_bytes(b"x" * 1000)
        root = tree(
            {
                "real.bin": 10,
                "link-to-file": str(outside / "big.bin"),
                "link-to-dir": str(outside),
                "loop": ".",  # a link back into the tree would make a following walk endless
            }
        )
        tally = scan_tree(str(root), FileFilter())
        assert (tally.bytes, tally.files) == (10, 1)
        assert tally.skipped == 3

    def test_hidden_files_count_unless_excluded(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({".cache/x.bin": 100, ".dot": 10, "seen.bin": 1})
        assert scan_tree(str(root), FileFilter()).bytes == 111
        assert scan_tree(str(root), FileFilter(include_hidden=False)).bytes == 1

    def test_lost_and_found_at_the_top_is_not_input(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"lost+found/#123": 50, "data.bin": 4, "sub/lost+found/kept.bin": 6})
        (root / "lost+found").chmod(0o700)
        tally = scan_tree(str(root), FileFilter())
        assert (tally.bytes, tally.files) == (10, 2)  # only the top-level one is skipped

    def test_fifos_and_sockets_are_skipped(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"data.bin": 4})
        os.mkfifo(root / "pipe")
        tally = scan_tree(str(root), FileFilter())
        assert (tally.bytes, tally.files, tally.skipped) == (4, 1, 1)

    def test_ties_for_the_largest_file_go_to_the_smaller_path(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"b/x": 5, "a/x": 5, "c": 5})
        assert scan_tree(str(root), FileFilter()).largest_path == "a/x"

    def test_scan_level_lists_subdirectories_without_descending(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree({"top.bin": 2, "s1/deep.bin": 50, "s2/": 0})
        tally, subdirs = scan_level(str(root), FileFilter(), prefix="p/")
        assert (tally.bytes, tally.largest_path) == (2, "p/top.bin")
        assert sorted(u.prefix for u in subdirs) == ["p/s1/", "p/s2/"]

    def test_a_missing_directory_is_an_error_naming_it(self, tmp_path: Path) -> None:
        with pytest.raises(ScanError) as caught:
            scan_tree(str(tmp_path / "nope"), FileFilter())
        assert caught.value.filename == str(tmp_path / "nope")


def _many(items: int, per_item: int) -> TreeSpec:
    return {
        f"i{i:02d}/s/f{j:03d}.{'dcm' if j % 3 else 'txt'}": (i * 31 + j * 7) % 97
        for i in range(items)
        for j in range(per_item)
    }


class TestParallel:
    @pytest.mark.parametrize("flt", [FileFilter(), FileFilter(glob="*.dcm"), FileFilter(regex=r"i0[0-4]/.*")])
    def test_forked_walk_equals_sequential_walk(self, tree: Callable[[TreeSpec], Path], flt: FileFilter) -> None:
        root = tree(_many(24, 40))
        units = [Unit(key=f"k{i % 3}", path=str(root / f"i{i:02d}"), prefix=f"i{i:02d}/") for i in range(24)]
        before = _FORKS[0]
        sequential = scan_units(units, flt, workers=1)
        assert _FORKS[0] == before
        forked = scan_units(units, flt, workers=3)
        assert _FORKS[0] == before + 2  # two helpers besides the calling process
        assert sequential == forked
        assert sum(t.files for t in forked.values()) > 0

    def test_an_error_in_a_helper_reaches_the_caller(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree(_many(6, 2))
        units = [Unit(key="k", path=str(root / f"i{i:02d}"), prefix="") for i in range(6)]
        units.append(Unit(key="k", path=str(root / "vanished"), prefix=""))
        with pytest.raises(ScanError) as caught:
            scan_units(units, FileFilter(), workers=2)
        assert caught.value.filename == str(root / "vanished")

    def test_stays_sequential_when_other_threads_run(self, tree: Callable[[TreeSpec], Path]) -> None:
        root = tree(_many(4, 3))
        units = [Unit(key="k", path=str(root / f"i{i:02d}"), prefix="") for i in range(4)]
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        before = _FORKS[0]
        try:
            result = scan_units(units, FileFilter(), workers=4)
        finally:
            stop.set()
            other.join()
        assert _FORKS[0] == before
        assert result["k"].files == 12


class TestMemory:
    def test_memory_does_not_grow_with_the_number_of_files(self, tree: Callable[[TreeSpec], Path]) -> None:
        # One flat directory of N files: a walk that kept a list of files would grow linearly in N.
        def peak(files: int) -> int:
            root = tree({f"f{i:06d}": 1 for i in range(files)})
            tracemalloc.start()
            try:
                tally = scan_tree(str(root), FileFilter(regex=r"f.*"))
                _, top = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert tally.files == files
            return top

        small, large = peak(500), peak(10_000)
        assert large < small + 64 * 1024, (small, large)


def test_tally_round_trips_through_json() -> None:
    tally = Tally(bytes=10, files=2, largest_bytes=7, largest_path="a/b", skipped=1)
    assert Tally.from_json(tally.to_json()) == tally


class TestWorkers:
    @pytest.mark.parametrize(
        ("files", "expected"),
        [
            ({"cpu.max": "max 100000\n"}, None),
            ({"cpu.max": "150000 100000\n"}, 1.5),
            ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
            ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
            ({}, None),
        ],
    )
    def test_cpu_quota_from_cgroup_files(self, tmp_path: Path, files: dict[str, str], expected: float | None) -> None:
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
        assert cpu_quota(str(tmp_path)) == expected

    def test_the_automatic_choice_is_bounded(self) -> None:
        assert 1 <= auto_workers() <= MAX_AUTO_WORKERS
