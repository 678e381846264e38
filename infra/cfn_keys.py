"""The stage's KMS data key (tables and the signing-key secret) with its alias, and the
Secrets Manager secret that holds the JWT signing keyring (`JWT_SIGNING_KEY_SECRET_ID`)."""

from __future__ import annotations

from typing import Any

from infra.cfn_common import sub


def data_key(stage: str) -> dict[str, Any]:
    return {
        "DataKey": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": f"Deskguard {stage}: tables and signing-key secret",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            # Delegate to IAM; a key policy's Resource is always "*" (the key).
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
                            },
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                },
            },
        },
        "DataKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": f"alias/deskguard-{stage}",
                "TargetKeyId": {"Ref": "DataKey"},
            },
        },
    }


def signing_secret(name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SecretsManager::Secret",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Name": name,
            "Description": "Deskguard JWT signing keyring (Ed25519); set by the keys init command",
            "KmsKeyId": {"Ref": "DataKey"},
            # A random placeholder that is not a keyring: the functions fail closed (no token
            # is issued or accepted) until `python -m cli keys init` stores real keys.
            "GenerateSecretString": {
                "SecretStringTemplate": '{"uninitialized": true}',
                "GenerateStringKey": "placeholder",
                "PasswordLength": 32,
            },
        },
    }
