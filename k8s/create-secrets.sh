#!/usr/bin/env bash
# Creates the key material and Secrets fedimpute needs, once, straight into
# the cluster: nothing is written to the repository. Existing objects are
# left alone (rotation is a deliberate act: docs/operations.md).
#
#   k8s/create-secrets.sh dev     # keys, and database Secrets for the in-cluster PostgreSQL
#   k8s/create-secrets.sh prod    # keys only; the database, storage, SMTP and
#                                 # backup Secrets come from your secret store
#
# Needs kubectl and openssl (Ed25519 keys: OpenSSL 1.1.1 or newer).
set -euo pipefail

env="${1:?usage: k8s/create-secrets.sh dev|prod}"
ns="${NAMESPACE:-fedimpute}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077

exists() { kubectl -n "$ns" get "$1" "$2" >/dev/null 2>&1; }
made() { echo "created $1 $2"; }

kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns"

# Access tokens: Ed25519, the private key for users only, the public key for all.
if ! exists secret fedimpute-jwt-signing; then
  openssl genpkey -algorithm ed25519 -out "$work/jwt-signing.pem"
  openssl pkey -in "$work/jwt-signing.pem" -pubout -out "$work/jwt-1.pub"
  kubectl -n "$ns" create secret generic fedimpute-jwt-signing --from-file=jwt-signing.pem="$work/jwt-signing.pem"
  made secret fedimpute-jwt-signing
  if ! exists configmap fedimpute-jwt-public-keys; then
    kubectl -n "$ns" create configmap fedimpute-jwt-public-keys --from-file=jwt-1.pub="$work/jwt-1.pub"
    made configmap fedimpute-jwt-public-keys
  fi
fi

# Sealing key of stored secrets (AES-256, base64 of 32 random bytes).
if ! exists secret fedimpute-encryption; then
  openssl rand -base64 32 > "$work/encryption.key"
  kubectl -n "$ns" create secret generic fedimpute-encryption --from-file=encryption.key="$work/encryption.key"
  made secret fedimpute-encryption
fi

# Service identities: jobs and the gateway sign internal calls; the public
# halves go into one ConfigMap that the receivers mount.
if ! exists configmap fedimpute-service-public-keys; then
  args=()
  for c in jobs gateway; do
    openssl genpkey -algorithm ed25519 -out "$work/$c.pem"
    openssl pkey -in "$work/$c.pem" -pubout -out "$work/$c.pub"
    kubectl -n "$ns" delete secret "fedimpute-service-key-$c" --ignore-not-found >/dev/null
    kubectl -n "$ns" create secret generic "fedimpute-service-key-$c" --from-file="$c.pem=$work/$c.pem"
    made secret "fedimpute-service-key-$c"
    args+=("--from-file=$c.pub=$work/$c.pub")
  done
  kubectl -n "$ns" create configmap fedimpute-service-public-keys "${args[@]}"
  made configmap fedimpute-service-public-keys
fi

# The first admin's password (used on the first start only). Read it once:
#   kubectl -n fedimpute get secret fedimpute-admin -o jsonpath='{.data.password}' | base64 -d
if ! exists secret fedimpute-admin; then
  kubectl -n "$ns" create secret generic fedimpute-admin \
    --from-literal=password="$(openssl rand -base64 24 | tr -d '/+=' | cut -c1-24)"
  made secret fedimpute-admin
fi

if [ "$env" = dev ]; then
  for svc in registry users jobs; do
    if ! exists secret "fedimpute-$svc-db"; then
      pw="$(openssl rand -hex 24)"
      kubectl -n "$ns" create secret generic "fedimpute-$svc-db" \
        --from-literal=password="$pw" \
        --from-literal=url="postgres://$svc:$pw@postgres-$svc:5432/$svc"
      made secret "fedimpute-$svc-db"
    fi
  done
else
  for s in fedimpute-registry-db fedimpute-users-db fedimpute-jobs-db fedimpute-storage fedimpute-backup-s3; do
    exists secret "$s" || echo "still to create from your secret store: secret $s (k8s/README.md)"
  done
fi
