# The account's trail. LookupEvents gives the dashboard 90 days of
# management events; object-level calls on the artifact bucket (every
# presigned upload and download among them) reach Coffer only through this
# trail's files, so the data-event selector below is what makes downloads
# by link recipients visible to compliance at all.

resource "aws_cloudwatch_log_group" "trail" {
  name              = "/aws/cloudtrail/${local.trail_name}"
  retention_in_days = var.cloudwatch_log_retention_days
  kms_key_id        = aws_kms_key.coffer.arn

  tags = {
    Purpose = "cloudtrail"
  }
}

resource "aws_cloudtrail" "coffer" {
  #checkov:skip=CKV_AWS_252:A notification per delivered log file would be noise; the alarms in monitoring.tf read the trail's events from CloudWatch Logs instead.
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.logs.id
  include_global_service_events = true
  is_multi_region_trail         = true
  enable_log_file_validation    = true
  kms_key_id                    = aws_kms_key.coffer.arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail_logs.arn

  # Every management event of every region, as the unauthorized-call alarm
  # expects.
  advanced_event_selector {
    name = "Management events"

    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
  }

  # Reads and writes of every object in the artifact bucket, and no other
  # bucket's, to keep the cost of data events to what Coffer needs.
  advanced_event_selector {
    name = "Artifact bucket objects"

    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }

    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }

    field_selector {
      field       = "resources.ARN"
      starts_with = ["${aws_s3_bucket.artifacts.arn}/"]
    }
  }

  tags = {
    Purpose = "cloudtrail"
  }

  # CloudTrail checks on creation that it may write to the bucket and to
  # the log group; the bucket policy and the log role's policy are
  # resources of their own, which nothing here refers to.
  depends_on = [
    aws_s3_bucket_policy.logs,
    aws_iam_role_policy.trail_logs,
  ]
}
