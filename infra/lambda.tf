# The server as a Lambda function: the same coffer-server binary as on a
# laptop, started by Lambda as `bootstrap` and configured entirely through
# COFFER_* variables (docs/configuration.md). It keeps no state: sessions,
# the registry and the audit trail are in the artifact bucket.

resource "aws_cloudwatch_log_group" "server" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.cloudwatch_log_retention_days
  kms_key_id        = aws_kms_key.coffer.arn

  tags = {
    Purpose = "server"
  }
}

locals {
  # Settings this configuration owns; extra_environment cannot override
  # them (see its validation).
  server_environment = {
    COFFER_STORAGE              = "s3"
    COFFER_BUCKET               = aws_s3_bucket.artifacts.id
    COFFER_LOG_BUCKET           = aws_s3_bucket.logs.id
    COFFER_PUBLIC_URL           = local.public_url
    COFFER_OIDC_ISSUER          = local.oidc_issuer
    COFFER_OIDC_CLIENT_ID       = aws_cognito_user_pool_client.portal.id
    COFFER_OIDC_LOGOUT_URL      = "${local.hosted_ui_url}/logout"
    COFFER_LOG_FORMAT           = "json"
    COFFER_CLOUDTRAIL           = "on"
    COFFER_COMPLIANCE_DOWNLOADS = var.compliance_downloads
    COFFER_SITE_DIR             = var.lambda_site_dir

    # The package is read-only; /tmp is the one writable folder.
    COFFER_DATA_DIR = "/tmp/coffer"
  }
}

resource "aws_lambda_function" "server" {
  #checkov:skip=CKV_AWS_117:The server reaches only public AWS endpoints (S3, KMS, CloudTrail, Cognito); a VPC would add NAT or endpoints and no isolation.
  #checkov:skip=CKV_AWS_116:API Gateway invokes the function synchronously and gets every failure back; there are no asynchronous events to dead-letter.
  #checkov:skip=CKV_AWS_272:The package is built by `make lambda` without an AWS Signer profile; its SHA-256 is pinned by source_code_hash.
  #checkov:skip=CKV_AWS_50:The server emits no X-Ray segments; requests are traced by their request id in the server log and the API access log.
  function_name                  = local.function_name
  description                    = "Coffer portal and API"
  role                           = aws_iam_role.server.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.lambda_architecture]
  filename                       = local.lambda_package
  source_code_hash               = filebase64sha256(local.lambda_package)
  memory_size                    = var.lambda_memory_mb
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  layers                         = var.lambda_layers
  kms_key_arn                    = aws_kms_key.coffer.arn

  environment {
    variables = merge(var.extra_environment, local.server_environment)
  }

  # The server writes JSON lines itself; text format passes them through
  # unchanged, so the metric filters in monitoring.tf can read them.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.server.name
  }

  tags = {
    Purpose = "server"
  }

  # The first request may arrive as soon as the function exists; its
  # permissions come from a separate policy resource that must be in place.
  depends_on = [aws_iam_role_policy.server]
}

resource "aws_lambda_permission" "api" {
  statement_id  = "InvokeFromTheApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.server.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.portal.execution_arn}/*"
}
