# The public entrance: an HTTP API sending every request to the server
# function (payload format 2.0). Authentication is the server's own
# (sessions, bearer tokens, share links), so the API adds throttling and
# an access log, and authorizes nothing itself.

resource "aws_apigatewayv2_api" "portal" {
  name          = "${var.name}-portal"
  description   = "Coffer portal and API"
  protocol_type = "HTTP"

  # With a custom domain the portal has one address only: OIDC redirects,
  # CORS and cookies are bound to it, and the default endpoint would be a
  # second origin that none of them accept.
  disable_execute_api_endpoint = var.custom_domain_name != ""

  tags = {
    Purpose = "portal"
  }
}

resource "aws_apigatewayv2_integration" "server" {
  api_id                 = aws_apigatewayv2_api.portal.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.server.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:The server authenticates every request itself (OIDC sessions, bearer tokens, share links); health checks, sign-in and share-link pages must be reachable without credentials.
  api_id    = aws_apigatewayv2_api.portal.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.server.id}"
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${var.name}-portal-access"
  retention_in_days = var.cloudwatch_log_retention_days
  kms_key_id        = aws_kms_key.coffer.arn

  tags = {
    Purpose = "portal"
  }
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.portal.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttling_rate_limit
    throttling_burst_limit = var.api_throttling_burst_limit
  }

  # The request path is left out on purpose: a share link's path carries
  # its token, a bearer credential. The server logs paths with the token
  # redacted, under its own request id.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      time               = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      method             = "$context.httpMethod"
      protocol           = "$context.protocol"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      latencyMs          = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationError   = "$context.integrationErrorMessage"
    })
  }

  tags = {
    Purpose = "portal"
  }
}

# --- Custom domain (optional) ---------------------------------------------

resource "aws_apigatewayv2_domain_name" "portal" {
  count       = var.custom_domain_name != "" ? 1 : 0
  domain_name = var.custom_domain_name

  domain_name_configuration {
    certificate_arn = var.custom_domain_certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = {
    Purpose = "portal"
  }

  lifecycle {
    precondition {
      condition     = var.custom_domain_certificate_arn != ""
      error_message = "custom_domain_name needs custom_domain_certificate_arn: an ACM certificate for it in the deployment region."
    }
  }
}

resource "aws_apigatewayv2_api_mapping" "portal" {
  count       = var.custom_domain_name != "" ? 1 : 0
  api_id      = aws_apigatewayv2_api.portal.id
  domain_name = aws_apigatewayv2_domain_name.portal[0].id
  stage       = aws_apigatewayv2_stage.default.id
}
