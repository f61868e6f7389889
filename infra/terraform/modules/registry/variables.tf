variable "name_prefix" {
  description = "Prefix of every resource name, e.g. \"featurekit\"."
  type        = string
}

variable "environment" {
  description = "Environment name (dev or prod); the bucket is \"<name_prefix>-<environment>-registry\"."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving S3 server access logs."
  type        = string
}

variable "registry_version_retention_days" {
  description = "How long previous registry versions are kept (rollback window)."
  type        = number
  default     = 90
}

variable "force_destroy" {
  description = "Allow destroying a non-empty bucket (throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
