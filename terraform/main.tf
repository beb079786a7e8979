# AWS for jackpot-stream: MSK (TLS in transit; SASL/SCRAM for the processor,
# IAM for tooling), a node group on an existing EKS cluster, a KMS key, the
# processor's secrets, an S3 bucket for state backups and registry exports,
# the processor's IRSA role (least privilege) and its CloudWatch log group.
# docs/operations.md: how the outputs feed deploy/k8s.

locals {
  name = "jackpot-stream-${var.environment}"
}

data "aws_caller_identity" "current" {}

# ---- KMS ---------------------------------------------------------------------

resource "aws_kms_key" "jackpot" {
  description             = "${local.name}: MSK storage, secrets, backups, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "jackpot" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.jackpot.key_id
}

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
  }
}

# ---- MSK -----------------------------------------------------------------------

resource "aws_security_group" "msk" {
  name        = "${local.name}-msk"
  description = "MSK brokers of ${local.name}: TLS listeners from the VPC only"
  vpc_id      = var.vpc_id
  ingress {
    description = "SASL/SCRAM over TLS"
    from_port   = 9096
    to_port     = 9096
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
  ingress {
    description = "IAM over TLS"
    from_port   = 9098
    to_port     = 9098
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }
  egress {
    description = "replies within the VPC"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = [var.vpc_cidr]
  }
}

resource "aws_msk_configuration" "jackpot" {
  name           = local.name
  kafka_versions = [var.kafka_version]
  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=3
    min.insync.replicas=2
    unclean.leader.election.enable=false
  PROPERTIES
}

resource "aws_msk_cluster" "jackpot" {
  cluster_name           = local.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.msk_broker_count

  broker_node_group_info {
    instance_type   = var.msk_broker_instance_type
    client_subnets  = var.private_subnet_ids
    security_groups = [aws_security_group.msk.id]
    storage_info {
      ebs_storage_info {
        volume_size = var.msk_volume_gb
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.jackpot.arn
    revision = aws_msk_configuration.jackpot.latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.jackpot.arn
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = false
    sasl {
      scram = true # the processor (librdkafka SCRAM-SHA-512)
      iam   = true # operators' tooling (kafka-topics.sh with the MSK IAM plugin)
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.msk.name
      }
    }
  }
}

# ---- secrets -------------------------------------------------------------------
# Values are put by the operators (aws secretsmanager put-secret-value), never
# by terraform: no secret lands in the state file.

resource "aws_secretsmanager_secret" "pii_token_key" {
  name        = "${local.name}/pii-token-key"
  description = "HMAC-SHA256 key of the PII tokens (pii.token_key_file)"
  kms_key_id  = aws_kms_key.jackpot.arn
}

resource "aws_secretsmanager_secret" "dlq_key" {
  name        = "${local.name}/dlq-key"
  description = "AES-256-GCM key of the dead letters, 64 hex digits (dead_letters.key_file)"
  kms_key_id  = aws_kms_key.jackpot.arn
}

resource "aws_secretsmanager_secret" "admin_jwt_key" {
  name        = "${local.name}/admin-jwt-key"
  description = "HS256 key of the admin API's JWTs (http.jwt_key_file)"
  kms_key_id  = aws_kms_key.jackpot.arn
}

# MSK SCRAM secrets must be named AmazonMSK_* and use a customer managed key.
resource "aws_secretsmanager_secret" "kafka_scram" {
  name        = "AmazonMSK_${local.name}_jackpot-stream"
  description = "SCRAM user of the processor: {\"username\":\"jackpot-stream\",\"password\":\"...\"}"
  kms_key_id  = aws_kms_key.jackpot.arn
}

resource "aws_msk_scram_secret_association" "jackpot" {
  cluster_arn     = aws_msk_cluster.jackpot.arn
  secret_arn_list = [aws_secretsmanager_secret.kafka_scram.arn]
}

# ---- S3: state backups and registry exports -------------------------------------

resource "aws_s3_bucket" "backups" {
  bucket = "${local.name}-backups-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.jackpot.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.backup_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
  }
}

# ---- CloudWatch ----------------------------------------------------------------

resource "aws_cloudwatch_log_group" "processor" {
  name              = "/jackpot-stream/${var.environment}/processor"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.jackpot.arn
}

resource "aws_cloudwatch_log_group" "msk" {
  name              = "/jackpot-stream/${var.environment}/msk"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.jackpot.arn
}
