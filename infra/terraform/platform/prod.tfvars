# prod: production sizes, Multi-AZ replicas, data-tiered warm Redis (r6gd). Sizing is derived in
# docs/infrastructure.md from the online store's bytes per entity.
environment = "prod"

force_destroy                   = false
kms_deletion_window_days        = 30
access_log_retention_days       = 365
registry_version_retention_days = 90

athena_bytes_scanned_cutoff_per_query = 1099511627776 # 1 TiB: a full training back-fill at 50M entities
offline_retention_days                = null          # kept (Intelligent-Tiering after 30 days)

redis_hot_node_type           = "cache.r7g.large"
redis_warm_node_type          = "cache.r6gd.xlarge"
redis_warm_data_tiering       = true
redis_replicas_per_tier       = 1
redis_snapshot_retention_days = 7
redis_apply_immediately       = false

msk_instance_type       = "kafka.m7g.large"
msk_broker_subnets      = 3
msk_ebs_volume_gb       = 500
msk_enhanced_monitoring = "PER_BROKER"
kafka_retention_hours   = 168

emr_max_cpu    = "32 vCPU"
emr_max_memory = "128 GB"

mwaa_environment_class = "mw1.small"
mwaa_max_workers       = 5
mwaa_schedulers        = 2

feature_server_deletion_protection = true
feature_server_min_count           = 2
feature_server_max_count           = 6
