variable "environment" {
  description = "Deployment environment: staging or production (names every resource)."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "VPC the MSK cluster and the EKS node group live in."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; the only range allowed to reach the MSK brokers (and the NetworkPolicy's egress)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per availability zone (MSK needs as many as it has brokers per AZ)."
  type        = list(string)
}

variable "eks_cluster_name" {
  description = "Existing EKS cluster the processor's node group joins."
  type        = string
}

variable "eks_oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider, for IRSA."
  type        = string
}

variable "eks_oidc_provider_url" {
  description = "Issuer URL of the EKS cluster's OIDC provider without https:// (e.g. oidc.eks.eu-west-1.amazonaws.com/id/ABC)."
  type        = string
}

variable "k8s_namespace" {
  description = "Kubernetes namespace of the processor (deploy/k8s/namespace.yaml)."
  type        = string
  default     = "jackpot"
}

variable "k8s_service_account" {
  description = "Service account of the processor pods (deploy/k8s/serviceaccount.yaml)."
  type        = string
  default     = "jackpot-stream"
}

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "msk_broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
}

variable "msk_broker_count" {
  description = "Number of MSK brokers, a multiple of the number of subnets."
  type        = number
}

variable "msk_volume_gb" {
  description = "EBS volume per MSK broker, in GiB."
  type        = number
}

variable "node_instance_types" {
  description = "Instance types of the processor's EKS node group (local NVMe is not needed: state is on gp3 PVCs)."
  type        = list(string)
}

variable "node_min" {
  description = "Minimum nodes of the processor's node group."
  type        = number
}

variable "node_max" {
  description = "Maximum nodes of the processor's node group (at most one processor pod per input partition is useful)."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log group of the processor and the MSK broker logs."
  type        = number
  default     = 90
}

variable "backup_retention_days" {
  description = "Days state backups and registry exports are kept in the S3 bucket before expiry."
  type        = number
  default     = 35
}
