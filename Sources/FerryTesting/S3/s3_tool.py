"""Looks at the S3 test server with boto3, a client that is not Ferry's.

    s3_tool.py ENDPOINT create BUCKET
    s3_tool.py ENDPOINT list BUCKET          -> JSON {"objects": [{"key", "size", "sha256", "meta_sha256"}], "uploads": N}
    s3_tool.py ENDPOINT abort-all BUCKET     -> aborts every unfinished multipart upload (as an expiry would)
    s3_tool.py ENDPOINT begin BUCKET KEY     -> starts a multipart upload of KEY and forgets it (what a
                                                CreateMultipartUpload whose answer was lost leaves)
    s3_tool.py ENDPOINT versioning BUCKET    -> turns versioning on (each write of a key is kept)
    s3_tool.py ENDPOINT versions BUCKET KEY  -> JSON {"versions": N}: how many times KEY was written
    s3_tool.py ENDPOINT put BUCKET KEY TEXT  -> writes TEXT at KEY (someone else's object)
"""
import hashlib
import json
import sys

import boto3

endpoint, command, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
if command == "create":
    s3.create_bucket(Bucket=bucket)
elif command == "list":
    objects = []
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=item["Key"])
        objects.append({"key": item["Key"], "size": item["Size"],
                        "sha256": hashlib.sha256(got["Body"].read()).hexdigest(),
                        "meta_sha256": got.get("Metadata", {}).get("sha256")})
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    print(json.dumps({"objects": objects, "uploads": len(uploads)}))
elif command == "begin":
    s3.create_multipart_upload(Bucket=bucket, Key=sys.argv[4])
elif command == "abort-all":
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
elif command == "versioning":
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
elif command == "versions":
    found = s3.list_object_versions(Bucket=bucket, Prefix=sys.argv[4]).get("Versions", [])
    print(json.dumps({"versions": sum(v["Key"] == sys.argv[4] for v in found)}))
elif command == "put":
    s3.put_object(Bucket=bucket, Key=sys.argv[4], Body=sys.argv[5].encode())
else:
    sys.exit(f"s3_tool.py: unknown command {command}")
