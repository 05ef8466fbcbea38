#!/usr/bin/env bash
# Deploy or upgrade fedimpute: migrations first, then the pods.
#
#   k8s/deploy.sh dev|prod
#
# 1. everything that is not a server or a migration (namespace, config,
#    NetworkPolicies, the dev databases, the backup CronJob) is applied;
# 2. the previous migration Jobs are deleted (a Job's template is immutable)
#    and the new ones applied; the script waits for them to complete and stops
#    if any fails, before a single new pod serves;
# 3. the Deployments, Services, PDBs and HPAs are applied, and the rollout
#    waited for.
# Needs kubectl (with its built-in kustomize) and the Secrets of k8s/README.md.
set -euo pipefail

overlay="${1:?usage: k8s/deploy.sh dev|prod}"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$here/overlays/$overlay"
ns="${NAMESPACE:-fedimpute}"
timeout="${MIGRATION_TIMEOUT:-15m}"
[ -d "$dir" ] || { echo "no overlay $dir" >&2; exit 64; }

rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
kubectl kustomize "$dir" > "$rendered"

echo "== 1/3 namespace, configuration, policies, databases"
kubectl apply -f "$rendered" -l 'fedimpute.io/role notin (server,migrate)'
if kubectl -n "$ns" get statefulset -l app.kubernetes.io/name=postgres -o name | grep -q .; then
  kubectl -n "$ns" rollout status statefulset -l app.kubernetes.io/name=postgres --timeout=5m
fi

echo "== 2/3 schema migrations"
kubectl -n "$ns" delete job -l fedimpute.io/role=migrate --ignore-not-found --wait=true
kubectl apply -f "$rendered" -l fedimpute.io/role=migrate
if ! kubectl -n "$ns" wait --for=condition=complete job -l fedimpute.io/role=migrate --timeout="$timeout"; then
  echo "a migration did not complete; nothing new is serving. Its log:" >&2
  kubectl -n "$ns" logs -l fedimpute.io/role=migrate --tail=50 --prefix >&2 || true
  exit 1
fi

echo "== 3/3 servers"
kubectl apply -f "$rendered"
for d in registry users jobs gateway; do
  kubectl -n "$ns" rollout status "deployment/fedimpute-$d" --timeout=10m
done
echo "deployed $overlay"
