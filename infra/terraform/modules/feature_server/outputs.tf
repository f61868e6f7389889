output "cluster_name" {
  description = "ECS cluster (featurekit setting deploy.ecs_cluster)."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service (featurekit setting deploy.ecs_service)."
  value       = aws_ecs_service.this.name
}

output "repository_url" {
  description = "Image repository (featurekit setting deploy.feature_server_image); tags are commits."
  value       = aws_ecr_repository.this.repository_url
}

output "load_balancer_dns_name" {
  description = "Internal HTTPS endpoint of the feature server."
  value       = aws_lb.this.dns_name
}

output "security_group_id" {
  description = "Security group of the tasks (allowed into Redis by the online_store module)."
  value       = aws_security_group.tasks.id
}

output "task_execution_role_arn" {
  description = "Execution role of the tasks (the deploy passes it to new task definition revisions)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Task role of the feature server."
  value       = aws_iam_role.task.arn
}

output "service_arn" {
  description = "ECS service ARN (the prod CI role may update it)."
  value       = aws_ecs_service.this.id
}
