import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from orchestration.lib.lake import LakeStore


@pytest.fixture(params=["local", "s3"])
def store(request, lake) -> LakeStore:
    return lake if request.param == "local" else request.getfixturevalue("s3_lake")


def test_a_write_that_fails_midway_leaves_the_previous_file_and_no_debris(store):
    store.write_bytes("bronze/x/day=2026-11-11/part-0.parquet", b"old")
    with pytest.raises(RuntimeError):
        with store.atomic_output("bronze/x/day=2026-11-11/part-0.parquet") as out:
            out.write(b"half of the new")
            raise RuntimeError("disk full")
    assert store.read_bytes("bronze/x/day=2026-11-11/part-0.parquet") == b"old"
    selector = pafs.FileSelector(store.fs_path("bronze/x"), recursive=True)
    names = [info.base_name for info in store.fs.get_file_info(selector)]
    assert not [n for n in names if ".tmp-" in n]


def test_parquet_is_written_batch_by_batch_and_read_back(store):
    batches = (pa.record_batch({"n": list(range(i, i + 10))}) for i in range(0, 100, 10))
    rows = store.write_parquet("bronze/y/part-0.parquet", batches, schema=pa.schema([("n", pa.int64())]))
    assert rows == 100
    assert store.read_table("bronze/y").column("n").to_pylist() == list(range(100))


def test_listing_skips_unfinished_writes_and_matches_patterns(store):
    store.write_bytes("landing/a/a_2026-11-11.csv", b"x")
    store.write_bytes("landing/a/.a_2026-11-12.csv.tmp-123", b"x")
    store.write_bytes("landing/a/notes.txt", b"x")
    assert [f.name for f in store.list_files("landing/a", "a_*.csv")] == ["a_2026-11-11.csv"]
    assert store.list_files("landing/missing") == []


def test_uris_name_the_same_place_for_any_engine(lake, s3_lake):
    assert lake.uri("bronze/x").endswith("/lake/bronze/x")
    assert s3_lake.uri("bronze/x").startswith("s3://") and s3_lake.uri("bronze/x").endswith("/lake/bronze/x")


def test_writing_the_same_bytes_again_keeps_the_file_and_its_timestamp(store):
    store.write_bytes("bronze/z/part-0.parquet", b"same")
    before = store.list_files("bronze/z")[0]
    store.write_bytes("bronze/z/part-0.parquet", b"same")
    assert store.list_files("bronze/z") == [before]
    store.write_bytes("bronze/z/part-0.parquet", b"new!")
    assert store.read_bytes("bronze/z/part-0.parquet") == b"new!"
