output "tier_urls" {
  description = "rediss://<endpoint>:6379 per tier (featurekit settings online_store.tiers.<tier>.url)."
  value       = local.tier_urls
}

output "tier_endpoints" {
  description = "Endpoint host per tier (configuration endpoint with cluster mode, primary endpoint without)."
  value       = local.tier_hosts
}

output "replication_group_ids" {
  description = "Replication group id per tier."
  value       = { for tier, rg in aws_elasticache_replication_group.tier : tier => rg.id }
}

output "security_group_id" {
  description = "Security group of the Redis nodes."
  value       = aws_security_group.redis.id
}

output "redis_username" {
  description = "RBAC user the kit connects as."
  value       = aws_elasticache_user.app.user_name
}

output "secret_arn" {
  description = "Secrets Manager secret with {username, password, urls}; inject the password as FEATUREKIT_REDIS_PASSWORD."
  value       = aws_secretsmanager_secret.redis.arn
}
