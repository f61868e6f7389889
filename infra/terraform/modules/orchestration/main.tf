# Orchestration: an Amazon MWAA (managed Airflow) environment running the kit's DAGs from `dags/`,
# its DAG bucket, a startup script that builds the kit's task environment (the DAGs' tasks run there, in the
# locked versions, while MWAA's Airflow only schedules), and an execution role
# limited to what the DAGs do (materialize: Athena/Glue/S3 offline store -> Redis, registry updates,
# starting the streaming jobs on EMR Serverless).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name        = "${var.name_prefix}-${var.environment}"
  env_name    = "${local.name}-airflow"
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  region      = data.aws_region.current.name
  bucket_name = "${local.name}-airflow"

  startup_script = <<-EOT
    #!/bin/sh
    # Sourced by MWAA on every scheduler/worker/webserver start, before requirements.txt is installed.
    export FEATUREKIT_ENV="${var.environment}"
    # featurekit deploy syncs config/ and feature_repo/ next to the DAGs.
    export FEATUREKIT_ROOT="/usr/local/airflow/dags"
    # MWAA's Airflow only schedules (docs/deploy.md, "Runtimes"): it imports the kit's own code to parse the DAG
    # files (the wheel from plugins.zip, unpacked onto PYTHONPATH without its dependencies), and every task body
    # runs in the kit's locked environment, built here from the same wheel and its uv.lock pins.
    plugins=/usr/local/airflow/plugins
    kit_src=/usr/local/airflow/featurekit-src
    kit_venv=/usr/local/airflow/featurekit-venv
    wheel="$(ls "$plugins"/featurekit-*.whl | head -n 1)"
    rm -rf "$kit_src" && python3 -m zipfile -e "$wheel" "$kit_src"
    export PYTHONPATH="$kit_src$${PYTHONPATH:+:$PYTHONPATH}"
    if [ "$${MWAA_AIRFLOW_COMPONENT:-}" != "webserver" ]; then
      # The task environment runs the Python the lock is tested on, not MWAA's own (3.12 under Airflow 3.0.6):
      # the wheel requires it, and the pins are the tested ones for it. Amazon Linux 2023 packages it.
      task_python="python${var.task_python_version}"
      command -v "$task_python" >/dev/null 2>&1 || sudo dnf install -y --quiet "$task_python"
      rm -rf "$kit_venv" && "$task_python" -m venv "$kit_venv"
      "$kit_venv/bin/pip" install --quiet --no-deps -r "$plugins/featurekit-requirements.txt" "$wheel"
      export FEATUREKIT_TASK_PYTHON="$kit_venv/bin/python"
    fi
  EOT
}

# --- DAG bucket ------------------------------------------------------------------------------------------------
module "bucket" {
  source = "../s3_bucket"

  bucket_name       = local.bucket_name
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = var.access_log_bucket
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { Component = "orchestration" })
}

# Requirements exported from the locked environment (uv.lock); a new object version triggers an
# environment update.
resource "aws_s3_object" "requirements" {
  bucket      = module.bucket.bucket_id
  key         = "requirements.txt"
  source      = var.requirements_file
  source_hash = filemd5(var.requirements_file)
  kms_key_id  = var.kms_key_arn

  tags = var.tags
}

resource "aws_s3_object" "startup_script" {
  bucket      = module.bucket.bucket_id
  key         = "startup.sh"
  content     = local.startup_script
  source_hash = md5(local.startup_script)
  kms_key_id  = var.kms_key_arn

  tags = var.tags
}

# --- network ---------------------------------------------------------------------------------------------------
resource "aws_security_group" "mwaa" {
  name        = "${local.name}-mwaa"
  description = "featurekit ${var.environment} MWAA: self-referencing, as MWAA requires; egress to HTTPS and Redis only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${local.name}-mwaa" })
}

resource "aws_vpc_security_group_ingress_rule" "mwaa_self" {
  security_group_id            = aws_security_group.mwaa.id
  description                  = "MWAA components talk to each other (required self-reference)"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.mwaa.id
}

resource "aws_vpc_security_group_egress_rule" "mwaa_self" {
  security_group_id            = aws_security_group.mwaa.id
  description                  = "MWAA components talk to each other (metadata database, workers)"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.mwaa.id
}

resource "aws_vpc_security_group_egress_rule" "mwaa_https" {
  security_group_id = aws_security_group.mwaa.id
  description       = "HTTPS to AWS APIs (S3, SQS, CloudWatch, Athena, Glue, EMR Serverless) and PyPI"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "mwaa_redis" {
  security_group_id = aws_security_group.mwaa.id
  description       = "Materialization writes to the online store (Redis TLS)"
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  cidr_ipv4         = var.vpc_cidr
}

# --- execution role --------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-mwaa-execution"
  description        = "featurekit ${var.environment} MWAA execution role"
  assume_role_policy = data.aws_iam_policy_document.trust.json

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  #checkov:skip=CKV_AWS_356:Only actions without resource-level support use "*" (logs:DescribeLogGroups, cloudwatch:PutMetricData limited by namespace condition, s3:GetAccountPublicAccessBlock), as the MWAA documentation prescribes.
  #checkov:skip=CKV_AWS_111:Write actions are all scoped to named ARNs; the "*" resources above are read-only or namespace-conditioned metrics.
  # --- what MWAA itself needs ---
  statement {
    sid       = "PublishAirflowMetrics"
    effect    = "Allow"
    actions   = ["airflow:PublishMetrics"]
    resources = ["arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${local.env_name}"]
  }

  statement {
    sid       = "ReadDagBucket"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${module.bucket.bucket_arn}/*"]
  }

  statement {
    sid    = "InspectDagBucket"
    effect = "Allow"
    actions = [
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:GetBucketVersioning",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetEncryptionConfiguration",
    ]
    resources = [module.bucket.bucket_arn]
  }

  statement {
    sid       = "AccountPublicAccessBlock"
    effect    = "Allow"
    actions   = ["s3:GetAccountPublicAccessBlock"]
    resources = ["*"]
  }

  statement {
    sid    = "AirflowLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:CreateLogGroup",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogRecord",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${local.env_name}-*"]
  }

  statement {
    sid       = "DescribeLogGroups"
    effect    = "Allow"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }

  statement {
    sid       = "PutMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["AmazonMWAA"]
    }
  }

  # Celery queues live in an AWS-owned account, hence the account wildcard (MWAA documentation).
  statement {
    sid    = "CeleryQueues"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"]
  }

  statement {
    sid       = "UseEnvironmentKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = [var.kms_key_arn]
  }

  # --- what the kit's DAGs need ---
  statement {
    sid       = "ReadWriteRegistry"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [var.registry_object_arn]
  }

  statement {
    sid       = "ListDataBuckets"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.registry_bucket_arn, var.offline_bucket_arn]
  }

  statement {
    sid     = "ReadWriteOfflineStoreAndResults"
    effect  = "Allow"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [
      "${var.offline_bucket_arn}/offline/*",
      "${var.offline_bucket_arn}/athena-results/*",
    ]
  }

  statement {
    sid    = "AthenaQueries"
    effect = "Allow"
    actions = [
      "athena:StartQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:StopQueryExecution",
      "athena:GetWorkGroup",
    ]
    resources = [var.athena_workgroup_arn]
  }

  # Feast's Athena offline store uploads the entity dataframe as a temporary table and drops it.
  statement {
    sid    = "GlueCatalog"
    effect = "Allow"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:CreateTable",
      "glue:UpdateTable",
      "glue:DeleteTable",
    ]
    resources = [
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.glue_database_name}",
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.glue_database_name}/*",
    ]
  }

  statement {
    sid     = "ReadSecrets"
    effect  = "Allow"
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [
      var.redis_secret_arn,
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${var.name_prefix}/${var.environment}/airflow/*",
    ]
  }

  statement {
    sid     = "RunStreamingJobs"
    effect  = "Allow"
    actions = ["emr-serverless:StartJobRun", "emr-serverless:GetJobRun", "emr-serverless:CancelJobRun", "emr-serverless:GetApplication"]
    resources = [
      var.emr_application_arn,
      "${var.emr_application_arn}/jobruns/*",
    ]
  }

  statement {
    sid       = "PassStreamingJobRole"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [var.emr_job_role_arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["emr-serverless.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "mwaa-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- environment -------------------------------------------------------------------------------------------------
resource "aws_mwaa_environment" "this" {
  name              = local.env_name
  airflow_version   = var.airflow_version
  environment_class = var.environment_class
  min_workers       = var.min_workers
  max_workers       = var.max_workers
  schedulers        = var.schedulers

  execution_role_arn = aws_iam_role.execution.arn
  kms_key            = var.kms_key_arn

  source_bucket_arn                = module.bucket.bucket_arn
  dag_s3_path                      = "dags/"
  requirements_s3_path             = aws_s3_object.requirements.key
  requirements_s3_object_version   = aws_s3_object.requirements.version_id
  startup_script_s3_path           = aws_s3_object.startup_script.key
  startup_script_s3_object_version = aws_s3_object.startup_script.version_id

  webserver_access_mode = "PRIVATE_ONLY"

  airflow_configuration_options = {
    "core.load_examples"              = "false"
    "core.default_timezone"           = "utc"
    "secrets.backend"                 = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    "secrets.backend_kwargs"          = jsonencode({ connections_prefix = "${var.name_prefix}/${var.environment}/airflow/connections", variables_prefix = "${var.name_prefix}/${var.environment}/airflow/variables" })
    "scheduler.catchup_by_default"    = "false"
    "core.dag_file_processor_timeout" = "120"
  }

  network_configuration {
    security_group_ids = [aws_security_group.mwaa.id]
    subnet_ids         = var.subnet_ids
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = "WARNING"
    }
    scheduler_logs {
      enabled   = true
      log_level = "WARNING"
    }
    task_logs {
      enabled   = true
      log_level = "INFO"
    }
    webserver_logs {
      enabled   = true
      log_level = "WARNING"
    }
    worker_logs {
      enabled   = true
      log_level = "WARNING"
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.execution]
}
