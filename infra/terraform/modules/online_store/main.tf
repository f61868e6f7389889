# Online store: two ElastiCache (Redis OSS) replication groups, `hot` (all in memory) and `warm`
# (in prod: data tiering on r6gd nodes, cold values on local NVMe SSD). Both require TLS, are
# encrypted at rest with the environment key, authenticate with an RBAC (ACL) user whose password
# lives in Secrets Manager, and accept connections only from the security groups listed in
# `allowed_security_group_ids`.

locals {
  name = "${var.name_prefix}-${var.environment}"
  port = 6379

  # Hash encoding limits the bucket layout relies on (featurekit.online_store.config.LISTPACK_SETTINGS; a bucket
  # stays a compact listpack up to this many rows of at most this many bytes). tests/online_store checks they match.
  listpack_parameters = {
    "hash-max-listpack-entries" = "256"
    "hash-max-listpack-value"   = "1024"
  }
}

# The defaults of the redis7 family plus the listpack limits above (the default groups cannot be changed).
resource "aws_elasticache_parameter_group" "this" {
  name        = "${local.name}-redis7${var.cluster_mode_enabled ? "-cluster" : ""}"
  family      = "redis7"
  description = "featurekit ${var.environment} online store: listpack limits of the bucket layout"

  dynamic "parameter" {
    for_each = merge(local.listpack_parameters, var.cluster_mode_enabled ? { "cluster-enabled" = "yes" } : {})
    content {
      name  = parameter.key
      value = parameter.value
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# --- network -----------------------------------------------------------------------------------------
resource "aws_elasticache_subnet_group" "this" {
  name        = "${local.name}-redis"
  description = "featurekit ${var.environment} online store"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_security_group" "redis" {
  name        = "${local.name}-redis"
  description = "featurekit ${var.environment} online store: Redis TLS port from the listed services only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${local.name}-redis" })

  lifecycle {
    create_before_destroy = true
  }
}

# One rule per client service; no CIDR ranges, no egress rules (Redis never initiates connections).
resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each = var.allowed_security_group_ids

  security_group_id            = aws_security_group.redis.id
  description                  = "Redis TLS from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = each.value

  tags = var.tags
}

# --- authentication (RBAC / ACL) -------------------------------------------------------------------------
resource "random_password" "app" {
  length  = 40
  special = false
}

resource "random_password" "default_user" {
  length  = 40
  special = false
}

# ElastiCache requires a user named "default" in every user group; it is switched off.
resource "aws_elasticache_user" "default" {
  user_id       = "${local.name}-default"
  user_name     = "default"
  engine        = "REDIS"
  access_string = "off -@all"

  authentication_mode {
    type      = "password"
    passwords = [random_password.default_user.result]
  }

  tags = var.tags
}

resource "aws_elasticache_user" "app" {
  user_id       = "${local.name}-app"
  user_name     = var.redis_username
  engine        = "REDIS"
  access_string = var.redis_access_string

  authentication_mode {
    type      = "password"
    passwords = [random_password.app.result]
  }

  tags = var.tags
}

resource "aws_elasticache_user_group" "this" {
  user_group_id = "${local.name}-users"
  engine        = "REDIS"
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]

  tags = var.tags
}

resource "aws_secretsmanager_secret" "redis" {
  #checkov:skip=CKV2_AWS_57:ElastiCache RBAC passwords have no managed rotation Lambda; rotation is a planned `terraform apply` (replace random_password.app), which ElastiCache accepts without downtime because a user can hold two passwords.
  name                    = "${var.name_prefix}/${var.environment}/online-store/redis"
  description             = "featurekit ${var.environment} online store: Redis ACL user, password and tier URLs"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id = aws_secretsmanager_secret.redis.id
  secret_string = jsonencode({
    username = aws_elasticache_user.app.user_name
    password = random_password.app.result
    urls     = { for tier, url in local.tier_urls : tier => url }
  })
}

# --- replication groups ----------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "slow_log" {
  for_each = var.tiers

  name              = "/aws/elasticache/${local.name}-${each.key}/slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_elasticache_replication_group" "tier" {
  #checkov:skip=CKV_AWS_31:Authentication uses RBAC (user_group_ids, per-user ACL and password in Secrets Manager), which replaces the legacy shared auth_token; transit encryption is required below.
  #checkov:skip=CKV2_AWS_50:Failover is on whenever a tier has replicas (prod: replicas_per_node_group = 1, asserted by tests/infra); dev deliberately runs single, cheap nodes.
  for_each = var.tiers

  replication_group_id = "${local.name}-${each.key}"
  description          = "featurekit ${var.environment} online store, ${each.key} tier"

  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = each.value.node_type
  port                 = local.port
  parameter_group_name = aws_elasticache_parameter_group.this.name

  # Data tiering (r6gd only) keeps hot keys in memory and the rest on the node's NVMe SSD.
  data_tiering_enabled = each.value.data_tiering_enabled

  # Cluster mode shards keys over num_node_groups; without it there is one primary (+ replicas).
  cluster_mode            = var.cluster_mode_enabled ? "enabled" : "disabled"
  num_node_groups         = var.cluster_mode_enabled ? each.value.num_node_groups : null
  replicas_per_node_group = var.cluster_mode_enabled ? each.value.replicas_per_node_group : null
  num_cache_clusters      = var.cluster_mode_enabled ? null : 1 + each.value.replicas_per_node_group

  automatic_failover_enabled = var.cluster_mode_enabled || each.value.replicas_per_node_group > 0
  multi_az_enabled           = each.value.replicas_per_node_group > 0

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  user_group_ids             = [aws_elasticache_user_group.this.user_group_id]

  snapshot_retention_limit   = each.value.snapshot_retention_limit
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  auto_minor_version_upgrade = true
  apply_immediately          = var.apply_immediately

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow_log[each.key].name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  tags = merge(var.tags, { Tier = each.key })
}

locals {
  tier_hosts = {
    for tier, rg in aws_elasticache_replication_group.tier :
    tier => var.cluster_mode_enabled ? rg.configuration_endpoint_address : rg.primary_endpoint_address
  }
  tier_urls = { for tier, host in local.tier_hosts : tier => "rediss://${host}:${local.port}" }
}
