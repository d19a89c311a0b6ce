import pytest

from rs_assets.core.errors import ConfigError
from rs_assets.core.storage.bucket_rules import BucketRules

RULES = """owner,collection,product_type,expiration_days,bucket
*,*,*,30,default-bucket
copernicus,*,*,60,owner-bucket
*,s1-aux,*,7,collection-bucket
*,*,AUX_PP2,14,type-bucket
*,s1-aux,AUX_PP2,21,collection-type-bucket
copernicus,*,AUX_PP2,28,owner-type-bucket
copernicus,s2-aux,*,90,owner-collection-bucket
copernicus,s2-aux,*,91,second-tie-bucket
"""


@pytest.mark.parametrize(
    ("owner", "collection", "product_type", "bucket", "days"),
    [
        ("esa", "s3-aux", "AUX_X", "default-bucket", 30),  # only the catch-all
        ("copernicus", "s3-aux", "AUX_X", "owner-bucket", 60),  # owner beats nothing
        ("esa", "s1-aux", "AUX_X", "collection-bucket", 7),  # collection beats nothing
        ("esa", "s3-aux", "AUX_PP2", "type-bucket", 14),  # type beats nothing
        ("copernicus", "s1-aux", "AUX_X", "owner-bucket", 60),  # owner beats collection
        ("esa", "s1-aux", "AUX_PP2", "collection-type-bucket", 21),  # collection+type beats either
        ("copernicus", "s1-aux", "AUX_PP2", "owner-type-bucket", 28),  # owner+type beats collection+type
        (
            "copernicus",
            "s2-aux",
            "AUX_PP2",
            "owner-collection-bucket",
            90,
        ),  # owner+collection beats owner+type
        ("copernicus", "s2-aux", "AUX_X", "owner-collection-bucket", 90),  # ties go to the first row
    ],
)
def test_most_specific_rule_wins(
    owner: str, collection: str, product_type: str, bucket: str, days: int
) -> None:
    placement = BucketRules.parse(RULES).place(owner, collection, product_type)
    assert (placement.bucket, placement.expiration_days) == (bucket, days)


def test_no_match_names_the_triple() -> None:
    rules = BucketRules.parse("copernicus,*,*,1,only-bucket\n", "r.csv")
    with pytest.raises(
        ConfigError, match=r"r.csv: no rule matches owner='esa', collection='s1-aux', product_type='AUX_X'"
    ):
        rules.place("esa", "s1-aux", "AUX_X")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("*,*,*,30\n", r"line 1: expected 5 columns"),
        (
            "owner,collection,product_type,expiration_days,bucket\n*,*,*,thirty,b-1\n",
            r"line 2: expiration_days 'thirty'",
        ),
        ("*,,*,30,bucket-a\n", r"must not be empty"),
        ("# only a comment\n", r"no rules"),
    ],
)
def test_bad_rules_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BucketRules.parse(text, "r.csv")


def test_the_reference_file_with_a_fake_bucket_row_loads_and_fails_only_where_that_row_is_chosen() -> None:
    rules = BucketRules.parse(
        "owner,collection,product_type,expiration_days,bucket\n"
        "*,*,*,30,rspython-ops-catalog-all-production\n"
        "copernicus,s1-aux,*,40,rspython-ops-catalog-copernicus-s1-aux\n"
        "*,*,fake_type,10,fake_bucket\n",
        "expiration_bucket.csv",
    )
    assert rules.warnings == [
        "bucket rules expiration_bucket.csv line 4: 'fake_bucket' is not a valid S3 bucket name; "
        "items this row is chosen for will fail"
    ]
    assert rules.place("copernicus", "s1-aux", "AUX_PP1").bucket == "rspython-ops-catalog-copernicus-s1-aux"
    assert rules.place("esa", "s2-aux", "AUX_X").expiration_days == 30
    with pytest.raises(
        ConfigError, match=r"line 4: 'fake_bucket' is not a valid S3 bucket name \(the row chosen"
    ):
        rules.place("copernicus", "s3-aux", "fake_type")
    assert "fake_bucket" not in rules.buckets


def test_expiry_without_days_is_none() -> None:
    placement = BucketRules.parse("*,*,*,,bucket-a\n").place("a", "b", "c")
    assert placement.expiration_days is None


def test_shipped_default_rules_parse() -> None:
    from pathlib import Path

    import rs_assets

    rules = BucketRules.load(Path(rs_assets.__file__).parent / "data" / "bucket_rules.csv")
    assert rules.place("copernicus", "s1-aux", "AUX_PP2").bucket == "rs-staging"
    assert rules.place("copernicus", "s01-siw-grd", "S01SIWGRD").bucket == "rs-products"
