# One AWS provider for the whole deployment. Every resource carries the
# deployment's tags, so cost reports and the compliance console can select
# everything that belongs to one Coffer.

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Application = "coffer"
      Deployment  = var.name
    })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
