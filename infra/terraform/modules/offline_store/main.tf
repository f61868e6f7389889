# Offline store: parquet in S3 (s3://<bucket>/offline/<feature_view>/ds=<partition>/part-*.parquet),
# a Glue database with one partition-projected table per feature view, and an Athena workgroup that
# enforces its result location, encryption and a per-query bytes-scanned cutoff.

locals {
  bucket_name       = "${var.name_prefix}-${var.environment}-offline"
  database_name     = replace("${var.name_prefix}_${var.environment}", "-", "_")
  workgroup_name    = "${var.name_prefix}-${var.environment}"
  offline_prefix    = "offline"
  results_prefix    = "athena-results"
  s3_root           = "s3://${local.bucket_name}/${local.offline_prefix}"
  results_location  = "s3://${local.bucket_name}/${local.results_prefix}/"
  projection_format = { daily = "yyyy-MM-dd", hourly = "yyyy-MM-dd'T'HH" } # = the kit's %Y-%m-%d and %Y-%m-%dT%H
  projection_unit   = { daily = "DAYS", hourly = "HOURS" }
  projection_start  = { daily = var.partition_projection_start, hourly = "${var.partition_projection_start}T00" }
}

module "bucket" {
  source = "../s3_bucket"

  bucket_name       = local.bucket_name
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = var.access_log_bucket
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { Component = "offline-store" })

  lifecycle_rules = [
    {
      # Historical feature data is read rarely after the first weeks (training back-fills):
      # Intelligent-Tiering moves cold partitions to cheaper tiers without retrieval fees.
      id                             = "offline-intelligent-tiering"
      prefix                         = "${local.offline_prefix}/"
      intelligent_tiering_after_days = var.offline_intelligent_tiering_after_days
      expiration_days                = var.offline_retention_days
    },
    {
      # Athena query results are scratch data.
      id              = "expire-athena-results"
      prefix          = "${local.results_prefix}/"
      expiration_days = var.athena_results_retention_days
    },
  ]
}

resource "aws_glue_catalog_database" "this" {
  name         = local.database_name
  description  = "featurekit ${var.environment} offline store (one table per feature view)"
  location_uri = "${local.s3_root}/"

  tags = var.tags
}

resource "aws_glue_catalog_table" "feature_view" {
  for_each = var.feature_views

  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                        = "TRUE"
    classification                  = "parquet"
    "parquet.compression"           = "SNAPPY"
    "projection.enabled"            = "true"
    "projection.ds.type"            = "date"
    "projection.ds.format"          = local.projection_format[each.value.partition_granularity]
    "projection.ds.range"           = "${local.projection_start[each.value.partition_granularity]},NOW"
    "projection.ds.interval"        = "1"
    "projection.ds.interval.unit"   = local.projection_unit[each.value.partition_granularity]
    "storage.location.template"     = "${local.s3_root}/${each.key}/ds=$${ds}/"
    "featurekit.feature_view"       = each.key
    "featurekit.partition_template" = "${local.s3_root}/${each.key}/ds=<partition>/part-*.parquet"
  }

  partition_keys {
    name    = "ds"
    type    = "string"
    comment = "Partition: ${each.value.partition_granularity} (${local.projection_format[each.value.partition_granularity]})"
  }

  storage_descriptor {
    location      = "${local.s3_root}/${each.key}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_athena_workgroup" "this" {
  name          = local.workgroup_name
  description   = "featurekit ${var.environment}: Feast offline-store queries"
  state         = "ENABLED"
  force_destroy = var.force_destroy

  configuration {
    # Clients cannot override the result location or encryption below.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query
    requester_pays_enabled             = false

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = local.results_location

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}
