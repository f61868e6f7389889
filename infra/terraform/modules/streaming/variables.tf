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
  description = "VPC of the brokers and the Spark jobs."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC: the Spark jobs may open Kafka and Redis connections inside it only."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (one per AZ) for the brokers and the EMR Serverless application."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for the checkpoint bucket, MSK at rest and log groups."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving S3 server access logs."
  type        = string
}

variable "offline_bucket_arn" {
  description = "Offline-store bucket: the stream feature views write their offline copy under offline/<feature_view>/."
  type        = string
}

variable "stream_feature_views" {
  description = "Stream feature views whose offline sink the jobs write."
  type        = list(string)
}

variable "redis_secret_arn" {
  description = "Secrets Manager secret with the Redis credentials (online_store module)."
  type        = string
}

variable "topics" {
  description = "Source topics; each also gets \"<topic>.dlq\". Created by the kit (auto-create is off)."
  type        = list(string)
  default     = ["balance-events", "transactions"]
}

variable "create_msk" {
  description = "Create an MSK cluster. false: use existing_bootstrap_servers (and open its security group to this module's Spark security group yourself)."
  type        = bool
  default     = true
}

variable "existing_bootstrap_servers" {
  description = "Bootstrap servers of an existing Kafka cluster (used when create_msk = false)."
  type        = string
  default     = ""

  validation {
    condition     = var.existing_bootstrap_servers == "" || can(regex("^[^,\\s]+:[0-9]+(,[^,\\s]+:[0-9]+)*$", var.existing_bootstrap_servers))
    error_message = "existing_bootstrap_servers must be host:port[,host:port...]."
  }
}

variable "msk_client_authentication" {
  description = "\"tls\": encrypted, unauthenticated clients restricted by security group (clients use security.protocol=SSL, port 9094). \"iam\": TLS + IAM auth (SASL_SSL/OAUTHBEARER, port 9098) with per-topic IAM permissions."
  type        = string
  default     = "tls"

  validation {
    condition     = contains(["tls", "iam"], var.msk_client_authentication)
    error_message = "msk_client_authentication must be \"tls\" or \"iam\"."
  }
}

variable "kafka_client_security_group_ids" {
  description = "Other services allowed to reach the brokers (name => security group id), e.g. producers."
  type        = map(string)
  default     = {}
}

variable "msk_kafka_version" {
  description = "Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "msk_instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.t3.small"
}

variable "msk_brokers_per_az" {
  description = "Brokers per subnet/AZ."
  type        = number
  default     = 1
}

variable "msk_ebs_volume_gb" {
  description = "EBS storage per broker (GiB)."
  type        = number
  default     = 20
}

variable "msk_enhanced_monitoring" {
  description = "MSK enhanced monitoring level."
  type        = string
  default     = "DEFAULT"
}

variable "default_partitions" {
  description = "Default partition count for topics created without one."
  type        = number
  default     = 6
}

variable "kafka_retention_hours" {
  description = "Topic retention (hours); bounds how far back a stream job can be replayed from Kafka."
  type        = number
  default     = 168
}

variable "emr_release_label" {
  description = "EMR Serverless release (Spark version). emr-spark-8.0.0 ships Spark 4.0.2 (Scala 2.13); tests/infra/test_runtime_versions.py compares it with uv.lock."
  type        = string
  default     = "emr-spark-8.0.0"
}

variable "emr_architecture" {
  description = "X86_64 or ARM64 (Graviton, ~20% cheaper)."
  type        = string
  default     = "ARM64"
}

variable "emr_image_uri" {
  description = "Optional custom EMR Serverless image (e.g. with the Kafka connector and the kit baked in)."
  type        = string
  default     = null
}

variable "emr_max_cpu" {
  description = "Maximum vCPU the application may use, e.g. \"8 vCPU\"."
  type        = string
  default     = "8 vCPU"
}

variable "emr_max_memory" {
  description = "Maximum memory the application may use, e.g. \"32 GB\"."
  type        = string
  default     = "32 GB"
}

variable "kafka_connector_packages" {
  description = "Maven coordinates passed as spark.jars.packages (Kafka source/sink for Structured Streaming); must match the EMR Spark/Scala version. Empty when the connector is in emr_image_uri."
  type        = list(string)
  default     = ["org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.2"]
}

variable "job_log_retention_days" {
  description = "Days EMR Serverless job logs under logs/ are kept."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Retention of the MSK broker log group."
  type        = number
  default     = 365
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
