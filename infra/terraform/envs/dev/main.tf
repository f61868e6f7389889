# featurekit dev: the same modules as prod at the smallest sizes: single-node Redis tiers on burstable
# in-memory nodes, a two-broker t3 MSK cluster, mw1.micro Airflow, low Athena scan cutoff.

locals {
  environment = "dev"

  tags = {
    Project     = "featurekit"
    Environment = local.environment
    ManagedBy   = "terraform"
    Repository  = var.github_repository
  }

  # One offline table per feature view of feature_repo/ (shared with prod).
  catalog = jsondecode(file("${path.module}/../../shared/feature_views.json")).feature_views
  feature_views = {
    for name, fv in local.catalog : name => {
      description           = fv.description
      partition_granularity = fv.partition_granularity
      columns               = fv.columns
    }
  }
  stream_feature_views = sort([for name, fv in local.catalog : name if fv.source == "stream"])
}

module "foundation" {
  source = "../../modules/foundation"

  name_prefix               = var.name_prefix
  environment               = local.environment
  kms_deletion_window_days  = 7
  access_log_retention_days = 90
  force_destroy             = true
  tags                      = local.tags
}

module "registry" {
  source = "../../modules/registry"

  name_prefix                     = var.name_prefix
  environment                     = local.environment
  kms_key_arn                     = module.foundation.kms_key_arn
  access_log_bucket               = module.foundation.access_log_bucket
  registry_version_retention_days = 30
  force_destroy                   = true
  tags                            = local.tags
}

module "offline_store" {
  source = "../../modules/offline_store"

  name_prefix                    = var.name_prefix
  environment                    = local.environment
  kms_key_arn                    = module.foundation.kms_key_arn
  access_log_bucket              = module.foundation.access_log_bucket
  feature_views                  = local.feature_views
  bytes_scanned_cutoff_per_query = 10737418240 # 10 GiB: dev data is a sample
  offline_retention_days         = 90
  force_destroy                  = true
  tags                           = local.tags
}

module "online_store" {
  source = "../../modules/online_store"

  name_prefix = var.name_prefix
  environment = local.environment
  vpc_id      = var.vpc_id
  subnet_ids  = var.private_subnet_ids
  kms_key_arn = module.foundation.kms_key_arn

  # Only these services may open a connection to Redis.
  allowed_security_group_ids = merge(
    {
      streaming      = module.streaming.spark_security_group_id
      orchestration  = module.orchestration.security_group_id
      feature_server = module.feature_server.security_group_id
    },
    var.feature_server_security_group_ids,
  )

  # Both tiers in memory on one small burstable node each; no replicas.
  tiers = {
    hot = {
      node_type            = "cache.t4g.small"
      data_tiering_enabled = false
    }
    warm = {
      node_type            = "cache.t4g.small"
      data_tiering_enabled = false
    }
  }

  apply_immediately = true
  tags              = local.tags
}

module "streaming" {
  source = "../../modules/streaming"

  name_prefix          = var.name_prefix
  environment          = local.environment
  vpc_id               = var.vpc_id
  vpc_cidr             = var.vpc_cidr
  subnet_ids           = slice(var.private_subnet_ids, 0, 2)
  kms_key_arn          = module.foundation.kms_key_arn
  access_log_bucket    = module.foundation.access_log_bucket
  offline_bucket_arn   = module.offline_store.bucket_arn
  stream_feature_views = local.stream_feature_views
  redis_secret_arn     = module.online_store.secret_arn

  create_msk                      = var.existing_kafka_bootstrap_servers == ""
  existing_bootstrap_servers      = var.existing_kafka_bootstrap_servers
  kafka_client_security_group_ids = var.kafka_producer_security_group_ids
  msk_instance_type               = "kafka.t3.small"
  msk_brokers_per_az              = 1
  msk_ebs_volume_gb               = 20
  kafka_retention_hours           = 72

  emr_max_cpu    = "4 vCPU"
  emr_max_memory = "16 GB"

  force_destroy = true
  tags          = local.tags
}

module "orchestration" {
  source = "../../modules/orchestration"

  name_prefix       = var.name_prefix
  environment       = local.environment
  vpc_id            = var.vpc_id
  vpc_cidr          = var.vpc_cidr
  subnet_ids        = slice(var.private_subnet_ids, 0, 2)
  kms_key_arn       = module.foundation.kms_key_arn
  access_log_bucket = module.foundation.access_log_bucket
  requirements_file = "${path.module}/../../shared/mwaa-requirements.txt"

  environment_class = "mw1.micro"
  min_workers       = 1
  max_workers       = 1
  schedulers        = 1

  registry_bucket_arn  = module.registry.bucket_arn
  registry_object_arn  = module.registry.registry_object_arn
  offline_bucket_arn   = module.offline_store.bucket_arn
  athena_workgroup_arn = module.offline_store.workgroup_arn
  glue_database_name   = module.offline_store.database_name
  redis_secret_arn     = module.online_store.secret_arn
  emr_application_arn  = module.streaming.emr_application_arn
  emr_job_role_arn     = module.streaming.job_role_arn

  force_destroy = true
  tags          = local.tags
}

module "ci_access" {
  source = "../../modules/ci_access"

  name_prefix                = var.name_prefix
  environment                = local.environment
  github_repository          = var.github_repository
  create_oidc_provider       = var.create_oidc_provider
  existing_oidc_provider_arn = var.existing_oidc_provider_arn

  kms_key_arn          = module.foundation.kms_key_arn
  registry_bucket_arn  = module.registry.bucket_arn
  registry_object_arn  = module.registry.registry_object_arn
  offline_bucket_arn   = module.offline_store.bucket_arn
  athena_workgroup_arn = module.offline_store.workgroup_arn
  glue_database_name   = module.offline_store.database_name
  dag_bucket_arn       = module.orchestration.dag_bucket_arn

  tags = local.tags
}

module "feature_server" {
  source = "../../modules/feature_server"

  name_prefix               = var.name_prefix
  environment               = local.environment
  vpc_id                    = var.vpc_id
  vpc_cidr                  = var.vpc_cidr
  subnet_ids                = var.private_subnet_ids
  client_security_group_ids = var.feature_server_client_security_group_ids
  certificate_arn           = var.feature_server_certificate_arn
  kms_key_arn               = module.foundation.kms_key_arn
  redis_secret_arn          = module.online_store.secret_arn
  registry_object_arn       = module.registry.registry_object_arn
  access_log_bucket         = module.foundation.access_log_bucket

  deletion_protection = false
  min_count           = 1
  max_count           = 2

  tags = local.tags
}
