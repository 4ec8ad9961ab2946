#!/usr/bin/env bash
# Reviewer matching measured through the product (issue 9): loads the
# reviewer-gold data as an OJS 3.4 journal into a scratch MariaDB database,
# then `ojscog eval reviewer-gold --ojs` starts a real service on it (sync,
# background embedding, the matching API over HTTP) and prints the gold loss of
# the API's expertise next to the in-memory figure, with 95 % intervals.
#
# Usage: scripts/eval-matching.sh [extra eval args, e.g. --variants or --json]
# Settings: OJSCOG_TEST_DATA (default ../shared), OJSCOG_TEST_MYSQL_URL
# (default mysql://root@127.0.0.1:3306), PROFILE (release), EVAL_DB (ojscog_eval_gold).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${OJSCOG_TEST_DATA:-$(cd .. && pwd)/shared}"
server="${OJSCOG_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
db="${EVAL_DB:-ojscog_eval_gold}"
profile="${PROFILE:-release}"
[ -f "$data/reviewer-gold/evaluations.csv" ] || { echo "reviewer-gold data not found under $data" >&2; exit 1; }
base="$data/ojs/datasets/ojs-3.4.0-4-subset.sql"
[ -f "$base" ] || { echo "OJS 3.4 dataset not found at $base" >&2; exit 1; }

. scripts/mysql-client.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ojscog/target}"
# The models first: fetch-models.sh builds its own (core) binary to install them.
bash scripts/fetch-models.sh >/dev/null
cargo build --profile "$profile" --features embeddings --bin ojscog
bin="$CARGO_TARGET_DIR/$( [ "$profile" = dev ] && echo debug || echo "$profile")/ojscog"

"${client[@]}" -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\` CHARACTER SET utf8mb4"
"${client[@]}" "$db" < "$base"
"$bin" eval reviewer-gold "$data/reviewer-gold" --ojs-sql | "${client[@]}" "$db"
"$bin" eval reviewer-gold "$data/reviewer-gold" --ojs "$server/$db" "$@"
"${client[@]}" -e "DROP DATABASE IF EXISTS \`$db\`"
