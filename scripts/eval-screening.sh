#!/usr/bin/env bash
# The LLM sizes measured on the box's budget (issue 14): for the small (SmolLM2-135M) and medium (Gemma 3 270M)
# models, the screening report's agreement with the hand labels in benches/data/screening-labels.json — the demo
# journal and PKP's OJS 3.4.0-4 test journal (loaded into a scratch MariaDB database and synced like a real one) —
# with seconds per report and the process's peak RSS; then `ojscog bench llm` (pp512/tg128) on each.
#
# Usage: scripts/eval-screening.sh [--json]
# Settings: OJSCOG_TEST_DATA (default ../shared), OJSCOG_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306),
# PROFILE (release), OJSCOG_BIN (a built binary with the llm feature: no build), THREADS (2: a Raspberry Pi 4 has 4 cores, the service gives the LLM at most 4), EVAL_DB.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${OJSCOG_TEST_DATA:-$(cd .. && pwd)/shared}"
server="${OJSCOG_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
db="${EVAL_DB:-ojscog_eval_screening}"
profile="${PROFILE:-release}"
threads="${THREADS:-2}"
base="$data/ojs/datasets/ojs-3.4.0-4-subset.sql"
[ -f "$base" ] || { echo "OJS 3.4 dataset not found at $base" >&2; exit 1; }
labels="benches/data/screening-labels.json"

. scripts/mysql-client.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ojscog/target}"
export RUST_LOG="${RUST_LOG:-warn}"   # llama.cpp logs its loading at info
OJSCOG_BIN="${OJSCOG_BIN:-}" bash scripts/fetch-models.sh --llm medium --no-voice --no-vision >/dev/null
if [ -n "${OJSCOG_BIN:-}" ]; then
    bin="$OJSCOG_BIN"
else
    cargo build --profile "$profile" --features llm --bin ojscog
    bin="$CARGO_TARGET_DIR/$( [ "$profile" = dev ] && echo debug || echo "$profile")/ojscog"
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"; "${client[@]}" -e "DROP DATABASE IF EXISTS \`$db\`" || true' EXIT
"${client[@]}" -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\` CHARACTER SET utf8mb4"
"${client[@]}" "$db" < "$base"
export OJSCOG_DATA_DIR="$scratch/data"
OJSCOG_OJS_URL="$server/$db" "$bin" sync --once >/dev/null

for model in smollm2-135m-instruct gemma3-270m; do
    for set in demo ojs-3.4.0-4; do
        echo "## $model, $set"
        OJSCOG_LLM_MODEL="$model" "$bin" eval screening "$labels" --set "$set" --threads "$threads" "$@"
        echo
    done
    echo "## $model, speed"
    OJSCOG_LLM_MODEL="$model" "$bin" bench llm --threads "$threads" --reps 3
    echo
done
