variable "environment" {
  description = "Environment this state is for (dev.tfvars / prod.tfvars set it); names every resource and selects the CI role trusts."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name; bucket names become <name_prefix>-<env>-<purpose> and must be globally unique."
  type        = string
  default     = "featurekit"
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the CI role, e.g. \"acme/feature-platform\"."
  type        = string
}

variable "vpc_id" {
  description = "Existing VPC the environment runs in."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of that VPC (Spark and Airflow egress to Kafka/Redis is limited to it)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per AZ (at least two; MWAA uses the first two). Need a NAT or VPC endpoints for AWS APIs."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "At least two private subnets in different AZs are required."
  }
}

variable "feature_server_security_group_ids" {
  description = "Serving applications allowed to read Redis: name => security group id."
  type        = map(string)
  default     = {}
}

variable "kafka_producer_security_group_ids" {
  description = "Producers allowed to reach the MSK brokers: name => security group id."
  type        = map(string)
  default     = {}
}

variable "existing_kafka_bootstrap_servers" {
  description = "Use an existing Kafka cluster (host:port,...) instead of creating MSK; empty creates MSK."
  type        = string
  default     = ""
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false if the account already has one)."
  type        = bool
  default     = true
}

variable "existing_oidc_provider_arn" {
  description = "Existing GitHub OIDC provider ARN when create_oidc_provider = false."
  type        = string
  default     = null
}

variable "feature_server_certificate_arn" {
  description = "ACM certificate (e.g. private CA) of the feature server's internal HTTPS load balancer."
  type        = string
}

variable "feature_server_client_security_group_ids" {
  description = "Applications allowed to call the feature server: name => security group id."
  type        = map(string)
  default     = {}
}

# --- per-environment sizes and retention: dev.tfvars / prod.tfvars ---------------------------------------------
variable "force_destroy" {
  description = "Let Terraform delete non-empty buckets (dev only)."
  type        = bool
}

variable "kms_deletion_window_days" {
  description = "KMS key deletion window."
  type        = number
}

variable "access_log_retention_days" {
  description = "Access-log retention."
  type        = number
}

variable "registry_version_retention_days" {
  description = "How long old registry versions are kept (the rollback window)."
  type        = number
}

variable "athena_bytes_scanned_cutoff_per_query" {
  description = "Athena workgroup bytes-scanned cutoff per query."
  type        = number
}

variable "offline_retention_days" {
  description = "Days after which offline parquet is deleted; null keeps it (Intelligent-Tiering)."
  type        = number
  default     = null
}

variable "redis_hot_node_type" {
  description = "Hot tier node type (in-memory). See docs/infrastructure.md for sizing from bytes per entity."
  type        = string
}

variable "redis_warm_node_type" {
  description = "Warm tier node type; must be cache.r6gd.* when the warm tier is data-tiered."
  type        = string

  validation {
    condition     = !var.redis_warm_data_tiering || startswith(var.redis_warm_node_type, "cache.r6gd.")
    error_message = "A data-tiered warm tier needs a cache.r6gd.* node type."
  }
}

variable "redis_warm_data_tiering" {
  description = "Data tiering (memory + NVMe SSD) on the warm tier (prod)."
  type        = bool
}

variable "redis_replicas_per_tier" {
  description = "Replicas per shard of each tier (Multi-AZ failover needs at least one)."
  type        = number
}

variable "redis_snapshot_retention_days" {
  description = "Daily snapshots kept per tier (0: none)."
  type        = number
}

variable "redis_apply_immediately" {
  description = "Apply Redis changes immediately instead of in the maintenance window (dev)."
  type        = bool
  default     = false
}

variable "redis_cluster_mode_enabled" {
  description = "Shard both tiers with Redis Cluster mode (needed beyond one node's capacity)."
  type        = bool
  default     = false
}

variable "redis_hot_shards" {
  description = "Hot tier shards (cluster mode only)."
  type        = number
  default     = 1
}

variable "redis_warm_shards" {
  description = "Warm tier shards (cluster mode only)."
  type        = number
  default     = 1
}

variable "msk_instance_type" {
  description = "MSK broker instance type."
  type        = string
}

variable "msk_broker_subnets" {
  description = "How many of private_subnet_ids get a broker (and the Spark jobs)."
  type        = number
}

variable "msk_ebs_volume_gb" {
  description = "MSK broker storage."
  type        = number
}

variable "msk_enhanced_monitoring" {
  description = "MSK enhanced monitoring level."
  type        = string
}

variable "kafka_retention_hours" {
  description = "Topic retention (hours)."
  type        = number
}

variable "emr_max_cpu" {
  description = "EMR Serverless application maximum CPU."
  type        = string
}

variable "emr_max_memory" {
  description = "EMR Serverless application maximum memory."
  type        = string
}

variable "mwaa_environment_class" {
  description = "MWAA environment class."
  type        = string
}

variable "mwaa_max_workers" {
  description = "MWAA maximum workers."
  type        = number
}

variable "mwaa_schedulers" {
  description = "MWAA schedulers."
  type        = number
}

variable "feature_server_deletion_protection" {
  description = "Protect the feature server's load balancer from deletion."
  type        = bool
}

variable "feature_server_min_count" {
  description = "Minimum feature server tasks."
  type        = number
}

variable "feature_server_max_count" {
  description = "Maximum feature server tasks."
  type        = number
}
