# The two buckets. The artifact bucket is Coffer's database: artifacts,
# the registry, browser sessions and the audit trail are objects in it
# (docs/architecture.md lists the prefixes). The log bucket receives the
# artifact bucket's server access logs under s3-access/ and CloudTrail's
# files under AWSLogs/, which the compliance dashboard reads back.
#
# Bucket policies are written inline with jsonencode, so the policy is
# part of the resource that checkov and the checks in checks/ inspect.

# --- Artifact bucket ------------------------------------------------------

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_144:One region by design; cross-region replication needs a second deployment's bucket and key, which is an account-level decision outside this configuration.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events; the server learns of uploads through its own API and CloudTrail records every object call.
  #checkov:skip=CKV_AWS_143:Object Lock is the object_lock_enabled variable. It is off by default because default retention would also pin every session save and probe object for the retention period.
  bucket              = local.artifact_bucket_name
  object_lock_enabled = var.object_lock_enabled

  tags = {
    Purpose = "artifacts"
  }
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # ACLs are off: access is decided by IAM and the bucket policy alone.
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioning keeps every overwritten or deleted object recoverable, and
# Object Lock requires it.
resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

# Default encryption with the deployment's key and a bucket key, so
# neither the server nor a browser sends encryption headers (a presigned
# URL would otherwise have to make the browser repeat them) and S3 calls
# KMS once per bucket key rather than once per object.
resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.coffer.arn
    }
  }
}

resource "aws_s3_bucket_object_lock_configuration" "artifacts" {
  count  = var.object_lock_enabled ? 1 : 0
  bucket = aws_s3_bucket.artifacts.id

  rule {
    default_retention {
      mode = var.object_lock_mode
      days = var.object_lock_retention_days
    }
  }

  # S3 accepts a lock configuration only on a versioned bucket.
  depends_on = [aws_s3_bucket_versioning.artifacts]
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # Presigned URLs are bearer tokens: they must never travel in clear.
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
      {
        Sid       = "DenyTlsBelow12"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]
        Condition = {
          NumericLessThan = { "s3:TlsVersion" = "1.2" }
        }
      },

      # Uploads carry no encryption headers and get the bucket default. A
      # request that names other encryption (SSE-S3, another key, a key
      # of its own) is refused rather than quietly stored differently.
      {
        Sid       = "DenyOtherEncryption"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.artifacts.arn}/*"
        Condition = {
          Null            = { "s3:x-amz-server-side-encryption" = "false" }
          StringNotEquals = { "s3:x-amz-server-side-encryption" = "aws:kms" }
        }
      },
      {
        Sid       = "DenyOtherKmsKeys"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.artifacts.arn}/*"
        Condition = {
          Null            = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = "false" }
          StringNotEquals = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = aws_kms_key.coffer.arn }
        }
      },
      {
        Sid       = "DenyCustomerProvidedKeys"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.artifacts.arn}/*"
        Condition = {
          Null = { "s3:x-amz-server-side-encryption-customer-algorithm" = "false" }
        }
      },

      # The audit trail is append-only: only the server writes records,
      # and nobody, the server included, deletes one. Undoing this needs
      # a bucket policy change, which CloudTrail records.
      {
        Sid       = "OnlyTheServerWritesTheAuditTrail"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.artifacts.arn}/${local.audit_prefix}*"
        Condition = {
          StringNotEquals = { "aws:PrincipalArn" = aws_iam_role.server.arn }
        }
      },
      {
        Sid       = "NobodyDeletesAuditRecords"
        Effect    = "Deny"
        Principal = "*"
        Action    = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
        Resource  = "${aws_s3_bucket.artifacts.arn}/${local.audit_prefix}*"
      },
    ]
  })

  # S3 refuses a policy change while the public access block on the same
  # bucket is still being written.
  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

# Browsers PUT upload parts and may GET downloads straight from the
# bucket, from the portal's exact origin only. ETag must be readable, or
# the page cannot list the parts it completes.
resource "aws_s3_bucket_cors_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  cors_rule {
    allowed_origins = [local.public_url]
    allowed_methods = ["PUT", "GET"]
    allowed_headers = [
      "content-md5",
      "content-type",
      "range",
      "x-amz-checksum-algorithm",
      "x-amz-checksum-crc32",
      "x-amz-checksum-crc32c",
      "x-amz-checksum-crc64nvme",
      "x-amz-checksum-sha1",
      "x-amz-checksum-sha256",
      "x-amz-content-sha256",
      "x-amz-date",
      "x-amz-sdk-checksum-algorithm",
      "x-amz-security-token",
    ]
    expose_headers = [
      "ETag",
      "x-amz-checksum-sha256",
      "x-amz-request-id",
      "x-amz-version-id",
    ]
    max_age_seconds = 600
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # An upload nobody completes or aborts is billed until it is aborted;
  # the server's janitor aborts abandoned uploads, this catches the rest.
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  # Sessions are rewritten often and dead after their absolute deadline.
  rule {
    id     = "expire-sessions"
    status = "Enabled"

    filter {
      prefix = local.session_prefix
    }

    expiration {
      days = var.session_object_expiry_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # Replaced and deleted versions of artifacts, registry objects and probe
  # objects are kept for a while, then removed. The audit trail has no
  # rule on purpose: its records are never replaced, and a deleted one
  # stays recoverable for good.
  dynamic "rule" {
    for_each = {
      artifacts = local.artifact_prefix
      registry  = local.registry_prefix
      probes    = local.probe_prefix
    }

    content {
      id     = "age-noncurrent-${rule.key}"
      status = "Enabled"

      filter {
        prefix = rule.value
      }

      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_retention_days
      }

      expiration {
        expired_object_delete_marker = true
      }
    }
  }

  # Noncurrent-version rules act only on versions, so versioning goes first.
  depends_on = [aws_s3_bucket_versioning.artifacts]
}

resource "aws_s3_bucket_logging" "artifacts" {
  bucket        = aws_s3_bucket.artifacts.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = local.access_log_prefix

  # Keys as s3-access/YYYY-mm-DD-HH-MM-SS-<id>, the layout the server's
  # log reader and the embedded endpoint share.
  target_object_key_format {
    simple_prefix {}
  }

  # Without the log bucket's policy in place, S3's first deliveries would
  # be refused and lost.
  depends_on = [aws_s3_bucket_policy.logs]
}

# --- Log bucket -----------------------------------------------------------

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log destination; logging it into itself would log every delivery without end.
  #checkov:skip=CKV_AWS_144:One region by design; replication of the logs is an account-level decision outside this configuration.
  #checkov:skip=CKV2_AWS_62:Nothing consumes log-file events; the dashboard lists the prefixes when it reads.
  #checkov:skip=CKV_AWS_145:S3 server access log delivery refuses destination buckets with SSE-KMS default encryption; CloudTrail files here are still KMS-encrypted by the trail.
  bucket = local.log_bucket_name

  tags = {
    Purpose = "logs"
  }
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id

  # Log delivery and CloudTrail are admitted by the bucket policy; ACLs
  # are off.
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

# S3 server access logs can only be delivered into a bucket whose default
# encryption is SSE-S3; CloudTrail encrypts its own files with the KMS key
# regardless (see cloudtrail.tf).
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # S3 delivers the artifact bucket's access logs, and only those.
      {
        Sid       = "S3DeliversAccessLogs"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs.arn}/${local.access_log_prefix}*"
        Condition = {
          ArnLike      = { "aws:SourceArn" = aws_s3_bucket.artifacts.arn }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },

      # CloudTrail checks the bucket, then writes this trail's files.
      {
        Sid       = "CloudTrailChecksTheBucket"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:GetBucketAcl"
        Resource  = aws_s3_bucket.logs.arn
        Condition = {
          StringEquals = { "aws:SourceArn" = local.trail_arn }
        }
      },
      {
        Sid       = "CloudTrailWritesTrailFiles"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs.arn}/${local.cloudtrail_prefix}${local.account_id}/*"
        Condition = {
          StringEquals = {
            "s3:x-amz-acl"  = "bucket-owner-full-control"
            "aws:SourceArn" = local.trail_arn
          }
        }
      },

      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
      {
        Sid       = "DenyTlsBelow12"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
        Condition = {
          NumericLessThan = { "s3:TlsVersion" = "1.2" }
        }
      },

      # Logs are evidence: they leave only by the lifecycle rule below,
      # which S3 carries out itself and this statement does not stop.
      {
        Sid       = "NobodyDeletesLogs"
        Effect    = "Deny"
        Principal = "*"
        Action    = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
        Resource  = "${aws_s3_bucket.logs.arn}/*"
      },
    ]
  })

  # S3 refuses a policy change while the public access block on the same
  # bucket is still being written.
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Noncurrent-version rules act only on versions, so versioning goes first.
  depends_on = [aws_s3_bucket_versioning.logs]
}
