# Remote state: S3 backend with S3-native locking (Terraform >= 1.10, `use_lockfile`).
#
# One root for every environment; each environment has its own state key. Partial configuration, so the state
# location is not hard-coded here. Initialise for one environment with
#   terraform init -reconfigure -backend-config=backend.hcl
# where backend.hcl is a copy of backend-<env>.hcl.example filled in for your account.
#
# The state contains the generated Redis password (online_store module), so the state bucket must be:
# versioned, SSE-KMS encrypted, public access blocked, TLS-only, and readable only by the people and the
# CI role that run Terraform for this environment. Keep dev and prod in separate state keys (ideally separate
# accounts). If your Terraform predates use_lockfile, set `dynamodb_table` instead.
terraform {
  backend "s3" {}
}
