"""The local AWS runtime (moto's server standing in for DynamoDB, S3, Step Functions) and the AWS
client factory every adapter uses. Nothing here starts a server or opens a connection at import."""
