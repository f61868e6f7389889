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

variable "redis_hot_node_type" {
  description = "Hot tier node type (in-memory). See docs/infrastructure.md for sizing from bytes per entity."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_warm_node_type" {
  description = "Warm tier node type; must be cache.r6gd.* (data tiering)."
  type        = string
  default     = "cache.r6gd.xlarge"

  validation {
    condition     = startswith(var.redis_warm_node_type, "cache.r6gd.")
    error_message = "The prod warm tier uses data tiering, which needs a cache.r6gd.* node type."
  }
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

variable "feature_server_certificate_arn" {
  description = "ACM certificate (e.g. private CA) of the feature server's internal HTTPS load balancer."
  type        = string
}

variable "feature_server_client_security_group_ids" {
  description = "Applications allowed to call the feature server: name => security group id."
  type        = map(string)
  default     = {}
}
