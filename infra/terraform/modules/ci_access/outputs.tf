output "role_arn" {
  description = "CI role ARN (aws-actions/configure-aws-credentials `role-to-assume`)."
  value       = aws_iam_role.ci.arn
}

output "oidc_provider_arn" {
  description = "GitHub OIDC provider ARN."
  value       = local.oidc_provider_arn
}

output "trusted_subject" {
  description = "The OIDC `sub` the role trusts."
  value       = var.environment == "prod" ? local.prod_subject : local.pull_request_subject
}

output "plan_role_arn" {
  description = "Read-only role for the pull-request plan against this environment (prod only; null in dev)."
  value       = var.environment == "prod" ? aws_iam_role.plan[0].arn : null
}
