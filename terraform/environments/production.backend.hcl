bucket         = "jackpot-stream-terraform-state-production"
key            = "jackpot-stream/production.tfstate"
region         = "eu-west-1"
dynamodb_table = "jackpot-stream-terraform-locks"
encrypt        = true
