# Feature server: `featurekit serve` on ECS Fargate in the private subnets, behind an internal HTTPS load balancer
# whose health check is GET /health, scaled on CPU. Terraform owns the service and its first task definition;
# `featurekit deploy` registers new revisions with the commit's image and points the service at them, so the
# task definition and desired count are ignored here after creation.

data "aws_region" "current" {}

locals {
  name      = "${var.name_prefix}-${var.environment}"
  service   = "${local.name}-feature-server"
  container = "feature-server" # featurekit.deploy.ecs.CONTAINER
  port      = 6566
}

resource "aws_ecr_repository" "this" {
  name                 = "${var.name_prefix}-feature-server"
  image_tag_mutability = "IMMUTABLE" # tags are commits: a deployed tag never changes meaning

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${local.service}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# --- roles: the agent pulls the image and reads the Redis secret; the task itself needs the registry -----------
data "aws_iam_policy_document" "tasks_trust" {
  statement {
    sid     = "EcsTasks"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.service}-execution"
  assume_role_policy = data.aws_iam_policy_document.tasks_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullImage"
    effect    = "Allow"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.this.arn]
  }

  statement {
    sid       = "EcrAuthorization"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }

  statement {
    sid       = "Logs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "RedisSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.redis_secret_arn]
  }

  statement {
    sid       = "DecryptSecretAndImage"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "feature-server-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${local.service}-task"
  assume_role_policy = data.aws_iam_policy_document.tasks_trust.json
  tags               = var.tags
}

# The server reads the registry (refreshing its plan when it changes) and nothing else in AWS.
data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ReadRegistry"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = [var.registry_object_arn]
  }

  statement {
    sid       = "DecryptRegistry"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "feature-server-task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.service
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  container_definitions = jsonencode([{
    name                   = local.container
    image                  = "${aws_ecr_repository.this.repository_url}:${var.initial_image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    command                = ["featurekit", "serve", "--host", "0.0.0.0", "--port", tostring(local.port), "--workers", tostring(var.workers)]
    portMappings           = [{ containerPort = local.port, protocol = "tcp" }]
    environment = [
      { name = "FEATUREKIT_ENV", value = var.environment },
      { name = "FEATUREKIT_DATA_DIR", value = "/tmp/featurekit" },
    ]
    secrets     = [{ name = "FEATUREKIT_REDIS_PASSWORD", valueFrom = "${var.redis_secret_arn}:password::" }]
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "feature-server"
      }
    }
  }])

  volume {
    name = "tmp"
  }

  tags = var.tags
}

# --- network: clients -> internal ALB (HTTPS) -> tasks (6566) -> Redis ----------------------------------------
resource "aws_security_group" "alb" {
  name        = "${local.service}-alb"
  description = "Internal load balancer of the feature server: HTTPS from the allowed clients only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_clients" {
  for_each = var.client_security_group_ids

  security_group_id            = aws_security_group.alb.id
  description                  = "HTTPS from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the feature server tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${local.service}-tasks"
  description = "Feature server tasks: traffic from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "From the internal load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_redis" {
  security_group_id = aws_security_group.tasks.id
  description       = "Redis (TLS) in the VPC"
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (ECR, S3 registry, Secrets Manager, CloudWatch Logs)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_lb" "this" {
  name                       = substr("${local.name}-fs", 0, 32)
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = var.access_log_bucket
    prefix  = "alb/${local.service}"
    enabled = true
  }

  tags = var.tags
}

# TLS ends at the internal load balancer; the hop to the tasks stays inside the private subnets.
resource "aws_lb_target_group" "this" {
  name        = substr("${local.name}-fs", 0, 32)
  port        = local.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
    timeout             = 5
  }

  deregistration_delay = 30
  tags                 = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}

resource "aws_ecs_service" "this" {
  name                              = local.service
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this.arn
  desired_count                     = var.min_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 60

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container
    container_port   = local.port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # `featurekit deploy` moves the task definition; autoscaling moves the count.
  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }

  depends_on = [aws_lb_listener.https]
  tags       = var.tags
}

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${local.service}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_cpu_percent
    scale_in_cooldown  = 120
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
