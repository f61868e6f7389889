# dev: the same resources as prod at the smallest sizes: single-node Redis tiers on burstable in-memory nodes,
# a two-broker t3 MSK cluster, mw1.micro Airflow, a low Athena scan cutoff, deletable buckets.
environment = "dev"

force_destroy                   = true
kms_deletion_window_days        = 7
access_log_retention_days       = 90
registry_version_retention_days = 30

athena_bytes_scanned_cutoff_per_query = 10737418240 # 10 GiB: dev data is a sample
offline_retention_days                = 90

redis_hot_node_type           = "cache.t4g.small"
redis_warm_node_type          = "cache.t4g.small"
redis_warm_data_tiering       = false
redis_replicas_per_tier       = 0
redis_snapshot_retention_days = 0
redis_apply_immediately       = true

msk_instance_type       = "kafka.t3.small"
msk_broker_subnets      = 2
msk_ebs_volume_gb       = 20
msk_enhanced_monitoring = "DEFAULT"
kafka_retention_hours   = 72

emr_max_cpu    = "4 vCPU"
emr_max_memory = "16 GB"

mwaa_environment_class = "mw1.micro"
mwaa_max_workers       = 1
mwaa_schedulers        = 1

feature_server_deletion_protection = false
feature_server_min_count           = 1
feature_server_max_count           = 2
