terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80.0, < 6.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
  }
}

# Credentials come from the environment (GitHub OIDC role, SSO profile, instance role); never from code.
provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
