bucket         = "jackpot-stream-terraform-state-staging"
key            = "jackpot-stream/staging.tfstate"
region         = "eu-west-1"
dynamodb_table = "jackpot-stream-terraform-locks"
encrypt        = true
