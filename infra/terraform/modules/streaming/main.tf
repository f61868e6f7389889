# Streaming: Kafka (a new MSK cluster, or the bootstrap servers of an existing one), the Spark runtime
# for the Structured Streaming jobs (EMR Serverless, with the Kafka connector), and the checkpoint bucket.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name       = "${var.name_prefix}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  bucket_name         = "${local.name}-checkpoints"
  checkpoint_prefix   = "checkpoints"
  checkpoint_location = "s3://${local.bucket_name}/${local.checkpoint_prefix}"

  topics = concat(var.topics, [for t in var.topics : "${t}.dlq"])

  broker_count       = var.create_msk ? length(var.subnet_ids) * var.msk_brokers_per_az : 0
  replication_factor = min(3, max(local.broker_count, 1))
  min_insync         = max(local.replication_factor - 1, 1)

  # MSK listener: 9094 = TLS (clients use security.protocol=SSL), 9098 = TLS + IAM (SASL_SSL/OAUTHBEARER).
  kafka_port = var.msk_client_authentication == "iam" ? 9098 : 9094

  bootstrap_servers = var.create_msk ? (
    var.msk_client_authentication == "iam" ? aws_msk_cluster.this[0].bootstrap_brokers_sasl_iam : aws_msk_cluster.this[0].bootstrap_brokers_tls
  ) : var.existing_bootstrap_servers

  spark_submit_parameters = join(" ", concat(
    length(var.kafka_connector_packages) > 0 ? ["--conf spark.jars.packages=${join(",", var.kafka_connector_packages)}"] : [],
    ["--conf spark.sql.streaming.checkpointLocation=${local.checkpoint_location}"],
  ))
}

# --- checkpoint bucket -------------------------------------------------------------------------------------
module "bucket" {
  source = "../s3_bucket"

  bucket_name       = local.bucket_name
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = var.access_log_bucket
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { Component = "streaming" })

  lifecycle_rules = [
    {
      # EMR Serverless job-run logs (the checkpoints themselves are never expired).
      id              = "expire-job-logs"
      prefix          = "logs/"
      expiration_days = var.job_log_retention_days
    },
  ]
}

# --- Kafka (MSK) ---------------------------------------------------------------------------------------------
resource "aws_security_group" "msk" {
  count = var.create_msk ? 1 : 0

  name        = "${local.name}-msk"
  description = "featurekit ${var.environment} MSK brokers: Kafka TLS listener from Spark and listed clients only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${local.name}-msk" })
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_spark" {
  count = var.create_msk ? 1 : 0

  security_group_id            = aws_security_group.msk[0].id
  description                  = "Kafka from the EMR Serverless streaming jobs"
  ip_protocol                  = "tcp"
  from_port                    = local.kafka_port
  to_port                      = local.kafka_port
  referenced_security_group_id = aws_security_group.spark.id
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_clients" {
  for_each = var.create_msk ? var.kafka_client_security_group_ids : {}

  security_group_id            = aws_security_group.msk[0].id
  description                  = "Kafka from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.kafka_port
  to_port                      = local.kafka_port
  referenced_security_group_id = each.value
}

resource "aws_msk_configuration" "this" {
  count = var.create_msk ? 1 : 0

  name           = "${local.name}-kafka"
  kafka_versions = [var.msk_kafka_version]
  description    = "featurekit ${var.environment}: topics are created explicitly, replicated, no unclean elections"

  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=${local.replication_factor}
    min.insync.replicas=${local.min_insync}
    num.partitions=${var.default_partitions}
    unclean.leader.election.enable=false
    log.retention.hours=${var.kafka_retention_hours}
  PROPERTIES
}

resource "aws_cloudwatch_log_group" "msk" {
  count = var.create_msk ? 1 : 0

  name              = "/aws/msk/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_msk_cluster" "this" {
  count = var.create_msk ? 1 : 0

  cluster_name           = "${local.name}-kafka"
  kafka_version          = var.msk_kafka_version
  number_of_broker_nodes = local.broker_count
  enhanced_monitoring    = var.msk_enhanced_monitoring

  broker_node_group_info {
    instance_type   = var.msk_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.msk[0].id]

    storage_info {
      ebs_storage_info {
        volume_size = var.msk_ebs_volume_gb
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this[0].arn
    revision = aws_msk_configuration.this[0].latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = var.msk_client_authentication == "tls"

    sasl {
      iam = var.msk_client_authentication == "iam"
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.msk[0].name
      }
    }
  }

  tags = var.tags
}

# --- Spark runtime (EMR Serverless) -----------------------------------------------------------------------------
resource "aws_security_group" "spark" {
  #checkov:skip=CKV2_AWS_5:Attached to the EMR Serverless application through network_configuration, which this check does not recognise.
  name        = "${local.name}-spark"
  description = "featurekit ${var.environment} EMR Serverless streaming jobs"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${local.name}-spark" })
}

resource "aws_vpc_security_group_egress_rule" "spark_kafka" {
  security_group_id = aws_security_group.spark.id
  description       = "Kafka brokers"
  ip_protocol       = "tcp"
  from_port         = local.kafka_port
  to_port           = local.kafka_port
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "spark_redis" {
  security_group_id = aws_security_group.spark.id
  description       = "Online store (Redis TLS)"
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "spark_https" {
  security_group_id = aws_security_group.spark.id
  description       = "HTTPS to AWS APIs (S3, Secrets Manager, KMS, CloudWatch) and the connector repository"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_emrserverless_application" "spark" {
  name          = "${local.name}-streaming"
  release_label = var.emr_release_label
  type          = "spark"
  architecture  = var.emr_architecture

  maximum_capacity {
    cpu    = var.emr_max_cpu
    memory = var.emr_max_memory
  }

  auto_start_configuration {
    enabled = true
  }

  # Streaming jobs keep the application busy; the timeout only stops an idle application.
  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = 15
  }

  network_configuration {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.spark.id]
  }

  dynamic "image_configuration" {
    for_each = var.emr_image_uri == null ? [] : [var.emr_image_uri]
    content {
      image_uri = image_configuration.value
    }
  }

  tags = var.tags
}

# Job execution role: what the streaming jobs themselves may do.
data "aws_iam_policy_document" "job_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:emr-serverless:${local.region}:${local.account_id}:/applications/*"]
    }
  }
}

resource "aws_iam_role" "job" {
  name               = "${local.name}-streaming-job"
  description        = "featurekit ${var.environment} Spark streaming jobs on EMR Serverless"
  assume_role_policy = data.aws_iam_policy_document.job_trust.json

  tags = var.tags
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ListStreamingBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [module.bucket.bucket_arn]
  }

  statement {
    sid     = "ReadWriteCheckpointsAndLogs"
    effect  = "Allow"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      "${module.bucket.bucket_arn}/${local.checkpoint_prefix}/*",
      "${module.bucket.bucket_arn}/logs/*",
    ]
  }

  statement {
    sid       = "ReadJobArtifacts"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket.bucket_arn}/artifacts/*"]
  }

  statement {
    sid       = "ListOfflineBucket"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.offline_bucket_arn]
  }

  # The stream feature views also land in the offline store (their batch source).
  statement {
    sid       = "WriteStreamFeatureViewsOffline"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for fv in var.stream_feature_views : "${var.offline_bucket_arn}/offline/${fv}/*"]
  }

  statement {
    sid       = "UseEnvironmentKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "ReadRedisCredentials"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.redis_secret_arn]
  }

  dynamic "statement" {
    for_each = var.create_msk && var.msk_client_authentication == "iam" ? [1] : []
    content {
      sid       = "KafkaConnect"
      effect    = "Allow"
      actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
      resources = [aws_msk_cluster.this[0].arn]
    }
  }

  dynamic "statement" {
    for_each = var.create_msk && var.msk_client_authentication == "iam" ? [1] : []
    content {
      sid     = "KafkaTopics"
      effect  = "Allow"
      actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData"]
      resources = [
        for t in local.topics :
        "arn:${local.partition}:kafka:${local.region}:${local.account_id}:topic/${aws_msk_cluster.this[0].cluster_name}/${aws_msk_cluster.this[0].cluster_uuid}/${t}"
      ]
    }
  }

  dynamic "statement" {
    for_each = var.create_msk && var.msk_client_authentication == "iam" ? [1] : []
    content {
      sid     = "KafkaConsumerGroups"
      effect  = "Allow"
      actions = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
      resources = [
        "arn:${local.partition}:kafka:${local.region}:${local.account_id}:group/${aws_msk_cluster.this[0].cluster_name}/${aws_msk_cluster.this[0].cluster_uuid}/${var.name_prefix}-*"
      ]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "streaming-job"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}
