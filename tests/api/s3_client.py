"""A real S3 client (boto3) for the export tests: creates a bucket, or prints every object
under a prefix as JSON ({key: text}).

Usage: s3_client.py ENDPOINT create BUCKET | s3_client.py ENDPOINT dump BUCKET PREFIX
"""
import json
import sys

import boto3

endpoint, command, bucket = sys.argv[1:4]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id="test",
    aws_secret_access_key="test",
    region_name="us-east-1",
)
if command == "create":
    s3.create_bucket(Bucket=bucket)
elif command == "dump":
    out = {}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=sys.argv[4])
    for page in pages:
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            out[o["Key"]] = body.decode()
    print(json.dumps(out))
else:
    sys.exit(f"unknown command {command}")
