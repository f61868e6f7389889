# Remote state: S3 backend with S3-native locking (Terraform >= 1.10, `use_lockfile`).
#
# Partial configuration, so the state location is not hard-coded here. Initialise with
#   terraform init -backend-config=backend.hcl
# where backend.hcl is a copy of backend.hcl.example filled in for your account.
#
# The state contains the generated Redis password (online_store module), so the state bucket must be:
# versioned, SSE-KMS encrypted, public access blocked, TLS-only, and readable only by the people and the
# CI role that run Terraform for this environment. Keep prod and the other environment in separate state
# keys (ideally separate accounts). If your Terraform predates use_lockfile, set `dynamodb_table` instead.
terraform {
  backend "s3" {}
}
