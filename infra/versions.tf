# Terraform and provider versions this configuration is written for.
# Version 6 of the AWS provider is required for the attribute names used
# here (the region data source's `region`, `logging_config` on Lambda).

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
