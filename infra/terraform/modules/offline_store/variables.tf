variable "name_prefix" {
  description = "Prefix of every resource name, e.g. \"featurekit\"."
  type        = string
}

variable "environment" {
  description = "Environment name (dev or prod)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS of the bucket and of Athena results."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving S3 server access logs."
  type        = string
}

variable "feature_views" {
  description = "Feature views with offline data: name => { description, columns [{name, type (Athena type)}], partition_granularity (daily|hourly) }."
  type = map(object({
    description           = string
    partition_granularity = optional(string, "daily")
    columns = list(object({
      name = string
      type = string
    }))
  }))

  validation {
    condition     = alltrue([for fv in values(var.feature_views) : contains(["daily", "hourly"], fv.partition_granularity)])
    error_message = "partition_granularity must be \"daily\" or \"hourly\"."
  }
}

variable "partition_projection_start" {
  description = "First day (yyyy-MM-dd) Athena's partition projection considers; hourly tables start at its hour 00."
  type        = string
  default     = "2024-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.partition_projection_start))
    error_message = "partition_projection_start must be a day, yyyy-MM-dd."
  }
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels any query of this workgroup that scans more than this many bytes (minimum 10 MB)."
  type        = number

  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "Athena's minimum bytes_scanned_cutoff_per_query is 10485760 (10 MB)."
  }
}

variable "offline_intelligent_tiering_after_days" {
  description = "Days after which offline parquet moves to S3 Intelligent-Tiering."
  type        = number
  default     = 30
}

variable "offline_retention_days" {
  description = "Days after which offline parquet is deleted; null keeps it forever."
  type        = number
  default     = null
}

variable "athena_results_retention_days" {
  description = "Days Athena query results are kept."
  type        = number
  default     = 7
}

variable "force_destroy" {
  description = "Allow destroying a non-empty bucket/workgroup (throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
