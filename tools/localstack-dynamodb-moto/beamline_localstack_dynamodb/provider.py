"""
DynamoDB for LocalStack in host mode, served by moto.

LocalStack's own DynamoDB providers forward to DynamoDB Local, a Java program that is not available
from the registries this project installs from. This plugin registers the provider `dynamodb:moto`
(select it with PROVIDER_OVERRIDE_DYNAMODB=moto): a provider that implements no operation itself, so
LocalStack's MotoFallbackDispatcher hands every DynamoDB request to moto's DynamoDB backend (moto-ext,
which LocalStack already uses for other services), inside the LocalStack process, with LocalStack's
request parsing, account and region handling in front of it.

Requests are served one at a time. LocalStack serves requests on many threads, and moto's DynamoDB
backend is not safe under that: TransactWriteItems deep-copies the table while other requests write
to it ("dictionary changed size during iteration", a 500) and, when a transaction is cancelled, puts
that copy back, erasing writes acknowledged meanwhile; a ConditionExpression is not evaluated
atomically with the write (docs/adr/0002). DynamoDB itself is linearizable per item and its
transactions are atomic, so one lock around every operation is what keeps the emulator honest.
"""

import threading

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider

_lock = threading.Lock()


class MotoDynamoDBProvider(DynamodbApi):
    """Every operation falls through (NotImplementedError) to moto."""


def _serialized(handler):
    def call(context, request):
        with _lock:
            return handler(context, request)

    return call


def _moto_dispatch_table(provider):
    from localstack.services.moto import MotoFallbackDispatcher

    return {operation: _serialized(handler) for operation, handler in MotoFallbackDispatcher(provider).items()}


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=_moto_dispatch_table)
