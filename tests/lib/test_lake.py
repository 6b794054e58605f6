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


def test_a_landing_zone_of_its_own_holds_the_deliveries_and_the_lake_the_rest(tmp_path, s3_env, monkeypatch):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_env.url, region_name="us-east-1")
    for bucket in ("deliveries-bucket", "lake-bucket"):
        s3.create_bucket(Bucket=bucket)
    cases = [
        (str(tmp_path / "lake"), str(tmp_path / "drop"), tmp_path / "drop"),
        ("s3://lake-bucket/lake", "s3://deliveries-bucket/landing", None),
    ]
    for root, landing, local_drop in cases:
        monkeypatch.setenv("LANDING_ROOT", landing)
        store = LakeStore(root)
        store.write_bytes("landing/order_lines/orders_2026-11-11.csv", b"x")
        store.write_bytes("bronze/order_lines/part-0.parquet", b"y")
        assert [f.path for f in store.list_files("landing/order_lines")] == [
            "landing/order_lines/orders_2026-11-11.csv"
        ]
        assert store.uri("landing/order_lines") == f"{landing}/order_lines"
        assert store.uri("bronze") == f"{root}/bronze"
        if local_drop is not None:
            assert (local_drop / "order_lines" / "orders_2026-11-11.csv").read_bytes() == b"x"
            assert not (tmp_path / "lake" / "landing").exists()
        else:

            def files(bucket):  # folder markers aside
                return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if not o["Key"].endswith("/")]

            assert files("deliveries-bucket") == ["landing/order_lines/orders_2026-11-11.csv"]
            assert files("lake-bucket") == ["lake/bronze/order_lines/part-0.parquet"]


def test_a_landing_zone_on_s3_for_a_local_lake_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDING_ROOT", "s3://deliveries/landing")
    with pytest.raises(ValueError, match="LANDING_ROOT"):
        LakeStore(str(tmp_path / "lake"))
