# featurekit: ONE root for every environment. dev.tfvars and prod.tfvars choose the environment and its sizes;
# the resources are the same code, so the environments cannot drift apart:
#   terraform init -reconfigure -backend-config=backend.hcl      # backend-<env>.hcl.example filled in
#   terraform apply -var-file=<env>.tfvars -var-file=<env>.site.tfvars
# (<env>.site.tfvars: account-specific values, from site.tfvars.example.)

locals {
  environment = var.environment

  tags = {
    Project     = "featurekit"
    Environment = local.environment
    ManagedBy   = "terraform"
    Repository  = var.github_repository
  }

  # One offline table per feature view of feature_repo/.
  catalog = jsondecode(file("${path.module}/../shared/feature_views.json")).feature_views
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
  source = "../modules/foundation"

  name_prefix               = var.name_prefix
  environment               = local.environment
  kms_deletion_window_days  = var.kms_deletion_window_days
  access_log_retention_days = var.access_log_retention_days
  force_destroy             = var.force_destroy
  tags                      = local.tags
}

module "registry" {
  source = "../modules/registry"

  name_prefix                     = var.name_prefix
  environment                     = local.environment
  kms_key_arn                     = module.foundation.kms_key_arn
  access_log_bucket               = module.foundation.access_log_bucket
  registry_version_retention_days = var.registry_version_retention_days
  force_destroy                   = var.force_destroy
  tags                            = local.tags
}

module "offline_store" {
  source = "../modules/offline_store"

  name_prefix                    = var.name_prefix
  environment                    = local.environment
  kms_key_arn                    = module.foundation.kms_key_arn
  access_log_bucket              = module.foundation.access_log_bucket
  feature_views                  = local.feature_views
  bytes_scanned_cutoff_per_query = var.athena_bytes_scanned_cutoff_per_query
  offline_retention_days         = var.offline_retention_days
  force_destroy                  = var.force_destroy
  tags                           = local.tags
}

module "online_store" {
  source = "../modules/online_store"

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

  cluster_mode_enabled = var.redis_cluster_mode_enabled

  tiers = {
    # In-memory tier for the freshest, most-read features (stream + hourly views).
    hot = {
      node_type                = var.redis_hot_node_type
      data_tiering_enabled     = false
      num_node_groups          = var.redis_hot_shards
      replicas_per_node_group  = var.redis_replicas_per_tier
      snapshot_retention_limit = var.redis_snapshot_retention_days
    }
    # prod: data-tiered (memory + NVMe SSD) for the slow-moving daily views; dev: in memory.
    warm = {
      node_type                = var.redis_warm_node_type
      data_tiering_enabled     = var.redis_warm_data_tiering
      num_node_groups          = var.redis_warm_shards
      replicas_per_node_group  = var.redis_replicas_per_tier
      snapshot_retention_limit = var.redis_snapshot_retention_days
    }
  }

  apply_immediately = var.redis_apply_immediately
  tags              = local.tags
}

module "streaming" {
  source = "../modules/streaming"

  name_prefix          = var.name_prefix
  environment          = local.environment
  vpc_id               = var.vpc_id
  vpc_cidr             = var.vpc_cidr
  subnet_ids           = slice(var.private_subnet_ids, 0, var.msk_broker_subnets)
  kms_key_arn          = module.foundation.kms_key_arn
  access_log_bucket    = module.foundation.access_log_bucket
  offline_bucket_arn   = module.offline_store.bucket_arn
  stream_feature_views = local.stream_feature_views
  redis_secret_arn     = module.online_store.secret_arn

  create_msk                      = var.existing_kafka_bootstrap_servers == ""
  existing_bootstrap_servers      = var.existing_kafka_bootstrap_servers
  kafka_client_security_group_ids = var.kafka_producer_security_group_ids
  msk_instance_type               = var.msk_instance_type
  msk_brokers_per_az              = 1
  msk_ebs_volume_gb               = var.msk_ebs_volume_gb
  msk_enhanced_monitoring         = var.msk_enhanced_monitoring
  kafka_retention_hours           = var.kafka_retention_hours

  emr_max_cpu    = var.emr_max_cpu
  emr_max_memory = var.emr_max_memory

  force_destroy = var.force_destroy
  tags          = local.tags
}

module "orchestration" {
  source = "../modules/orchestration"

  name_prefix       = var.name_prefix
  environment       = local.environment
  vpc_id            = var.vpc_id
  vpc_cidr          = var.vpc_cidr
  subnet_ids        = slice(var.private_subnet_ids, 0, 2)
  kms_key_arn       = module.foundation.kms_key_arn
  access_log_bucket = module.foundation.access_log_bucket
  requirements_file = "${path.module}/../shared/mwaa-requirements.txt"

  environment_class = var.mwaa_environment_class
  min_workers       = 1
  max_workers       = var.mwaa_max_workers
  schedulers        = var.mwaa_schedulers

  registry_bucket_arn  = module.registry.bucket_arn
  registry_object_arn  = module.registry.registry_object_arn
  offline_bucket_arn   = module.offline_store.bucket_arn
  athena_workgroup_arn = module.offline_store.workgroup_arn
  glue_database_name   = module.offline_store.database_name
  redis_secret_arn     = module.online_store.secret_arn
  emr_application_arn  = module.streaming.emr_application_arn
  emr_job_role_arn     = module.streaming.job_role_arn

  force_destroy = var.force_destroy
  tags          = local.tags
}

module "ci_access" {
  source = "../modules/ci_access"

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

  # prod: what `featurekit deploy --env prod` touches (the deploy workflow runs it after the apply). The module
  # grants them to the prod role only.
  mwaa_environment_arn = module.orchestration.environment_arn
  streaming_bucket_arn = module.streaming.checkpoint_bucket_arn
  emr_application_arn  = module.streaming.emr_application_arn
  emr_job_role_arn     = module.streaming.job_role_arn
  ecs_service_arn      = module.feature_server.service_arn
  ecs_task_role_arns   = [module.feature_server.task_role_arn, module.feature_server.task_execution_role_arn]

  tags = local.tags
}

module "feature_server" {
  source = "../modules/feature_server"

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

  deletion_protection = var.feature_server_deletion_protection
  min_count           = var.feature_server_min_count
  max_count           = var.feature_server_max_count

  tags = local.tags
}
