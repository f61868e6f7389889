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
