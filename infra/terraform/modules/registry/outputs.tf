output "bucket_id" {
  description = "Registry bucket name."
  value       = module.bucket.bucket_id
}

output "bucket_arn" {
  description = "Registry bucket ARN."
  value       = module.bucket.bucket_arn
}

output "registry_path" {
  description = "Feast registry path, s3://<bucket>/registry.pb (featurekit setting registry.path)."
  value       = local.registry_path
}

output "registry_object_arn" {
  description = "ARN of the registry object, for object-level IAM statements."
  value       = "${module.bucket.bucket_arn}/${local.registry_key}"
}
