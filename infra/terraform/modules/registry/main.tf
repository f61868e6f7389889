# Feast registry: one S3 bucket per environment holding `registry.pb`.
# Versioning keeps every previous registry so a bad `feast apply` can be rolled back by restoring
# the previous object version.

locals {
  bucket_name   = "${var.name_prefix}-${var.environment}-registry"
  registry_key  = "registry.pb"
  registry_path = "s3://${local.bucket_name}/${local.registry_key}"
}

module "bucket" {
  source = "../s3_bucket"

  bucket_name                        = local.bucket_name
  kms_key_arn                        = var.kms_key_arn
  access_log_bucket                  = var.access_log_bucket
  noncurrent_version_expiration_days = var.registry_version_retention_days
  force_destroy                      = var.force_destroy
  tags                               = merge(var.tags, { Component = "feast-registry" })
}
