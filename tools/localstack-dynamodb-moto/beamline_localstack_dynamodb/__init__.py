"""LocalStack provider plugin: DynamoDB served by moto inside LocalStack (see provider.py)."""
