output "environment_name" {
  description = "MWAA environment name."
  value       = aws_mwaa_environment.this.name
}

output "environment_arn" {
  description = "MWAA environment ARN."
  value       = aws_mwaa_environment.this.arn
}

output "webserver_url" {
  description = "Airflow UI (private; reach it through the VPC)."
  value       = aws_mwaa_environment.this.webserver_url
}

output "dag_bucket_id" {
  description = "DAG bucket name; sync the repository's dags/ to s3://<bucket>/dags/."
  value       = module.bucket.bucket_id
}

output "dag_bucket_arn" {
  description = "DAG bucket ARN."
  value       = module.bucket.bucket_arn
}

output "execution_role_arn" {
  description = "MWAA execution role."
  value       = aws_iam_role.execution.arn
}

output "security_group_id" {
  description = "MWAA security group (allow it on Redis)."
  value       = aws_security_group.mwaa.id
}
