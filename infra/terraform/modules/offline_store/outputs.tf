output "bucket_id" {
  description = "Offline-store bucket name."
  value       = module.bucket.bucket_id
}

output "bucket_arn" {
  description = "Offline-store bucket ARN."
  value       = module.bucket.bucket_arn
}

output "s3_root" {
  description = "s3://<bucket>/offline (featurekit setting offline_store.s3_root)."
  value       = local.s3_root
}

output "results_location" {
  description = "s3://<bucket>/athena-results/ (featurekit setting offline_store.results_location)."
  value       = local.results_location
}

output "database_name" {
  description = "Glue database (featurekit setting offline_store.database)."
  value       = aws_glue_catalog_database.this.name
}

output "database_arn" {
  description = "Glue database ARN."
  value       = aws_glue_catalog_database.this.arn
}

output "table_names" {
  description = "Glue table per feature view."
  value       = sort([for t in aws_glue_catalog_table.feature_view : t.name])
}

output "workgroup_name" {
  description = "Athena workgroup (featurekit setting offline_store.workgroup)."
  value       = aws_athena_workgroup.this.name
}

output "workgroup_arn" {
  description = "Athena workgroup ARN."
  value       = aws_athena_workgroup.this.arn
}
