# Names and addresses derived once and used across files. ARNs that would
# otherwise make a cycle (the key policy names the trail, the trail uses
# the key) are built from names rather than taken from resources.

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  dns_suffix = data.aws_partition.current.dns_suffix

  artifact_bucket_name = var.artifact_bucket_name != "" ? var.artifact_bucket_name : "${var.name}-artifacts-${local.account_id}-${var.region}"
  log_bucket_name      = var.log_bucket_name != "" ? var.log_bucket_name : "${var.name}-logs-${local.account_id}-${var.region}"

  # The prefixes the server reads and writes; docs/architecture.md lists
  # what lives under each.
  audit_prefix       = "audit/portal/"
  audit_index_prefix = "audit/index/"
  session_prefix     = "sessions/"
  probe_prefix       = "_coffer/probe/"
  registry_prefix    = "registry/"
  artifact_prefix    = "artifacts/"
  access_log_prefix  = "s3-access/"
  cloudtrail_prefix  = "AWSLogs/"

  trail_name    = "${var.name}-trail"
  trail_arn     = "arn:${local.partition}:cloudtrail:${var.region}:${local.account_id}:trail/${local.trail_name}"
  function_name = "${var.name}-server"
  alarm_prefix  = "${var.name}-"

  # A relative package path is taken from this folder, and stays relative
  # so the state does not record one machine's layout.
  lambda_package = startswith(var.lambda_package, "/") ? var.lambda_package : "${path.module}/${var.lambda_package}"

  # The portal's address as browsers see it: OIDC redirect URIs, the CORS
  # origin and secure cookies all derive from it. It carries no path, so
  # it is also the origin.
  public_url = var.custom_domain_name != "" ? "https://${var.custom_domain_name}" : aws_apigatewayv2_api.portal.api_endpoint

  cognito_domain_prefix = var.cognito_domain_prefix != "" ? var.cognito_domain_prefix : "${var.name}-${local.account_id}"
  hosted_ui_url         = "https://${aws_cognito_user_pool_domain.portal.domain}.auth.${var.region}.amazoncognito.com"

  # Cognito's issuer, spelled exactly as its discovery document spells it
  # (no trailing slash): the server compares issuers as strings.
  oidc_issuer = "https://${aws_cognito_user_pool.users.endpoint}"
}
