# Inputs of the deployment. Every one has a default, so `terraform apply`
# with no variables at all deploys the whole stack; the validations stop
# a typo at plan time instead of halfway through an apply.

# --- Naming and placement -------------------------------------------------

variable "region" {
  description = "AWS region for every regional resource (buckets, key, Lambda, API, Cognito, alarms). The trail itself records all regions."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1."
  }
}

variable "name" {
  description = "Short name of this deployment, used as the prefix of every resource name (function, trail, roles, alarms, key alias)."
  type        = string
  default     = "coffer"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 16 lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit."
  }

  # Cognito refuses domain prefixes that contain these words, and the
  # default domain prefix starts with the name.
  validation {
    condition     = length(regexall("aws|amazon|cognito", var.name)) == 0
    error_message = "name must not contain aws, amazon or cognito."
  }
}

variable "tags" {
  description = "Extra tags put on every resource, on top of Application and Deployment."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.tags) : length(key) <= 128 && !startswith(lower(key), "aws:")])
    error_message = "tag keys must be at most 128 characters and must not start with aws:."
  }
}

# --- Buckets --------------------------------------------------------------

variable "artifact_bucket_name" {
  description = "Name of the artifact bucket (artifacts, registry, sessions, audit trail). Empty means <name>-artifacts-<account id>-<region>."
  type        = string
  default     = ""

  validation {
    condition     = var.artifact_bucket_name == "" || (can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifact_bucket_name)) && !strcontains(var.artifact_bucket_name, ".."))
    error_message = "artifact_bucket_name must be empty or a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens."
  }
}

variable "log_bucket_name" {
  description = "Name of the log bucket (S3 server access logs under s3-access/, CloudTrail files under AWSLogs/). Empty means <name>-logs-<account id>-<region>."
  type        = string
  default     = ""

  validation {
    condition     = var.log_bucket_name == "" || (can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.log_bucket_name)) && !strcontains(var.log_bucket_name, ".."))
    error_message = "log_bucket_name must be empty or a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens."
  }
}

variable "object_lock_enabled" {
  description = "Create the artifact bucket with S3 Object Lock, so no object version (artifact, manifest, audit record) can be deleted before its retention ends. Only takes effect when the bucket is created."
  type        = bool
  default     = false

  validation {
    condition     = var.object_lock_enabled != null
    error_message = "object_lock_enabled must be true or false."
  }
}

variable "object_lock_mode" {
  description = "Default retention mode when Object Lock is on: GOVERNANCE (a principal with s3:BypassGovernanceRetention can still delete) or COMPLIANCE (nobody can, not even the account root)."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE or COMPLIANCE."
  }
}

variable "object_lock_retention_days" {
  description = "Default retention, in days, of every new object version when Object Lock is on."
  type        = number
  default     = 365

  validation {
    condition     = var.object_lock_retention_days >= 1 && var.object_lock_retention_days <= 36500 && floor(var.object_lock_retention_days) == var.object_lock_retention_days
    error_message = "object_lock_retention_days must be a whole number from 1 to 36500."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted version of an artifact or registry object is kept before S3 removes it. Audit records are never aged."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 1 && var.noncurrent_version_retention_days <= 3650 && floor(var.noncurrent_version_retention_days) == var.noncurrent_version_retention_days
    error_message = "noncurrent_version_retention_days must be a whole number from 1 to 3650."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which S3 itself aborts a multipart upload that was never completed. A backstop behind the server's janitor, so keep it longer than COFFER_UPLOAD_EXPIRY_HOURS (24 hours by default)."
  type        = number
  default     = 3

  validation {
    condition     = var.abort_incomplete_multipart_days >= 2 && var.abort_incomplete_multipart_days <= 30 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number from 2 to 30, so S3 never aborts an upload the janitor still considers live."
  }
}

variable "session_object_expiry_days" {
  description = "Days after its last write that S3 removes a browser session object under sessions/. Keep it longer than COFFER_SESSION_MAX_HOURS (12 hours by default)."
  type        = number
  default     = 2

  validation {
    condition     = var.session_object_expiry_days >= 1 && var.session_object_expiry_days <= 365 && floor(var.session_object_expiry_days) == var.session_object_expiry_days
    error_message = "session_object_expiry_days must be a whole number from 1 to 365."
  }
}

variable "log_retention_days" {
  description = "Days S3 access logs and CloudTrail files are kept in the log bucket."
  type        = number
  default     = 730

  validation {
    condition     = var.log_retention_days >= 90 && var.log_retention_days <= 3650 && floor(var.log_retention_days) == var.log_retention_days
    error_message = "log_retention_days must be a whole number from 90 to 3650 (CloudTrail files older than 90 days are the only record LookupEvents cannot give)."
  }
}

# --- Encryption and logs --------------------------------------------------

variable "kms_deletion_window_days" {
  description = "Waiting period, in days, between scheduling the KMS key for deletion and its deletion. Everything Coffer stores is encrypted with this key."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number from 7 to 30."
  }
}

variable "cloudwatch_log_retention_days" {
  description = "Retention of the CloudWatch log groups (server logs, API access logs, CloudTrail events)."
  type        = number
  default     = 365

  # CloudWatch accepts only these values; a year or more keeps a full
  # audit year of server logs.
  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_log_retention_days)
    error_message = "cloudwatch_log_retention_days must be a CloudWatch retention value of at least a year: 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

# --- Portal address -------------------------------------------------------

variable "custom_domain_name" {
  description = "Host name the portal is served on (for example coffer.example.com). Empty means the API Gateway endpoint. The DNS record pointing at the API is yours to create; see the custom_domain_target output."
  type        = string
  default     = ""

  validation {
    condition     = var.custom_domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.custom_domain_name))
    error_message = "custom_domain_name must be empty or a lowercase host name such as coffer.example.com (no scheme, no path)."
  }
}

variable "custom_domain_certificate_arn" {
  description = "ARN of an ACM certificate in the deployment region covering custom_domain_name. Required when custom_domain_name is set."
  type        = string
  default     = ""

  validation {
    condition     = var.custom_domain_certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.custom_domain_certificate_arn))
    error_message = "custom_domain_certificate_arn must be empty or an ACM certificate ARN."
  }
}

# --- Sign-in --------------------------------------------------------------

variable "cognito_domain_prefix" {
  description = "Prefix of the Cognito hosted UI domain (<prefix>.auth.<region>.amazoncognito.com). Empty means <name>-<account id>, which is unique per account."
  type        = string
  default     = ""

  validation {
    condition     = var.cognito_domain_prefix == "" || (can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.cognito_domain_prefix)) && length(regexall("aws|amazon|cognito", var.cognito_domain_prefix)) == 0)
    error_message = "cognito_domain_prefix must be empty or 1 to 63 lowercase letters, digits and hyphens, without aws, amazon or cognito."
  }
}

variable "mfa_configuration" {
  description = "Multi-factor sign-in for portal users: ON (every user sets up an authenticator app), OPTIONAL (each user chooses) or OFF."
  type        = string
  default     = "ON"

  validation {
    condition     = contains(["ON", "OPTIONAL", "OFF"], var.mfa_configuration)
    error_message = "mfa_configuration must be ON, OPTIONAL or OFF."
  }
}

variable "password_minimum_length" {
  description = "Shortest password Cognito accepts. Passwords must also mix upper and lower case, digits and symbols."
  type        = number
  default     = 14

  validation {
    condition     = var.password_minimum_length >= 8 && var.password_minimum_length <= 99 && floor(var.password_minimum_length) == var.password_minimum_length
    error_message = "password_minimum_length must be a whole number from 8 to 99."
  }
}

variable "cognito_deletion_protection" {
  description = "Refuse to delete the user pool (and so every account and group in it) until this is turned off."
  type        = bool
  default     = true

  validation {
    condition     = var.cognito_deletion_protection != null
    error_message = "cognito_deletion_protection must be true or false."
  }
}

variable "token_validity_minutes" {
  description = "Lifetime, in minutes, of the ID and access tokens Cognito issues to the portal and to pipelines."
  type        = number
  default     = 60

  validation {
    condition     = var.token_validity_minutes >= 5 && var.token_validity_minutes <= 1440 && floor(var.token_validity_minutes) == var.token_validity_minutes
    error_message = "token_validity_minutes must be a whole number from 5 to 1440 (Cognito's limits)."
  }
}

variable "refresh_token_validity_minutes" {
  description = "Lifetime, in minutes, of the portal client's refresh tokens. The portal keeps its own session (12 hours at most by default) and does not use them, so a day is plenty."
  type        = number
  default     = 1440

  validation {
    condition     = var.refresh_token_validity_minutes >= 60 && var.refresh_token_validity_minutes <= 5256000 && floor(var.refresh_token_validity_minutes) == var.refresh_token_validity_minutes
    error_message = "refresh_token_validity_minutes must be a whole number from 60 to 5256000 (Cognito's limits)."
  }
}

# --- Roles ----------------------------------------------------------------

variable "compliance_trusted_principal_arns" {
  description = "IAM principals (users or roles) allowed to assume the read-only compliance role. Empty means any principal of this account whose own policy allows sts:AssumeRole on it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.compliance_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|user/.+|role/.+)$", arn))])
    error_message = "compliance_trusted_principal_arns must hold IAM user, role or account root ARNs."
  }
}

variable "compliance_require_mfa" {
  description = "Assuming the compliance role requires a session signed in with MFA. Turn off only when the role is assumed from an identity provider that enforces MFA itself."
  type        = bool
  default     = true

  validation {
    condition     = var.compliance_require_mfa != null
    error_message = "compliance_require_mfa must be true or false."
  }
}

# --- The server -----------------------------------------------------------

variable "lambda_package" {
  description = "Path of the server's Lambda package, a zip holding the `bootstrap` executable and the built site. A relative path is taken from this folder (infra/)."
  type        = string
  default     = "../target/lambda/coffer-server.zip"

  validation {
    condition     = endswith(var.lambda_package, ".zip")
    error_message = "lambda_package must be the path of a .zip file."
  }
}

variable "lambda_architecture" {
  description = "Processor architecture the package is built for: x86_64 or arm64 (cheaper per second, but needs a cross-compiled package on x86_64 build machines)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of the server function, in MB; Lambda gives CPU in proportion, which speeds up signing and hashing."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Longest a request may run in the server function. API Gateway gives up after 30 seconds, so more is never useful."
  type        = number
  default     = 29

  validation {
    condition     = var.lambda_timeout_seconds >= 3 && var.lambda_timeout_seconds <= 30 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds must be a whole number from 3 to 30."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the server function, so a flood of requests cannot starve other functions of the account, nor run up an unbounded bill. -1 reserves nothing, for accounts whose Lambda quota leaves nothing to reserve."
  type        = number
  default     = 25

  validation {
    condition     = var.lambda_reserved_concurrency == -1 || (var.lambda_reserved_concurrency >= 1 && var.lambda_reserved_concurrency <= 1000 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency)
    error_message = "lambda_reserved_concurrency must be -1 (no reservation) or a whole number from 1 to 1000."
  }
}

variable "lambda_site_dir" {
  description = "Where the built browser bundle is inside the running function (COFFER_SITE_DIR). Lambda unpacks the package under /var/task and layers under /opt."
  type        = string
  default     = "/var/task/site"

  validation {
    condition     = can(regex("^/(var/task|opt)(/[A-Za-z0-9._-]+)*$", var.lambda_site_dir))
    error_message = "lambda_site_dir must be an absolute path under /var/task or /opt."
  }
}

variable "lambda_layers" {
  description = "ARNs of Lambda layers to add to the server function, for example an extension such as a parameters and secrets cache; the server itself needs none."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.lambda_layers) <= 5 && alltrue([for arn in var.lambda_layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", arn))])
    error_message = "lambda_layers must hold at most 5 versioned layer ARNs."
  }
}

variable "compliance_downloads" {
  description = "Whether compliance staff may download artifacts (COFFER_COMPLIANCE_DOWNLOADS): allow or deny. They browse and audit either way."
  type        = string
  default     = "allow"

  validation {
    condition     = contains(["allow", "deny"], var.compliance_downloads)
    error_message = "compliance_downloads must be allow or deny."
  }
}

variable "extra_environment" {
  description = "Further environment variables of the server function, for settings this configuration does not manage (for example COFFER_SESSION_IDLE_MINUTES). The variables it manages cannot be overridden here."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.extra_environment) : can(regex("^[A-Z][A-Z0-9_]*$", key))])
    error_message = "extra_environment keys must be upper-case environment variable names."
  }

  # These are derived from the resources created here; overriding one would
  # point the server at something this configuration did not build.
  validation {
    condition = length(setintersection(keys(var.extra_environment), [
      "COFFER_STORAGE", "COFFER_BUCKET", "COFFER_LOG_BUCKET", "COFFER_PUBLIC_URL",
      "COFFER_OIDC_ISSUER", "COFFER_OIDC_CLIENT_ID", "COFFER_OIDC_CLIENT_SECRET",
      "COFFER_OIDC_LOGOUT_URL", "COFFER_LOG_FORMAT", "COFFER_CLOUDTRAIL",
      "COFFER_DATA_DIR", "COFFER_SITE_DIR", "COFFER_COMPLIANCE_DOWNLOADS",
      "COFFER_DEV_IDP_FORCE", "COFFER_DEV_IDP_USERS",
    ])) == 0
    error_message = "extra_environment must not set a variable this configuration manages (bucket names, URLs, identity provider, log format, storage mode, data and site folders) nor the development provider's."
  }
}

# --- API ------------------------------------------------------------------

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the API accepts before answering 429."
  type        = number
  default     = 50

  validation {
    condition     = var.api_throttling_rate_limit >= 1 && var.api_throttling_rate_limit <= 10000
    error_message = "api_throttling_rate_limit must be from 1 to 10000."
  }
}

variable "api_throttling_burst_limit" {
  description = "Requests the API accepts in a short burst above the steady rate."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttling_burst_limit >= 1 && var.api_throttling_burst_limit <= 5000 && floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit
    error_message = "api_throttling_burst_limit must be a whole number from 1 to 5000."
  }
}

# --- Alarms ---------------------------------------------------------------

variable "alarm_email_addresses" {
  description = "Addresses subscribed to the alarm topic. Each receives a confirmation mail from SNS that must be accepted before alarms arrive."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "alarm_email_addresses must hold e-mail addresses."
  }
}

variable "alarm_period_seconds" {
  description = "Length of the window each alarm evaluates, in seconds."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarm_period_seconds)
    error_message = "alarm_period_seconds must be 60, 300, 900 or 3600."
  }
}

variable "unauthorized_api_calls_threshold" {
  description = "Refused AWS API calls (AccessDenied, UnauthorizedOperation) in the account, per alarm window, that raise the alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.unauthorized_api_calls_threshold >= 1 && floor(var.unauthorized_api_calls_threshold) == var.unauthorized_api_calls_threshold
    error_message = "unauthorized_api_calls_threshold must be a whole number of at least 1."
  }
}

variable "failed_sign_in_threshold" {
  description = "Refused portal sign-ins, per alarm window, that raise the alarm."
  type        = number
  default     = 5

  validation {
    condition     = var.failed_sign_in_threshold >= 1 && floor(var.failed_sign_in_threshold) == var.failed_sign_in_threshold
    error_message = "failed_sign_in_threshold must be a whole number of at least 1."
  }
}

variable "api_5xx_rate_threshold_percent" {
  description = "Share of API requests answered with a 5xx, in percent over the alarm window, that raises the alarm."
  type        = number
  default     = 5

  validation {
    condition     = var.api_5xx_rate_threshold_percent > 0 && var.api_5xx_rate_threshold_percent <= 100
    error_message = "api_5xx_rate_threshold_percent must be above 0 and at most 100."
  }
}

variable "lambda_errors_threshold" {
  description = "Failed invocations of the server function (crashes, timeouts), per alarm window, that raise the alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.lambda_errors_threshold >= 1 && floor(var.lambda_errors_threshold) == var.lambda_errors_threshold
    error_message = "lambda_errors_threshold must be a whole number of at least 1."
  }
}

variable "lambda_throttles_threshold" {
  description = "Throttled invocations of the server function (reserved concurrency exhausted), per alarm window, that raise the alarm."
  type        = number
  default     = 1

  validation {
    condition     = var.lambda_throttles_threshold >= 1 && floor(var.lambda_throttles_threshold) == var.lambda_throttles_threshold
    error_message = "lambda_throttles_threshold must be a whole number of at least 1."
  }
}
