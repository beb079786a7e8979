environment              = "staging"
msk_broker_instance_type = "kafka.m7g.large"
msk_broker_count         = 3
msk_volume_gb            = 100
node_instance_types      = ["m7i.large"]
node_min                 = 1
node_max                 = 3
log_retention_days       = 30
backup_retention_days    = 7
# vpc_id, vpc_cidr, private_subnet_ids, eks_* come from the platform's outputs
