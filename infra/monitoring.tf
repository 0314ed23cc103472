# Alarms, all sent to one encrypted SNS topic: refused AWS calls anywhere
# in the account, refused portal sign-ins, the API's 5xx rate, and the
# server function's errors and throttles. Each alarm also reports its
# return to OK, so a recipient knows when an incident is over.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  display_name      = "Coffer ${var.name} alarms"
  kms_master_key_id = aws_kms_key.coffer.arn

  tags = {
    Purpose = "alarms"
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # This deployment's alarms, and nothing else, publish here.
      {
        Sid       = "AlarmsOfThisDeploymentPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarms.arn
        Condition = {
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:${local.alarm_prefix}*" }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarms.arn
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_email_addresses)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  metric_namespace = "Coffer/${var.name}"
  alarm_actions    = [aws_sns_topic.alarms.arn]
}

# --- Refused AWS calls (from the trail) ------------------------------------

# Any principal refused by any AWS service in any region: a stolen or
# misused credential shows up here first, and so does a presigned URL used
# after it expired or on an object it does not name.
resource "aws_cloudwatch_log_metric_filter" "unauthorized_api_calls" {
  name           = "${var.name}-unauthorized-api-calls"
  log_group_name = aws_cloudwatch_log_group.trail.name
  pattern        = "{ ($.errorCode = \"*UnauthorizedOperation\") || ($.errorCode = \"AccessDenied*\") }"

  metric_transformation {
    name          = "UnauthorizedApiCalls"
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "unauthorized_api_calls" {
  alarm_name          = "${local.alarm_prefix}unauthorized-api-calls"
  alarm_description   = "AWS refused API calls (AccessDenied or UnauthorizedOperation) in this account; see the trail's log group for who and what."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.unauthorized_api_calls.metric_transformation[0].name
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.unauthorized_api_calls_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- Refused portal sign-ins (from the server's log) ----------------------

# The server writes one JSON line per refused sign-in, before it records
# the sign_in_failed audit record:
#   {"level":"WARN","message":"sign-in refused","reason":"state",...}
# (server/src/auth/routes.rs). Passwords refused by Cognito's hosted UI
# never reach the server and are not counted here.
resource "aws_cloudwatch_log_metric_filter" "failed_sign_ins" {
  name           = "${var.name}-failed-sign-ins"
  log_group_name = aws_cloudwatch_log_group.server.name
  pattern        = "{ $.message = \"sign-in refused\" }"

  metric_transformation {
    name          = "FailedSignIns"
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "failed_sign_ins" {
  alarm_name          = "${local.alarm_prefix}failed-sign-ins"
  alarm_description   = "The portal refused sign-ins (bad state, provider error, invalid token); the audit dashboard lists them as sign_in_failed."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.failed_sign_ins.metric_transformation[0].name
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.failed_sign_in_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- API errors -------------------------------------------------------------

# A rate, not a count: a busy hour's few 5xx are not an incident, a quiet
# hour's every request failing is.
resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${local.alarm_prefix}api-5xx-rate"
  alarm_description   = "More than ${var.api_5xx_rate_threshold_percent}% of API requests were answered with a 5xx; the server log holds the causes under each request id."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_threshold_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx responses (%)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      period      = var.alarm_period_seconds
      stat        = "Sum"
      dimensions = {
        ApiId = aws_apigatewayv2_api.portal.id
        Stage = aws_apigatewayv2_stage.default.name
      }
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      period      = var.alarm_period_seconds
      stat        = "Sum"
      dimensions = {
        ApiId = aws_apigatewayv2_api.portal.id
        Stage = aws_apigatewayv2_stage.default.name
      }
    }
  }
}

# --- The server function ----------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name          = "${local.alarm_prefix}server-errors"
  alarm_description   = "The server function failed invocations (crash, timeout, out of memory); see its log group."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.server.function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.lambda_errors_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  alarm_name          = "${local.alarm_prefix}server-throttles"
  alarm_description   = "Requests were refused because the server function ran out of concurrency (its reservation, or the account's quota)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.server.function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.lambda_throttles_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
