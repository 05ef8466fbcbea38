#!/bin/sh
# fedimpute database backup: dump, verify, upload. Run by the
# fedimpute-backup CronJob, one step per container:
#
#   backup.sh dump     (postgres image) pg_dump of each database, custom format
#   backup.sh verify   (postgres image) restore test into a scratch server
#   backup.sh upload   (aws-cli image)  upload with checksums, read back, check
#
# Any failure fails the step, so the pod, so the Job (alert on it: the
# kube_job_status_failed metric, or `kubectl get jobs`). An empty dump, a dump
# pg_restore cannot read, a dump without the schema's migration table or its
# rows, a restore that fails, or an upload whose bytes do not read back with
# the same SHA-256 is a failed backup, never a silent one.
#
# Environment: FEDIMPUTE_<SERVICE>_DATABASE_URL for each of DATABASES,
# BACKUP_DIR (the shared emptyDir), BACKUP_S3_URI (s3://bucket/prefix),
# AWS_* for the upload.
set -eu

DATABASES="${DATABASES:-registry users jobs}"
BACKUP_DIR="${BACKUP_DIR:-/backup}"
STAMP_FILE="$BACKUP_DIR/STAMP"

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

url_of() {
  name="FEDIMPUTE_$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
  eval "value=\${$name:-}"
  [ -n "$value" ] || fail "$name is not set"
  printf '%s' "$value"
}

dump() {
  umask 077
  date -u +%Y%m%dT%H%M%SZ > "$STAMP_FILE"
  for db in $DATABASES; do
    file="$BACKUP_DIR/$db.dump"
    log "dumping $db"
    pg_dump --format=custom --compress=6 --no-owner --no-privileges \
      --dbname="$(url_of "$db")" --file="$file" \
      || fail "pg_dump of $db"
    size=$(wc -c < "$file" | tr -d ' ')
    [ "$size" -gt 0 ] || fail "$db: the dump is empty"
    pg_restore --list "$file" > "$BACKUP_DIR/$db.toc" \
      || fail "$db: pg_restore cannot read the dump"
    # A database without its schema (or a dump of the wrong database) has no
    # migration table; a schema-only dump has no TABLE DATA.
    grep -Eq "TABLE DATA public seaql_migrations_$db( |\$)" "$BACKUP_DIR/$db.toc" \
      || fail "$db: the dump holds no data of seaql_migrations_$db"
    tables=$(grep -c " TABLE public " "$BACKUP_DIR/$db.toc" || true)
    data=$(grep -c " TABLE DATA public " "$BACKUP_DIR/$db.toc" || true)
    [ "$tables" -gt 0 ] && [ "$data" -ge "$tables" ] \
      || fail "$db: $tables tables but $data table data entries"
    # Rows of the migration table right after the dump: a restore must have
    # exactly as many (the table only changes during an upgrade).
    psql --no-psqlrc --quiet --tuples-only --no-align --dbname="$(url_of "$db")" \
      --command="SELECT count(*) FROM seaql_migrations_$db" > "$BACKUP_DIR/$db.migrations" \
      || fail "$db: cannot count its migrations"
    log "$db: $size bytes, $tables tables, $(cat "$BACKUP_DIR/$db.migrations") migrations"
  done
}

verify() {
  scratch="$BACKUP_DIR/scratch"
  rm -rf "$scratch"
  mkdir -p "$scratch/data" "$scratch/sock"
  # A private server: no TCP listener, a socket in the emptyDir, trust only
  # on that socket, gone with the pod.
  initdb --pgdata="$scratch/data" --username=postgres --auth=trust \
    --encoding=UTF8 --no-instructions > "$scratch/initdb.log" 2>&1 \
    || { cat "$scratch/initdb.log" >&2; fail "initdb"; }
  pg_ctl --pgdata="$scratch/data" --log="$scratch/server.log" --wait \
    --options="-c listen_addresses='' -c unix_socket_directories=$scratch/sock -c fsync=off" start \
    || { cat "$scratch/server.log" >&2; fail "cannot start the scratch server"; }
  trap 'pg_ctl --pgdata="$scratch/data" --mode=immediate stop >/dev/null 2>&1 || true' EXIT
  for db in $DATABASES; do
    file="$BACKUP_DIR/$db.dump"
    log "restore test of $db"
    createdb --host="$scratch/sock" --username=postgres "restore_$db" || fail "createdb"
    pg_restore --host="$scratch/sock" --username=postgres --dbname="restore_$db" \
      --exit-on-error --no-owner --no-privileges "$file" \
      || fail "$db: the dump does not restore"
    q() {
      psql --no-psqlrc --quiet --tuples-only --no-align --host="$scratch/sock" \
        --username=postgres --dbname="restore_$db" --command="$1"
    }
    expected=$(cat "$BACKUP_DIR/$db.migrations")
    restored=$(q "SELECT count(*) FROM seaql_migrations_$db") || fail "$db: no migration table"
    [ "$restored" -gt 0 ] && [ "$restored" = "$expected" ] \
      || fail "$db: $restored migrations restored, $expected in the database"
    if [ "$db" = users ]; then
      accounts=$(q "SELECT count(*) FROM users") || fail "users: no users table"
      [ "$accounts" -gt 0 ] || fail "users: the restored database has no accounts"
    fi
    # Row counts of every restored table, uploaded with the dump.
    q "SELECT format('%s %s', c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname" \
      > "$BACKUP_DIR/$db.rows" || fail "$db: cannot count rows"
    log "$db restores: $(wc -l < "$BACKUP_DIR/$db.rows" | tr -d ' ') tables, $(awk '{s+=$2} END {print s+0}' "$BACKUP_DIR/$db.rows") rows"
  done
  rm -rf "$scratch"
  : > "$BACKUP_DIR/VERIFIED"
}

upload() {
  [ -f "$BACKUP_DIR/VERIFIED" ] || fail "the restore test did not pass"
  [ -n "${BACKUP_S3_URI:-}" ] || fail "BACKUP_S3_URI is not set"
  stamp=$(cat "$STAMP_FILE")
  dest="${BACKUP_S3_URI%/}/$stamp"
  for db in $DATABASES; do
    file="$BACKUP_DIR/$db.dump"
    sum=$(sha256sum "$file" | cut -d' ' -f1)
    printf '%s  %s.dump\n' "$sum" "$db" > "$BACKUP_DIR/$db.dump.sha256"
    aws s3 cp --only-show-errors "$file" "$dest/$db.dump" || fail "upload of $db.dump"
    aws s3 cp --only-show-errors "$BACKUP_DIR/$db.dump.sha256" "$dest/$db.dump.sha256" || fail "upload of $db.dump.sha256"
    aws s3 cp --only-show-errors "$BACKUP_DIR/$db.rows" "$dest/$db.rows" || fail "upload of $db.rows"
    # Read the object back: the bytes stored are the bytes verified.
    back=$(aws s3 cp --only-show-errors "$dest/$db.dump" - | sha256sum | cut -d' ' -f1) \
      || fail "cannot read $db.dump back"
    [ "$back" = "$sum" ] || fail "$db.dump reads back as $back, uploaded $sum"
    log "$db uploaded to $dest/$db.dump (sha256 $sum)"
  done
  # Written last: a backup without it is incomplete.
  printf '{"stamp":"%s","databases":"%s","verified":true}\n' "$stamp" "$DATABASES" > "$BACKUP_DIR/COMPLETE.json"
  aws s3 cp --only-show-errors "$BACKUP_DIR/COMPLETE.json" "$dest/COMPLETE.json" || fail "upload of COMPLETE.json"
  log "backup $stamp complete"
}

case "${1:-}" in
  dump) dump ;;
  verify) verify ;;
  upload) upload ;;
  *) fail "usage: backup.sh dump|verify|upload" ;;
esac
