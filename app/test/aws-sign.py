"""Signs a request with botocore and prints the body keystonemiddleware would post for it.

    /usr/bin/python3 aws-sign.py MODE ACCESS SECRET [HOST]

MODE:
  ec2-v4        POST form request, SigV4Auth in the Authorization header -> /v3/ec2tokens body
  ec2-v4-query  GET presigned with SigV4QueryAuth (X-Amz-* query parameters) -> /v3/ec2tokens body
  ec2-v2        GET with SigV2Auth (Signature, SignatureVersion=2 parameters) -> /v3/ec2tokens body
  s3-v1         GET an object, HmacV1Auth (AWS ACCESS:SIGNATURE) -> /v3/s3tokens body
  s3-v4         GET an object, S3SigV4Auth -> /v3/s3tokens body

The ec2 bodies are keystonemiddleware.ec2_token's credentials structure (access, signature,
host, verb, path, params, headers as webob names them, body_hash); the s3 bodies are
keystonemiddleware.s3_token's (access, token: the string to sign, base64url, signature).
Prints one JSON object on stdout.
"""
import base64
import hashlib
import json
import sys
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import HmacV1Auth, S3SigV4Auth, SigV2Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = 'RegionOne'


def webob_headers(request, host):
    """The request's headers as the receiving service's webob sees them (Title-Case names)."""
    headers = {'Host': host}
    for name, value in request.headers.items():
        headers['-'.join(p.capitalize() for p in name.split('-'))] = value
    return headers


def ec2_body(request, signature, params, body):
    split = urlsplit(request.url)
    return {
        'ec2Credentials': {
            'access': ACCESS,
            'signature': signature,
            'host': split.netloc,
            'verb': request.method,
            'path': split.path or '/',
            'params': params,
            'headers': webob_headers(request, split.netloc),
            'body_hash': hashlib.sha256(body).hexdigest(),
        }
    }


def ec2_v4(host):
    body = b'Action=DescribeRegions&Version=2016-11-15'
    request = AWSRequest(
        method='POST',
        url=f'http://{host}/',
        data=body,
        headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'},
    )
    SigV4Auth(CREDENTIALS, 'ec2', REGION).add_auth(request)
    signature = request.headers['Authorization'].partition('Signature=')[2].split(',')[0]
    # ec2_token sends no parameters with an Authorization header.
    return ec2_body(request, signature, {}, body)


def ec2_v4_query(host):
    request = AWSRequest(method='GET', url=f'http://{host}/?Action=DescribeRegions&Version=2016-11-15')
    SigV4QueryAuth(CREDENTIALS, 'ec2', REGION, expires=300).add_auth(request)
    params = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    signature = params.pop('X-Amz-Signature')
    return ec2_body(request, signature, params, b'')


def ec2_v2(host):
    request = AWSRequest(
        method='GET',
        url=f'http://{host}/',
        params={'Action': 'DescribeRegions', 'Version': '2016-11-15', 'Filter.1.Name': 'a b/c~d'},
    )
    SigV2Auth(CREDENTIALS).add_auth(request)
    params = dict(request.params)
    signature = params.pop('Signature')
    return ec2_body(request, signature, params, b'')


def s3_body(string_to_sign, signature):
    token = base64.urlsafe_b64encode(string_to_sign.encode('utf-8')).decode('ascii')
    return {'credentials': {'access': ACCESS, 'token': token, 'signature': signature}}


def s3_v1(host):
    request = AWSRequest(method='GET', url=f'http://{host}/bucket/object.txt', headers={'X-Amz-Meta-A': 'b'})
    auth = HmacV1Auth(CREDENTIALS)
    split = urlsplit(request.url)
    string_to_sign = auth.canonical_string(request.method, split, request.headers)
    return s3_body(string_to_sign, auth.sign_string(string_to_sign))


def s3_v4(host):
    request = AWSRequest(method='GET', url=f'http://{host}/bucket/object.txt')
    request.context['payload_signing_enabled'] = True
    auth = S3SigV4Auth(CREDENTIALS, 's3', REGION)
    auth.add_auth(request)
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    return s3_body(string_to_sign, auth.signature(string_to_sign, request))


MODES = {'ec2-v4': ec2_v4, 'ec2-v4-query': ec2_v4_query, 'ec2-v2': ec2_v2, 's3-v1': s3_v1, 's3-v4': s3_v4}

if __name__ == '__main__':
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in MODES:
        sys.exit(__doc__)
    ACCESS, SECRET = sys.argv[2], sys.argv[3]
    CREDENTIALS = Credentials(ACCESS, SECRET)
    print(json.dumps(MODES[sys.argv[1]](sys.argv[4] if len(sys.argv) == 5 else '127.0.0.1:8773')))
