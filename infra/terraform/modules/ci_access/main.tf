# CI access from GitHub Actions through OIDC (no stored AWS keys). Roles:
#   dev        -> assumable only by pull_request workflows of var.github_repository; reads and writes the DEV
#                 registry (the PR's own project) and nothing of prod (every grant names this environment's ARNs)
#   prod       -> assumable only by jobs of var.github_repository running in the GitHub environment `prod`
#                 on refs/heads/main; applies to the prod registry and deploys
#   prod plan  -> (prod only) assumable only by pull_request workflows of var.github_repository; s3:GetObject on
#                 the prod registry object and kms:Decrypt on its key, nothing else: the PR job that plans
#                 against prod can read what it diffs against and cannot write anything
#
# CI never needs the network path to Redis: it writes registries only. Rows of removed views and torn-down PR
# projects are deleted in the VPC by the maintenance DAG (featurekit_maintenance).
#
# The subjects below use the repository's customised OIDC subject template, which adds the git ref to
# every token's `sub` (GitHub's default omits the ref for environment jobs, so the branch could not be
# checked). Set it once per repository:
#   gh api -X PUT repos/<owner>/<repo>/actions/oidc/customization/sub \
#     -F use_default=false -f 'include_claim_keys[]=repo' -f 'include_claim_keys[]=context' -f 'include_claim_keys[]=ref'
# Tokens then carry e.g. `repo:acme/feature-platform:environment:prod:ref:refs/heads/main` and
# `repo:acme/feature-platform:pull_request:ref:refs/pull/42/merge`. Without the template neither role can be
# assumed (fails closed).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name       = "${var.name_prefix}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  oidc_host         = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.existing_oidc_provider_arn

  pull_request_subject = "repo:${var.github_repository}:pull_request:ref:refs/pull/*/merge"
  prod_subject         = "repo:${var.github_repository}:environment:prod:ref:refs/heads/main"
}

# One GitHub OIDC provider per AWS account; set create_oidc_provider = false where it already exists.
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS validates GitHub's certificate against its trusted CAs; the thumbprints are only kept for older
  # provider/API behaviour.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]

  tags = var.tags
}

# Dev: pull requests of this repository only.
data "aws_iam_policy_document" "github_pull_request" {
  statement {
    sid     = "GitHubPullRequests"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "${local.oidc_host}:sub"
      values   = [local.pull_request_subject]
    }
  }
}

# Prod: the `prod` GitHub environment on main only (exact match, no wildcard).
data "aws_iam_policy_document" "github_prod_main" {
  statement {
    sid     = "GitHubProdEnvironmentOnMain"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = [local.prod_subject]
    }
  }
}

resource "aws_iam_role" "ci" {
  name                 = "${local.name}-github-ci"
  description          = "GitHub Actions CI for featurekit ${var.environment} (${var.github_repository})"
  assume_role_policy   = var.environment == "prod" ? data.aws_iam_policy_document.github_prod_main.json : data.aws_iam_policy_document.github_pull_request.json
  max_session_duration = 3600
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

# Least privilege: registry object, offline-store prefixes, one Athena workgroup, one Glue database,
# DAG prefix, and the environment key. No "*" actions, no bucket-wide object access.
data "aws_iam_policy_document" "ci" {
  statement {
    sid       = "ListDataBuckets"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = compact([var.registry_bucket_arn, var.offline_bucket_arn, var.dag_bucket_arn])
  }

  # `feast plan` reads the registry; `feast apply` (dev: from PRs, prod: from main) writes it.
  statement {
    sid       = "ReadWriteRegistry"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [var.registry_object_arn]
  }

  statement {
    sid       = "ReadOfflineStore"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.offline_bucket_arn}/offline/*"]
  }

  statement {
    sid       = "AthenaResults"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${var.offline_bucket_arn}/athena-results/*"]
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

  statement {
    sid    = "GlueRead"
    effect = "Allow"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
    ]
    resources = [
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.glue_database_name}",
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.glue_database_name}/*",
    ]
  }

  dynamic "statement" {
    for_each = var.dag_bucket_arn == null ? [] : [var.dag_bucket_arn]
    content {
      sid       = "DeployDags"
      effect    = "Allow"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${statement.value}/dags/*"]
    }
  }

  statement {
    sid       = "UseEnvironmentKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "ci" {
  name   = "featurekit-ci"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.ci.json
}

# Read-only plan role for pull requests (prod only): what `featurekit plan` needs to diff a PR against prod.
# No ListBucket: the prod registry must exist (the first merge to main creates it) before PRs can plan.
data "aws_iam_policy_document" "plan" {
  statement {
    sid       = "ReadRegistryObject"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = [var.registry_object_arn]
  }

  statement {
    sid       = "DecryptRegistryObject"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "plan" {
  count = var.environment == "prod" ? 1 : 0

  name                 = "${local.name}-github-pr-plan"
  description          = "GitHub Actions pull requests of ${var.github_repository}: read-only plan against ${var.environment}"
  assume_role_policy   = data.aws_iam_policy_document.github_pull_request.json
  max_session_duration = 3600
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

resource "aws_iam_role_policy" "plan" {
  count = var.environment == "prod" ? 1 : 0

  name   = "featurekit-pr-plan"
  role   = aws_iam_role.plan[0].id
  policy = data.aws_iam_policy_document.plan.json
}

# Prod only: what `featurekit deploy --env prod` (the deploy workflow, after the apply) needs, on this
# environment's resources only. Dev is deployed by a platform engineer (docs/deploy.md): its CI role belongs to
# pull requests, whose code must not reach the dev Airflow or streaming jobs unreviewed.
data "aws_iam_policy_document" "deploy" {
  count = var.environment == "prod" ? 1 : 0

  statement {
    sid       = "MwaaEnvironment"
    effect    = "Allow"
    actions   = ["airflow:GetEnvironment", "airflow:UpdateEnvironment"]
    resources = [var.mwaa_environment_arn]
  }

  statement {
    sid       = "MwaaPackages"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.dag_bucket_arn}/plugins.zip", "${var.dag_bucket_arn}/requirements.txt"]
  }

  statement {
    sid       = "ListStreamingArtifacts"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.streaming_bucket_arn]
  }

  statement {
    sid       = "StreamingArtifacts"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.streaming_bucket_arn}/artifacts/*"]
  }

  statement {
    sid       = "StreamingJobRuns"
    effect    = "Allow"
    actions   = ["emr-serverless:StartJobRun", "emr-serverless:ListJobRuns", "emr-serverless:GetJobRun", "emr-serverless:CancelJobRun", "emr-serverless:TagResource"]
    resources = [var.emr_application_arn, "${var.emr_application_arn}/jobruns/*"]
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

  statement {
    sid       = "FeatureServerService"
    effect    = "Allow"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = [var.ecs_service_arn]
  }

  statement {
    sid       = "FeatureServerTaskDefinitions"
    effect    = "Allow"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"] # neither action supports resource-level permissions
  }

  statement {
    sid       = "PassFeatureServerRoles"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = var.ecs_task_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  count = var.environment == "prod" ? 1 : 0

  name   = "featurekit-deploy"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.deploy[0].json
}
