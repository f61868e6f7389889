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

variable "vpc_id" {
  description = "VPC of the service."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (egress to Redis is limited to it)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks and the internal load balancer (two or more AZs)."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Applications allowed to call the load balancer on 443: name => security group id."
  type        = map(string)
  default     = {}
}

variable "certificate_arn" {
  description = "ACM certificate of the internal load balancer's HTTPS listener (e.g. from a private CA)."
  type        = string
}

variable "kms_key_arn" {
  description = "Environment key (logs, image repository, secret and registry decryption)."
  type        = string
}

variable "redis_secret_arn" {
  description = "Secrets Manager secret of the Redis ACL user (its `password` key becomes FEATUREKIT_REDIS_PASSWORD)."
  type        = string
}

variable "registry_object_arn" {
  description = "ARN of the registry object the server reads."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket for the load balancer's access logs."
  type        = string
}

variable "initial_image_tag" {
  description = "Image tag of the first task definition (later revisions come from `featurekit deploy`)."
  type        = string
  default     = "bootstrap"
}

variable "cpu" {
  description = "Task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 2048
}

variable "workers" {
  description = "`featurekit serve --workers` per task."
  type        = number
  default     = 2
}

variable "min_count" {
  description = "Minimum (and initial) number of tasks."
  type        = number
  default     = 2
}

variable "max_count" {
  description = "Maximum number of tasks autoscaling may run."
  type        = number
  default     = 6
}

variable "target_cpu_percent" {
  description = "Average CPU utilisation the service is scaled to."
  type        = number
  default     = 60
}

variable "log_retention_days" {
  description = "Retention of the container logs."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion (false in dev)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
