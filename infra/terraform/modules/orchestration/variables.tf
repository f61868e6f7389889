variable "name_prefix" {
  description = "Prefix of every resource name, e.g. \"featurekit\"."
  type        = string
}

variable "environment" {
  description = "Environment name (dev or prod); exported to the DAGs as FEATUREKIT_ENV."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "vpc_id" {
  description = "VPC of the MWAA environment."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR (egress to Redis inside it)."
  type        = string
}

variable "subnet_ids" {
  description = "Exactly two private subnets in different AZs (MWAA requirement)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 2
    error_message = "MWAA needs exactly two private subnets."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the DAG bucket and the MWAA environment."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving S3 server access logs."
  type        = string
}

variable "requirements_file" {
  description = "Local path of requirements.txt with the DAGs' Python dependencies pinned from uv.lock."
  type        = string
}

variable "airflow_version" {
  description = "MWAA Apache Airflow version, pinned: 3.0.6 is the newest 3.x MWAA offers (tests/infra/test_runtime_versions.py)."
  type        = string
  default     = "3.0.6"
}

variable "task_python_version" {
  description = "Python of the kit's task environment on MWAA: the locked one (pyproject requires-python), not MWAA's own (tests/infra/test_runtime_versions.py)."
  type        = string
  default     = "3.11"
}

variable "environment_class" {
  description = "MWAA environment class (mw1.micro, mw1.small, mw1.medium, ...)."
  type        = string
  default     = "mw1.small"
}

variable "min_workers" {
  description = "Minimum Celery workers."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "Maximum Celery workers (autoscaling)."
  type        = number
  default     = 2
}

variable "schedulers" {
  description = "Number of schedulers (1 only on mw1.micro; 2+ for high availability)."
  type        = number
  default     = 2
}

variable "registry_bucket_arn" {
  description = "Registry bucket ARN."
  type        = string
}

variable "registry_object_arn" {
  description = "ARN of registry.pb (materialization records its intervals there)."
  type        = string
}

variable "offline_bucket_arn" {
  description = "Offline-store bucket ARN (offline/ and athena-results/ prefixes)."
  type        = string
}

variable "athena_workgroup_arn" {
  description = "Athena workgroup the DAGs query through."
  type        = string
}

variable "glue_database_name" {
  description = "Glue database of the offline store."
  type        = string
}

variable "redis_secret_arn" {
  description = "Secret with the Redis credentials."
  type        = string
}

variable "emr_application_arn" {
  description = "EMR Serverless application of the streaming jobs (the DAGs start and watch them)."
  type        = string
}

variable "emr_job_role_arn" {
  description = "Execution role passed to the streaming jobs."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying a non-empty DAG bucket (throwaway environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
