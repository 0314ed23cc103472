# One customer managed key encrypts everything Coffer keeps: the artifact
# bucket (and so artifacts, registry, sessions and the audit trail),
# CloudTrail's files, the log groups, the alarm topic and the server's
# settings. Its policy names each principal that uses it and what for;
# IAM policies alone cannot grant its use to anyone else.

resource "aws_kms_key" "coffer" {
  description             = "Coffer ${var.name}: artifacts, audit trail, CloudTrail files, logs and alarms"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # The account administers the key (Terraform needs this to manage
      # it) but cannot use it to encrypt or decrypt through IAM alone, and
      # cannot hand it out with grants outside the statements below.
      {
        Sid       = "AccountAdministersTheKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action = [
          "kms:CancelKeyDeletion",
          "kms:CreateAlias",
          "kms:DeleteAlias",
          "kms:DescribeKey",
          "kms:DisableKey",
          "kms:DisableKeyRotation",
          "kms:EnableKey",
          "kms:EnableKeyRotation",
          "kms:GetKeyPolicy",
          "kms:GetKeyRotationStatus",
          "kms:ListAliases",
          "kms:ListGrants",
          "kms:ListKeyPolicies",
          "kms:ListKeyRotations",
          "kms:ListResourceTags",
          "kms:PutKeyPolicy",
          "kms:RevokeGrant",
          "kms:RotateKeyOnDemand",
          "kms:ScheduleKeyDeletion",
          "kms:TagResource",
          "kms:UntagResource",
          "kms:UpdateAlias",
          "kms:UpdateKeyDescription",
        ]
        Resource = "*"
      },

      # Whoever deploys the function may encrypt its settings, and Lambda
      # may keep a grant to decrypt them at start-up, only through Lambda.
      {
        Sid       = "LambdaProtectsTheServerSettings"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:CreateGrant"]
        Resource  = "*"
        Condition = {
          StringEquals = { "kms:ViaService" = "lambda.${var.region}.${local.dns_suffix}" }
        }
      },

      # The server writes and reads the artifact bucket. With a bucket key
      # the encryption context is the bucket's ARN; an object encrypted on
      # its own names its object ARN, so both spellings are allowed.
      {
        Sid       = "ServerUsesTheArtifactBucket"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.server.arn }
        Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource  = "*"
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${var.region}.${local.dns_suffix}" }
          StringLike = {
            "kms:EncryptionContext:aws:s3:arn" = [
              aws_s3_bucket.artifacts.arn,
              "${aws_s3_bucket.artifacts.arn}/*",
            ]
          }
        }
      },

      # The server and compliance staff read CloudTrail's files for the
      # dashboard; CloudTrail encrypts them with the trail's ARN as context.
      {
        Sid    = "ReadersDecryptTrailFiles"
        Effect = "Allow"
        Principal = {
          AWS = [aws_iam_role.server.arn, aws_iam_role.compliance.arn]
        }
        Action   = "kms:Decrypt"
        Resource = "*"
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${var.region}.${local.dns_suffix}" }
          # Files of every region carry the trail's ARN; only its region
          # part is left open.
          StringLike = {
            "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/${local.trail_name}"
          }
        }
      },

      # Compliance staff read the audit trail and the registry in the
      # console; they never write.
      {
        Sid       = "ComplianceReadsTheArtifactBucket"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.compliance.arn }
        Action    = "kms:Decrypt"
        Resource  = "*"
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${var.region}.${local.dns_suffix}" }
          StringLike = {
            "kms:EncryptionContext:aws:s3:arn" = [
              aws_s3_bucket.artifacts.arn,
              "${aws_s3_bucket.artifacts.arn}/*",
            ]
          }
        }
      },
      {
        Sid       = "ComplianceDescribesTheKey"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.compliance.arn }
        Action    = "kms:DescribeKey"
        Resource  = "*"
      },

      # CloudTrail encrypts this deployment's trail files and nothing else.
      {
        Sid       = "CloudTrailEncryptsTrailFiles"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "kms:GenerateDataKey*"
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceArn" = local.trail_arn }
          StringLike = {
            "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"
          }
        }
      },
      {
        Sid       = "CloudTrailDescribesTheKey"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "kms:DescribeKey"
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceArn" = local.trail_arn }
        }
      },

      # CloudWatch Logs encrypts the log groups of this account and region.
      {
        Sid       = "CloudWatchLogsEncryptsLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.${local.dns_suffix}" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"
          }
        }
      },

      # CloudWatch alarms publish to the encrypted alarm topic. The topic's
      # own policy admits only this account's alarms, so the service
      # principal cannot use the key for anyone else's messages.
      {
        Sid       = "AlarmsPublishToTheTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })

  tags = {
    Purpose = "encryption"
  }
}

resource "aws_kms_alias" "coffer" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.coffer.key_id
}
