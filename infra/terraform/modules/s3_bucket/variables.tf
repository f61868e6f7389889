variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key used for SSE-KMS default encryption (S3 Bucket Keys are enabled to keep KMS request costs low)."
  type        = string
}

variable "access_log_bucket" {
  description = "Name of the bucket that receives S3 server access logs (from the foundation module)."
  type        = string
}

variable "lifecycle_rules" {
  description = "Prefix-scoped lifecycle rules. expiration_days deletes current objects; intelligent_tiering_after_days moves them to S3 Intelligent-Tiering."
  type = list(object({
    id                             = string
    prefix                         = string
    expiration_days                = optional(number)
    intelligent_tiering_after_days = optional(number)
  }))
  default = []
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted."
  type        = number
  default     = 30
}

variable "additional_policy_documents" {
  description = "Extra bucket-policy JSON documents merged with the TLS-only statements (e.g. service principals)."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a non-empty bucket. Keep false outside throwaway environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to the bucket."
  type        = map(string)
  default     = {}
}
