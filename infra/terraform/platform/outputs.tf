# The kit's settings for this environment, read by
#   terraform output -json > tf-output.json
#   featurekit config render --env <env> --terraform-output tf-output.json
# Keys mirror config/<env>.yaml (see src/featurekit/config/terraform.py); no endpoint is typed twice.
output "featurekit_settings" {
  description = "Overrides for the kit's settings (registry, offline_store, online_store tiers, kafka, streaming)."
  value = {
    registry = {
      path = module.registry.registry_path
    }
    offline_store = {
      s3_root          = module.offline_store.s3_root
      database         = module.offline_store.database_name
      workgroup        = module.offline_store.workgroup_name
      results_location = module.offline_store.results_location
      region           = var.region
    }
    online_store = {
      tiers = {
        hot = {
          url = module.online_store.tier_urls["hot"]
        }
        warm = {
          url = module.online_store.tier_urls["warm"]
        }
      }
    }
    kafka = {
      bootstrap_servers = module.streaming.bootstrap_servers
    }
    streaming = {
      checkpoint_location = module.streaming.checkpoint_location
    }
    deploy = {
      region               = var.region
      mwaa_environment     = module.orchestration.environment_name
      mwaa_bucket          = module.orchestration.dag_bucket_id
      artifacts_location   = module.streaming.artifacts_location
      emr_application_id   = module.streaming.emr_application_id
      emr_job_role_arn     = module.streaming.job_role_arn
      ecs_cluster          = module.feature_server.cluster_name
      ecs_service          = module.feature_server.service_name
      feature_server_image = module.feature_server.repository_url
    }
  }
}

output "ci_role_arn" {
  description = "Role for GitHub Actions (aws-actions/configure-aws-credentials role-to-assume)."
  value       = module.ci_access.role_arn
}

output "ci_plan_role_arn" {
  description = "Read-only role of the pull-request plan job against prod (repository variable AWS_PROD_PLAN_ROLE_ARN)."
  value       = module.ci_access.plan_role_arn
}

output "redis_secret_arn" {
  description = "Secret with the Redis ACL user and password (inject as FEATUREKIT_REDIS_PASSWORD)."
  value       = module.online_store.secret_arn
}

output "kafka_topics" {
  description = "Topics the kit must create (auto-creation is off)."
  value       = module.streaming.kafka_topics
}

output "emr_application_id" {
  description = "EMR Serverless application for the streaming jobs."
  value       = module.streaming.emr_application_id
}

output "streaming_job_role_arn" {
  description = "Execution role for streaming start-job-run calls."
  value       = module.streaming.job_role_arn
}

output "spark_submit_parameters" {
  description = "sparkSubmitParameters with the Kafka connector and checkpoint root."
  value       = module.streaming.spark_submit_parameters
}

output "mwaa_environment_name" {
  description = "MWAA environment name."
  value       = module.orchestration.environment_name
}

output "dag_bucket" {
  description = "Sync dags/ to s3://<dag_bucket>/dags/."
  value       = module.orchestration.dag_bucket_id
}

output "feature_server_endpoint" {
  description = "Internal HTTPS endpoint of the feature server (load balancer DNS name)."
  value       = module.feature_server.load_balancer_dns_name
}
