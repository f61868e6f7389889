output "bootstrap_servers" {
  description = "Kafka bootstrap servers (featurekit setting kafka.bootstrap_servers)."
  value       = local.bootstrap_servers
}

output "kafka_topics" {
  description = "Topics the kit creates: the source topics and their .dlq."
  value       = local.topics
}

output "msk_cluster_arn" {
  description = "MSK cluster ARN (null when an existing cluster is used)."
  value       = var.create_msk ? aws_msk_cluster.this[0].arn : null
}

output "checkpoint_bucket_id" {
  description = "Checkpoint bucket name."
  value       = module.bucket.bucket_id
}

output "checkpoint_bucket_arn" {
  description = "Checkpoint bucket ARN."
  value       = module.bucket.bucket_arn
}

output "checkpoint_location" {
  description = "s3://<bucket>/checkpoints (featurekit setting streaming.checkpoint_location)."
  value       = local.checkpoint_location
}

output "emr_application_id" {
  description = "EMR Serverless application id (start-job-run target)."
  value       = aws_emrserverless_application.spark.id
}

output "emr_application_arn" {
  description = "EMR Serverless application ARN."
  value       = aws_emrserverless_application.spark.arn
}

output "job_role_arn" {
  description = "Execution role of the streaming jobs."
  value       = aws_iam_role.job.arn
}

output "spark_security_group_id" {
  description = "Security group of the streaming jobs (allow it on Redis)."
  value       = aws_security_group.spark.id
}

output "spark_submit_parameters" {
  description = "sparkSubmitParameters for start-job-run: Kafka connector packages and the checkpoint root."
  value       = local.spark_submit_parameters
}

output "artifacts_location" {
  description = "s3://<bucket>/artifacts: packed environments and entry points of the streaming jobs (featurekit deploy)."
  value       = "s3://${module.bucket.bucket_id}/artifacts"
}
