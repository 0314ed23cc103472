# What an operator needs after `terraform apply`: where the portal is,
# what to tell pipelines, and the names of what was created. No secret is
# an output.

output "portal_url" {
  description = "The portal's address (COFFER_PUBLIC_URL); open it in a browser to sign in."
  value       = local.public_url
}

output "api_endpoint" {
  description = "API Gateway's own endpoint; disabled when a custom domain is set."
  value       = aws_apigatewayv2_api.portal.api_endpoint
}

output "custom_domain_target" {
  description = "Host name to point the custom domain's DNS record (CNAME or alias) at; null without a custom domain."
  value       = var.custom_domain_name != "" ? aws_apigatewayv2_domain_name.portal[0].domain_name_configuration[0].target_domain_name : null
}

output "artifact_bucket" {
  description = "Name of the artifact bucket (COFFER_BUCKET)."
  value       = aws_s3_bucket.artifacts.id
}

output "log_bucket" {
  description = "Name of the log bucket (COFFER_LOG_BUCKET): access logs under s3-access/, CloudTrail files under AWSLogs/."
  value       = aws_s3_bucket.logs.id
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the buckets, trail files, log groups and alarm topic."
  value       = aws_kms_key.coffer.arn
}

output "cloudtrail_arn" {
  description = "ARN of the multi-region trail that records management events and the artifact bucket's object events."
  value       = aws_cloudtrail.coffer.arn
}

output "user_pool_id" {
  description = "Cognito user pool holding the portal's accounts; add users to data-scientists, compliance or admins."
  value       = aws_cognito_user_pool.users.id
}

output "oidc_issuer" {
  description = "OIDC issuer URL of the user pool (COFFER_OIDC_ISSUER)."
  value       = local.oidc_issuer
}

output "portal_client_id" {
  description = "Public app client the portal signs users in with (COFFER_OIDC_CLIENT_ID)."
  value       = aws_cognito_user_pool_client.portal.id
}

output "hosted_ui_url" {
  description = "Base URL of Cognito's hosted UI; its /logout is COFFER_OIDC_LOGOUT_URL."
  value       = local.hosted_ui_url
}

output "pipeline_client_id" {
  description = "Machine client for pipelines (client credentials, scope coffer/api). Read its secret with `aws cognito-idp describe-user-pool-client`."
  value       = aws_cognito_user_pool_client.pipeline.id
}

output "pipeline_token_url" {
  description = "Token endpoint pipelines call with the client credentials grant."
  value       = "${local.hosted_ui_url}/oauth2/token"
}

output "pipeline_scope" {
  description = "Scope a pipeline asks for in its token request."
  value       = one(aws_cognito_resource_server.api.scope_identifiers)
}

output "server_function_name" {
  description = "Name of the server's Lambda function."
  value       = aws_lambda_function.server.function_name
}

output "server_log_group" {
  description = "CloudWatch log group of the server's JSON log lines."
  value       = aws_cloudwatch_log_group.server.name
}

output "server_role_arn" {
  description = "Role the server runs as and signs presigned URLs with."
  value       = aws_iam_role.server.arn
}

output "compliance_role_arn" {
  description = "Read-only role for compliance staff in the AWS console (logs, audit trail, registry, alarms)."
  value       = aws_iam_role.compliance.arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies; subscribe more endpoints to it as needed."
  value       = aws_sns_topic.alarms.arn
}
