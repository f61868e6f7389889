variable "name_prefix" {
  description = "Prefix of every resource name, e.g. \"featurekit\"."
  type        = string
}

variable "environment" {
  description = "dev: role for pull requests of the repository. prod: role for the `prod` GitHub environment on main."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the role, \"owner/name\" (e.g. \"acme/feature-platform\"). No wildcards."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be exactly \"owner/name\" (letters, digits, '.', '_', '-'); wildcards are not allowed."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false if it already exists, e.g. dev and prod in one account)."
  type        = bool
  default     = true
}

variable "existing_oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com provider (when create_oidc_provider = false)."
  type        = string
  default     = null
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary for the CI role."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Environment KMS key (SSE-KMS objects, Athena results)."
  type        = string
}

variable "registry_bucket_arn" {
  description = "Registry bucket ARN."
  type        = string
}

variable "registry_object_arn" {
  description = "ARN of registry.pb."
  type        = string
}

variable "offline_bucket_arn" {
  description = "Offline-store bucket ARN."
  type        = string
}

variable "athena_workgroup_arn" {
  description = "Athena workgroup CI may query through."
  type        = string
}

variable "glue_database_name" {
  description = "Glue database of the offline store."
  type        = string
}

variable "dag_bucket_arn" {
  description = "MWAA DAG bucket ARN: CI may write s3://<bucket>/dags/ (null: no DAG deployment)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "mwaa_environment_arn" {
  description = "prod: MWAA environment the deploy updates (null in dev)."
  type        = string
  default     = null
}

variable "streaming_bucket_arn" {
  description = "prod: bucket whose artifacts/ prefix holds the streaming jobs' packed environments (null in dev)."
  type        = string
  default     = null
}

variable "emr_application_arn" {
  description = "prod: EMR Serverless application of the streaming jobs (null in dev)."
  type        = string
  default     = null
}

variable "emr_job_role_arn" {
  description = "prod: execution role the deploy passes to streaming job runs (null in dev)."
  type        = string
  default     = null
}

variable "ecs_service_arn" {
  description = "prod: feature server ECS service (null in dev)."
  type        = string
  default     = null
}

variable "ecs_task_role_arns" {
  description = "prod: task and execution roles of the feature server, passed with new task definitions."
  type        = list(string)
  default     = []
}
