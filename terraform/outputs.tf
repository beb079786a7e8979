# Consumed by deploy/k8s (docs/operations.md, "From terraform to k8s").

output "msk_bootstrap_brokers_sasl_scram" {
  description = "kafka.bootstrap.servers of deploy/k8s/configmap.yaml (SASL/SCRAM over TLS, port 9096)."
  value       = aws_msk_cluster.jackpot.bootstrap_brokers_sasl_scram
}

output "msk_bootstrap_brokers_sasl_iam" {
  description = "Bootstrap servers for IAM-authenticated tooling (port 9098)."
  value       = aws_msk_cluster.jackpot.bootstrap_brokers_sasl_iam
}

output "processor_role_arn" {
  description = "eks.amazonaws.com/role-arn of deploy/k8s/serviceaccount.yaml."
  value       = aws_iam_role.processor.arn
}

output "secret_arns" {
  description = "Secrets Manager secrets synced into the jackpot-secrets Secret (pii-token-key, dlq-key, admin-jwt-key, kafka-password)."
  value = {
    pii_token_key = aws_secretsmanager_secret.pii_token_key.arn
    dlq_key       = aws_secretsmanager_secret.dlq_key.arn
    admin_jwt_key = aws_secretsmanager_secret.admin_jwt_key.arn
    kafka_scram   = aws_secretsmanager_secret.kafka_scram.arn
  }
}

output "backup_bucket" {
  description = "S3 bucket of state backups and registry exports (prefix: the environment)."
  value       = aws_s3_bucket.backups.bucket
}

output "kms_key_arn" {
  description = "KMS key encrypting MSK storage, secrets, backups and logs."
  value       = aws_kms_key.jackpot.arn
}

output "log_group" {
  description = "CloudWatch log group of the processor's logs (a log shipper's destination)."
  value       = aws_cloudwatch_log_group.processor.name
}
