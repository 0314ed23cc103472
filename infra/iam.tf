# Three roles: the server's, a read-only role for compliance staff in the
# console, and the one CloudTrail uses to write into CloudWatch Logs.
#
# The server's policy grants exactly the S3 calls server/src makes, per
# prefix. Presigned URLs are signed with this role's credentials, so a
# browser's part upload or a recipient's download is allowed only where
# the role itself is allowed.

# --- Server ---------------------------------------------------------------

data "aws_iam_policy_document" "server_trust" {
  statement {
    sid     = "LambdaRunsTheServer"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "server" {
  name                 = "${var.name}-server"
  description          = "Coffer server (${local.function_name}): buckets, key, CloudTrail lookups, its own log group"
  assume_role_policy   = data.aws_iam_policy_document.server_trust.json
  max_session_duration = 3600

  tags = {
    Purpose = "server"
  }
}

data "aws_iam_policy_document" "server" {
  # HeadBucket (/readyz) is authorized as ListBucket and carries no prefix,
  # so the listing right cannot be narrowed by s3:prefix. Listing reveals
  # key names only; every read below is still per prefix.
  statement {
    sid       = "ListTheBuckets"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn, aws_s3_bucket.logs.arn]
  }

  # The janitor lists open multipart uploads under artifacts/.
  statement {
    sid       = "ListOpenUploads"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.artifacts.arn]
  }

  # Audit records are created (If-None-Match: *) and read, never deleted.
  statement {
    sid       = "AppendAndReadTheAuditTrail"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.audit_prefix}*"]
  }

  # The trail's indexes (empty markers and a watermark) let the dashboard
  # page and filter without listing the whole trail; they are written and
  # read, never deleted.
  statement {
    sid       = "IndexTheAuditTrail"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.audit_index_prefix}*"]
  }

  # Sessions are created, saved, loaded and deleted at sign-out.
  statement {
    sid       = "KeepSessions"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.session_prefix}*"]
  }

  # The start-up probe writes a scratch key twice and removes it.
  statement {
    sid       = "ProbeConditionalWrites"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.probe_prefix}*"]
  }

  # Models, claims, manifests, profiles, aliases, indexes, share links and
  # upload sessions: read, created, swapped with If-Match, deleted.
  statement {
    sid       = "KeepTheRegistry"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.registry_prefix}*"]
  }

  # Artifacts: multipart uploads opened, parts presigned, listed and
  # completed (all PutObject or ListMultipartUploadParts), aborted on
  # cancel; objects headed, read for model cards, presigned for download,
  # and deleted when a cancelled upload had already completed a file.
  statement {
    sid = "StoreArtifacts"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.artifacts.arn}/${local.artifact_prefix}*"]
  }

  # The dashboard parses access logs and CloudTrail files.
  statement {
    sid     = "ReadLogs"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.logs.arn}/${local.access_log_prefix}*",
      "${aws_s3_bucket.logs.arn}/${local.cloudtrail_prefix}*",
    ]
  }

  # Objects are encrypted with the key by S3; S3 asks KMS on the role's
  # behalf, so the key is usable only through S3.
  statement {
    sid       = "UseTheKeyThroughS3"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.coffer.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.${local.dns_suffix}"]
    }
  }

  # LookupEvents has no resource-level permissions; it only reads.
  statement {
    sid       = "LookUpManagementEvents"
    actions   = ["cloudtrail:LookupEvents"]
    resources = ["*"]
  }

  # The log group exists already; the function only writes to it.
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.server.arn}:*"]
  }
}

resource "aws_iam_role_policy" "server" {
  name   = "coffer-server"
  role   = aws_iam_role.server.id
  policy = data.aws_iam_policy_document.server.json
}

# --- Compliance (console, read-only) --------------------------------------

data "aws_iam_policy_document" "compliance_trust" {
  statement {
    sid     = "StaffAssumeTheRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = length(var.compliance_trusted_principal_arns) > 0 ? var.compliance_trusted_principal_arns : ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    dynamic "condition" {
      for_each = var.compliance_require_mfa ? [true] : []

      content {
        test     = "Bool"
        variable = "aws:MultiFactorAuthPresent"
        values   = ["true"]
      }
    }
  }
}

resource "aws_iam_role" "compliance" {
  name                 = "${var.name}-compliance"
  description          = "Read-only console access to Coffer's logs, audit trail, registry and alarms"
  assume_role_policy   = data.aws_iam_policy_document.compliance_trust.json
  max_session_duration = 3600

  tags = {
    Purpose = "compliance"
  }
}

data "aws_iam_policy_document" "compliance" {
  # Bucket settings a reviewer checks: encryption, versioning, lock,
  # policy, logging, lifecycle, public access.
  statement {
    sid = "ReadBucketSettings"
    actions = [
      "s3:GetBucketLocation",
      "s3:GetBucketLogging",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketVersioning",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:ListBucket",
      "s3:ListBucketVersions",
    ]
    resources = [aws_s3_bucket.artifacts.arn, aws_s3_bucket.logs.arn]
  }

  # The console lists buckets before it opens one.
  statement {
    sid       = "FindTheBuckets"
    actions   = ["s3:ListAllMyBuckets"]
    resources = ["*"]
  }

  # Metadata, not artifacts: the audit trail (every version, so a deleted
  # record can be seen) and the registry. Sessions and artifact bytes are
  # left out.
  statement {
    sid = "ReadAuditTrailAndRegistry"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectRetention",
      "s3:GetObjectLegalHold",
    ]
    resources = [
      "${aws_s3_bucket.artifacts.arn}/${local.audit_prefix}*",
      "${aws_s3_bucket.artifacts.arn}/${local.registry_prefix}*",
    ]
  }

  statement {
    sid     = "ReadLogFiles"
    actions = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [
      "${aws_s3_bucket.logs.arn}/${local.access_log_prefix}*",
      "${aws_s3_bucket.logs.arn}/${local.cloudtrail_prefix}*",
    ]
  }

  statement {
    sid       = "DecryptThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.coffer.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.${local.dns_suffix}"]
    }
  }

  statement {
    sid       = "DescribeTheKey"
    actions   = ["kms:DescribeKey"]
    resources = [aws_kms_key.coffer.arn]
  }

  statement {
    sid       = "ReadTheTrailSettings"
    actions   = ["cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"]
    resources = [aws_cloudtrail.coffer.arn]
  }

  # These CloudTrail, CloudWatch and Logs reads have no resource-level
  # permissions.
  statement {
    sid = "ReadWithoutResourceScope"
    actions = [
      "cloudtrail:DescribeTrails",
      "cloudtrail:ListTrails",
      "cloudtrail:LookupEvents",
      "cloudwatch:GetMetricData",
      "cloudwatch:GetMetricStatistics",
      "cloudwatch:ListMetrics",
      "logs:DescribeLogGroups",
      "logs:DescribeQueries",
      "logs:StopQuery",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ReadTheAlarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = ["arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:${local.alarm_prefix}*"]
  }

  # Log group ARNs are written both with and without the trailing :* that
  # CloudWatch Logs puts on some of them.
  statement {
    sid = "ReadTheLogGroups"
    actions = [
      "logs:DescribeLogStreams",
      "logs:FilterLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
      "logs:StartQuery",
    ]
    resources = flatten([
      for group in [
        aws_cloudwatch_log_group.server,
        aws_cloudwatch_log_group.api_access,
        aws_cloudwatch_log_group.trail,
      ] : [group.arn, "${group.arn}:*"]
    ])
  }
}

resource "aws_iam_role_policy" "compliance" {
  name   = "coffer-compliance-read-only"
  role   = aws_iam_role.compliance.id
  policy = data.aws_iam_policy_document.compliance.json
}

# --- CloudTrail into CloudWatch Logs --------------------------------------

data "aws_iam_policy_document" "trail_logs_trust" {
  statement {
    sid     = "ThisTrailOnly"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
}

resource "aws_iam_role" "trail_logs" {
  name               = "${var.name}-trail-logs"
  description        = "Lets the ${local.trail_name} trail write its events into CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.trail_logs_trust.json

  tags = {
    Purpose = "cloudtrail"
  }
}

data "aws_iam_policy_document" "trail_logs" {
  statement {
    sid       = "WriteTrailEvents"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.trail.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "trail_logs" {
  name   = "cloudtrail-to-logs"
  role   = aws_iam_role.trail_logs.id
  policy = data.aws_iam_policy_document.trail_logs.json
}
