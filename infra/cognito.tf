# Sign-in. People sign in through Cognito's hosted UI with the
# authorization code flow and PKCE; the portal's client is public (no
# secret in the function's settings) and can do nothing else. Pipelines
# get access tokens from a separate machine client with the client
# credentials grant. Accounts are created by administrators only.

resource "aws_cognito_user_pool" "users" {
  name                     = "${var.name}-users"
  deletion_protection      = var.cognito_deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = var.mfa_configuration
  auto_verified_attributes = ["email"]

  username_configuration {
    case_sensitive = false
  }

  # A store of a company's models has no public sign-up.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = var.password_minimum_length
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  # Authenticator apps only: codes by SMS can be redirected.
  dynamic "software_token_mfa_configuration" {
    for_each = var.mfa_configuration == "OFF" ? [] : [true]

    content {
      enabled = true
    }
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  schema {
    name                = "email"
    attribute_data_type = "String"
    required            = true
    mutable             = true

    string_attribute_constraints {
      min_length = 3
      max_length = 254
    }
  }

  tags = {
    Purpose = "sign-in"
  }
}

# The groups Coffer maps to roles (COFFER_GROUP_ROLES); they arrive in the
# ID token's cognito:groups claim.
resource "aws_cognito_user_group" "roles" {
  for_each = {
    "data-scientists" = { precedence = 30, description = "Upload versions, browse, download, share, edit descriptions and move aliases." }
    "compliance"      = { precedence = 20, description = "Browse, download unless forbidden, and read the audit dashboard; change nothing." }
    "admins"          = { precedence = 10, description = "Everything, plus revoking any share link and setting retention and legal holds." }
  }

  name         = each.key
  user_pool_id = aws_cognito_user_pool.users.id
  precedence   = each.value.precedence
  description  = each.value.description
}

resource "aws_cognito_user_pool_domain" "portal" {
  domain       = local.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.users.id
}

# The portal: code flow with PKCE, no secret, nothing else. The callback
# and sign-out addresses are exactly the ones the server sends: it
# redirects back to <public url>/auth/callback and, on sign-out, passes
# <public url>/ as logout_uri to the hosted UI's /logout.
resource "aws_cognito_user_pool_client" "portal" {
  name                                 = "${var.name}-portal"
  user_pool_id                         = aws_cognito_user_pool.users.id
  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = ["${local.public_url}/auth/callback"]
  logout_urls                          = ["${local.public_url}/"]

  # No password ever reaches an API: the hosted UI is the only way in.
  explicit_auth_flows = ["ALLOW_REFRESH_TOKEN_AUTH"]

  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  id_token_validity             = var.token_validity_minutes
  access_token_validity         = var.token_validity_minutes
  refresh_token_validity        = var.refresh_token_validity_minutes

  token_validity_units {
    id_token      = "minutes"
    access_token  = "minutes"
    refresh_token = "minutes"
  }
}

# The API pipelines call, with one scope; the development provider uses
# the same scope name (coffer/api), so pipeline scripts work unchanged.
resource "aws_cognito_resource_server" "api" {
  identifier   = "coffer"
  name         = "${var.name}-api"
  user_pool_id = aws_cognito_user_pool.users.id

  scope {
    scope_name        = "api"
    scope_description = "Call the Coffer API as a pipeline"
  }
}

# Pipelines: client credentials only. Its secret lives in Terraform state
# and in Cognito, never in an output; read it with
# `aws cognito-idp describe-user-pool-client`.
resource "aws_cognito_user_pool_client" "pipeline" {
  name                                 = "${var.name}-pipeline"
  user_pool_id                         = aws_cognito_user_pool.users.id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = aws_cognito_resource_server.api.scope_identifiers
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  access_token_validity                = var.token_validity_minutes

  token_validity_units {
    access_token = "minutes"
  }
}
