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
  description = "VPC of the Redis security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the cache subnet group (two or more AZs for Multi-AZ)."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Client services allowed to reach Redis on 6379: name => security group id (e.g. streaming, orchestration, feature_server). Nothing else is allowed."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key for at-rest encryption, the secret and the slow-log group."
  type        = string
}

variable "tiers" {
  description = "Exactly the `hot` and `warm` tiers: node_type, data_tiering_enabled (requires cache.r6gd.*), num_node_groups (cluster mode), replicas_per_node_group, snapshot_retention_limit."
  type = map(object({
    node_type                = string
    data_tiering_enabled     = bool
    num_node_groups          = optional(number, 1)
    replicas_per_node_group  = optional(number, 0)
    snapshot_retention_limit = optional(number, 1)
  }))

  validation {
    condition     = length(setsubtract(toset(keys(var.tiers)), toset(["hot", "warm"]))) == 0 && length(var.tiers) == 2
    error_message = "tiers must define exactly \"hot\" and \"warm\"."
  }

  validation {
    condition     = alltrue([for t in values(var.tiers) : t.data_tiering_enabled == startswith(t.node_type, "cache.r6gd.")])
    error_message = "data_tiering_enabled must be true exactly for cache.r6gd.* node types (ElastiCache requires data tiering on r6gd and only supports it there)."
  }

  validation {
    condition     = alltrue([for t in values(var.tiers) : t.snapshot_retention_limit >= 1])
    error_message = "Keep at least one daily snapshot (snapshot_retention_limit >= 1)."
  }
}

variable "cluster_mode_enabled" {
  description = "Shard keys over num_node_groups (Redis Cluster). Clients then need cluster support (redis-py RedisCluster)."
  type        = bool
  default     = false
}

variable "engine_version" {
  description = "Redis OSS engine version (data tiering needs >= 6.2)."
  type        = string
  default     = "7.1"
}

variable "redis_username" {
  description = "RBAC user the kit connects as (online_store.tiers.<tier>.username)."
  type        = string
  default     = "featurekit"
}

variable "redis_access_string" {
  description = "Redis ACL rules of the kit's user: all keys, no dangerous commands (FLUSHALL, KEYS, CONFIG, ...)."
  type        = string
  default     = "on ~* &* +@all -@dangerous"
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 7
}

variable "log_retention_days" {
  description = "Retention of the slow-log log groups."
  type        = number
  default     = 365
}

variable "apply_immediately" {
  description = "Apply modifications immediately instead of in the maintenance window."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
