"""The lake's buckets on S3 (landing, lake, feeds), each supplier's read-only view of its feeds,
and one role through which every channel partner reads only its own.

Every bucket: encrypted with the platform's key, versioned, public access blocked, TLS only,
access logged, with a lifecycle. Keys keep the lake's public layout:

    s3://<landing>/landing/<source>/...       files as delivered (LANDING_ROOT)
    s3://<lake>/lake/{bronze,quarantine,marts}/...   the lakehouse (LAKE_ROOT)
    s3://<feeds>/feeds/<supplier_id>/...      published supplier feeds (FEEDS_ROOT)
    s3://<feeds>/partner_feeds/<partner_id>/...   published channel-partner feeds (PARTNER_FEEDS_ROOT)
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import DeployConfig, Supplier
from infra.suppress import accept

LANDING_PREFIX = "landing"
LAKE_PREFIX = "lake"
FEEDS_PREFIX = "feeds"
PARTNER_FEEDS_PREFIX = "partner_feeds"
PARTNER_TAG = "partner_id"  # the session tag naming the partner a session reads for
PARTNER_PREFIX = f"{PARTNER_FEEDS_PREFIX}/${{aws:PrincipalTag/{PARTNER_TAG}}}/"


class LakeBuckets(Construct):
    """The three data buckets, their access-log bucket, and the key that encrypts them."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logs can only be delivered to a bucket with S3-managed keys
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(config.log_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        accept(self.access_logs, "CKV_AWS_18", "This is the access-log bucket; logging it into itself would loop.")

        self.landing = self._bucket(
            "Landing",
            event_bridge=True,  # a file landing starts a run (see triggers)
            rules=[
                s3.LifecycleRule(
                    id="age-out-delivered-files",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(30)
                        )
                    ],
                    expiration=cdk.Duration.days(config.landing_retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        self.lake = self._bucket(
            "Lake",
            event_bridge=False,
            rules=[
                s3.LifecycleRule(
                    id="drop-replaced-partitions",
                    # partitions are rewritten whole; the replaced versions are only an undo window
                    noncurrent_version_expiration=cdk.Duration.days(14),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(2),
                )
            ],
        )
        self.feeds = self._bucket(
            "Feeds",
            event_bridge=False,
            rules=[
                s3.LifecycleRule(
                    id="feed-history",
                    # a republished feed keeps its predecessors as versions: cheaper storage, then gone
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=cdk.Duration.days(30)
                        )
                    ],
                    noncurrent_version_expiration=cdk.Duration.days(config.feed_history_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )

    def _bucket(self, name: str, *, event_bridge: bool, rules: list[s3.LifecycleRule]) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # one KMS request per bucket key, not per object
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{name.lower()}/",
            lifecycle_rules=rules,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        if event_bridge:
            # set on the bucket itself: CDK's event_bridge_enabled would add a Lambda to do the same
            resource = bucket.node.default_child
            resource.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        return bucket

    def landing_root(self) -> str:
        return f"s3://{self.landing.bucket_name}/{LANDING_PREFIX}"

    def lake_root(self) -> str:
        return f"s3://{self.lake.bucket_name}/{LAKE_PREFIX}"

    def feeds_root(self) -> str:
        return f"s3://{self.feeds.bucket_name}/{FEEDS_PREFIX}"

    def partner_feeds_root(self) -> str:
        return f"s3://{self.feeds.bucket_name}/{PARTNER_FEEDS_PREFIX}"


class SupplierAccess(Construct):
    """One IAM role per supplier that can list and read only ``feeds/<supplier_id>/``."""

    def __init__(self, scope: Construct, construct_id: str, *, buckets: LakeBuckets, suppliers: tuple[Supplier, ...]):
        super().__init__(scope, construct_id)
        self.roles: dict[str, iam.Role] = {}
        for supplier in suppliers:
            self.roles[supplier.supplier_id] = self._role(buckets, supplier)

    def _role(self, buckets: LakeBuckets, supplier: Supplier) -> iam.Role:
        sid = supplier.supplier_id
        prefix = f"{FEEDS_PREFIX}/{sid}/"
        if supplier.account:
            # the supplier's own account assumes the role; the external id guards against confused deputies
            principal: iam.IPrincipal = iam.AccountPrincipal(supplier.account).with_conditions(
                {"StringEquals": {"sts:ExternalId": f"supplyloop-{sid}"}}
            )
        else:
            principal = iam.AccountRootPrincipal()
        role = iam.Role(
            self,
            sid,
            assumed_by=principal,
            description=f"Supplier {sid}: read its own feeds under s3://<feeds>/{prefix}",
            max_session_duration=cdk.Duration.hours(1),
        )
        cdk.Tags.of(role).add("supplyloop:supplier", sid)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOwnFeeds",
                actions=["s3:GetObject"],
                resources=[buckets.feeds.arn_for_objects(f"{prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListOwnFeeds",
                actions=["s3:ListBucket"],
                resources=[buckets.feeds.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptFeedsThroughS3",
                actions=["kms:Decrypt"],
                resources=[buckets.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{cdk.Stack.of(self).region}.amazonaws.com"}},
            )
        )
        return role


class PartnerAccess(Construct):
    """One IAM role for every channel partner, each session reading only ``partner_feeds/<its id>/``.

    Tens of thousands of partners cannot each have a role (an account holds a few thousand), so
    access is by attribute: the session carries the partner's id as the principal tag
    ``partner_id`` and the policy scopes S3 to ``partner_feeds/${aws:PrincipalTag/partner_id}/``.
    The tag comes from whatever vouches for the partner: a broker in the platform's account that
    assumes the role with the session tag (``sts:TagSession``), or a Cognito identity pool that
    maps a signed-in partner's attribute to the principal tag. Without the tag nothing is allowed.
    """

    def __init__(self, scope: Construct, construct_id: str, *, buckets: LakeBuckets) -> None:
        super().__init__(scope, construct_id)
        tagged = {"Null": {f"aws:PrincipalTag/{PARTNER_TAG}": "false"}}
        self.role = iam.Role(
            self,
            "Reader",
            # one trust statement for sts:AssumeRole and sts:TagSession: the session must carry
            # the partner_id tag, and no other tag
            assumed_by=iam.AccountRootPrincipal()
            .with_session_tags()
            .with_conditions(
                {
                    "StringLike": {f"aws:RequestTag/{PARTNER_TAG}": "?*"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": [PARTNER_TAG]},
                }
            ),
            description="Every channel partner: read its own feed under s3://<feeds>/partner_feeds/<partner_id>/",
            max_session_duration=cdk.Duration.hours(1),
        )
        cdk.Tags.of(self.role).add("supplyloop:readers", "partners")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOwnPartnerFeed",
                actions=["s3:GetObject"],
                resources=[buckets.feeds.arn_for_objects(f"{PARTNER_PREFIX}*")],
                conditions=tagged,
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ListOwnPartnerFeed",
                actions=["s3:ListBucket"],
                resources=[buckets.feeds.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [PARTNER_PREFIX, f"{PARTNER_PREFIX}*"]}, **tagged},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptPartnerFeedsThroughS3",
                actions=["kms:Decrypt"],
                resources=[buckets.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"s3.{cdk.Stack.of(self).region}.amazonaws.com"},
                    **tagged,
                },
            )
        )
