output "kms_key_arn" {
  description = "ARN of the environment's customer-managed KMS key."
  value       = aws_kms_key.this.arn
}

output "access_log_bucket" {
  description = "Name of the S3 server-access-log bucket."
  value       = aws_s3_bucket.access_logs.id
}
