#!/usr/bin/env bash
# Check with curl what taxii2client does not exercise: the Content-Type of every response
# (errors included), content negotiation, and hostile requests.
#
# Start Cairn on a fresh store first, for example:
#   node --import tsx src/cli/main.ts --store sqlite:/tmp/interop/cairn.db serve --port 0
# then pass the URL and the admin token it prints on stderr:
#   CAIRN_URL=http://127.0.0.1:PORT CAIRN_TOKEN=cairn_... bash interop/curl_checks.sh
# The script adds a few objects to the "default" collection. It prints one PASS, FAIL or
# KNOWN line per check and exits with status 1 if any check failed.
set -u

URL=${CAIRN_URL:?set CAIRN_URL to the server URL, e.g. http://127.0.0.1:8470}
TOKEN=${CAIRN_TOKEN:?set CAIRN_TOKEN to an admin API token}
TAXII='application/taxii+json;version=2.1'
COLLECTION=/default/collections/default
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
AUTH=(-H "Authorization: Bearer $TOKEN")
ACCEPT=(-H "Accept: $TAXII")
CONTENT=(-H "Content-Type: $TAXII")
passed=0
failed=0
known=0

# request METHOD PATH [curl options...]: sends one request and sets $status, $type, $body.
request() {
  local method=$1 path=$2
  shift 2
  rm -f "$WORK/body" "$WORK/head"
  status=$(curl -s -g -X "$method" -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' \
    "$@" "$URL$path")
  type=$(grep -i '^content-type:' "$WORK/head" | tr -d '\r' | cut -d' ' -f2-)
  body=$(cat "$WORK/body" 2>/dev/null)
}

# expect NAME STATUS [KNOWN-BUG]: checks the status and Content-Type of the last response.
expect() {
  local name=$1 want=$2 bug=${3:-}
  if [ "$status" = "$want" ] && [ "$type" = "$TAXII" ]; then
    passed=$((passed + 1))
    echo "  PASS  $name: $status"
  elif [ -n "$bug" ]; then
    known=$((known + 1))
    echo "  KNOWN $name: got $status with Content-Type '${type}' (known bug: $bug)"
  else
    failed=$((failed + 1))
    echo "  FAIL  $name: got $status with Content-Type '${type}', expected $want and $TAXII"
  fi
}

new_indicator() {
  local id
  id=$(python3 -c 'import uuid; print(uuid.uuid4())')
  printf '{"type":"indicator","spec_version":"2.1","id":"indicator--%s",' "$id"
  printf '"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",'
  printf '"pattern":"[ipv4-addr:value = '"'"'198.51.100.9'"'"']","pattern_type":"stix",'
  printf '"valid_from":"2024-01-01T00:00:00Z"%s}' "${1:-}"
}

echo "== Every endpoint"
INDICATOR=$(new_indicator)
ID=$(printf '%s' "$INDICATOR" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" "${CONTENT[@]}" \
  --data-binary "{\"objects\":[$INDICATOR]}"
expect "POST objects" 202
STATUS_ID=$(printf '%s' "$body" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
for path in /taxii2/ /default/ /default/collections/ "$COLLECTION/" "$COLLECTION/manifest/" \
  "$COLLECTION/objects/" "$COLLECTION/objects/$ID/" "$COLLECTION/objects/$ID/versions/" \
  "/default/status/$STATUS_ID/"; do
  request GET "$path" "${AUTH[@]}" "${ACCEPT[@]}"
  expect "GET $path" 200
done
request HEAD /taxii2/ "${AUTH[@]}" "${ACCEPT[@]}" -I
expect "HEAD /taxii2/" 200

echo "== Content negotiation (TAXII 2.1 sections 1.6.8 and 3.1)"
for case in "application/taxii+json|200" "application/taxii+json; version=2.1|200" \
  "application/taxii+json;version=2.0|406" "text/html|406" \
  "application/taxii+json;version=2.1;q=0|406" "text/html, application/taxii+json;q=0.1|200" \
  "application/json|200" "*/*|200"; do
  request GET /default/ "${AUTH[@]}" -H "Accept: ${case%|*}"
  expect "Accept: ${case%|*}" "${case#*|}"
done
request GET /default/ "${AUTH[@]}" -H "Accept:"
expect "no Accept header (lenient mode)" 200
request GET /default/ "${AUTH[@]}" "${ACCEPT[@]}" -H "User-Agent:"
expect "no User-Agent header" 200

echo "== Errors"
request GET /taxii2/ "${ACCEPT[@]}"
expect "no credentials" 401
grep -qi '^www-authenticate: Basic realm=.*Bearer realm=' "$WORK/head" &&
  { passed=$((passed + 1)); echo "  PASS  401 challenges name Basic and Bearer"; } ||
  { failed=$((failed + 1)); echo "  FAIL  401 challenges name Basic and Bearer"; }
for header in "Basic !!!" "Bearer" "Digest abc" "Token $TOKEN"; do
  request GET /taxii2/ "${ACCEPT[@]}" -H "Authorization: $header"
  expect "Authorization: ${header%% *} (malformed or unsupported)" 401
done
request GET /nope/ "${AUTH[@]}" "${ACCEPT[@]}"
expect "unknown API root" 404
request GET /default/collections/nope/ "${AUTH[@]}" "${ACCEPT[@]}"
expect "unknown collection" 404
request GET "$COLLECTION/objects/nope/" "${AUTH[@]}" "${ACCEPT[@]}"
expect "object id that is not a STIX id" 400
request GET "$COLLECTION/objects/indicator--00000000-0000-4000-8000-000000000000/" \
  "${AUTH[@]}" "${ACCEPT[@]}"
expect "unknown object" 404
request GET /default/status/nope/ "${AUTH[@]}" "${ACCEPT[@]}"
expect "unknown status" 404
request GET /default/foo/bar/baz/qux/ "${AUTH[@]}" "${ACCEPT[@]}"
expect "unknown path" 404
request PUT "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}"
expect "PUT objects" 405
request DELETE "$COLLECTION/" "${AUTH[@]}" "${ACCEPT[@]}"
expect "DELETE a collection" 405

echo "== POST bodies"
GOOD="{\"objects\":[$(new_indicator)]}"
for case in "text/plain|415" "|415" "application/taxii+json;version=2.0|415" \
  "application/taxii+json|202" "application/json; charset=utf-8|202"; do
  request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" \
    -H "Content-Type: ${case%|*}" --data-binary "$GOOD"
  expect "Content-Type: '${case%|*}'" "${case#*|}"
done
for case in '[]|422' '{"objects":[]}|422' '{"objects":{}}|422' '|400' '{"objects":[|400' \
  '{"__proto__":{"objects":[1]},"objects":[]}|422'; do
  request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" "${CONTENT[@]}" \
    --data-binary "${case%|*}"
  expect "body '${case%|*}'" "${case#*|}"
done
printf '{"objects":[%s]}' "$(new_indicator)" | sed 's/198\.51/\xc3\x28.51/' >"$WORK/utf8.json"
request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" "${CONTENT[@]}" \
  --data-binary "@$WORK/utf8.json"
expect "invalid UTF-8" 400
python3 -c 'print("{\"objects\":[" + "[" * 100000 + "]" * 100000 + "]}")' >"$WORK/deep.json"
request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" "${CONTENT[@]}" \
  --data-binary "@$WORK/deep.json"
expect "100000 nested arrays fail as one object" 202

LIMIT=$(curl -s "${AUTH[@]}" "${ACCEPT[@]}" "$URL/default/" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["max_content_length"])')
INDICATOR=$(new_indicator ',"description":"@"')
python3 - "$INDICATOR" "$LIMIT" "$WORK" <<'PYTHON'
import sys
indicator, limit, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
envelope = '{"objects":[' + indicator + "]}"
padding = limit - len(envelope) + 1
open(f"{work}/exact.json", "w").write(envelope.replace("@", "y" * padding))
open(f"{work}/over.json", "w").write(envelope.replace("@", "y" * (padding + 1)))
PYTHON
request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" "${CONTENT[@]}" \
  --data-binary "@$WORK/exact.json"
expect "body of exactly max_content_length octets" 202
request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" "${CONTENT[@]}" \
  --data-binary "@$WORK/over.json"
expect "body one octet over max_content_length" 413
request POST "$COLLECTION/objects/" "${AUTH[@]}" "${ACCEPT[@]}" "${CONTENT[@]}" \
  -H "Transfer-Encoding: chunked" --data-binary "@$WORK/over.json"
expect "chunked body over max_content_length" 413

echo "== Query parameters (TAXII 2.1 section 3.4: malformed is 400)"
for query in limit=0 limit=-1 limit=abc limit=1.5 limit=1e3 'limit=1&limit=2' \
  added_after=not-a-timestamp added_after=2024-13-01T00:00:00Z \
  added_after=2024-02-30T00:00:00Z 'added_after=2024-01-01T00:00:00%2B01:00' \
  'added_after=2024-01-01T00:00:00Z&added_after=2024-01-02T00:00:00Z' \
  'match[type]=indicator&match[type]=malware' "match[type]=indicator'%20OR%201=1--" \
  'match[type]=' 'match[type]=indicator,' 'match[type]=%00' 'match[id]=indicator--../../x' \
  'match[version]=' 'match[version]=all,first' 'match[version]=first,first' \
  'match[version]=2024-01-01T00:00:00' 'match[spec_version]=2' next= next=abc \
  next=zzzzzzzzzzzz.AAAAAAAAAAAAAAAAAAAAAA; do
  request GET "$COLLECTION/objects/?$query" "${AUTH[@]}" "${ACCEPT[@]}"
  expect "?$query" 400
done
for query in 'match[type]=x-unknown-type' 'match[foo]=bar' \
  'added_after=9999-12-31T23:59:59.999999Z'; do
  request GET "$COLLECTION/objects/?$query" "${AUTH[@]}" "${ACCEPT[@]}"
  expect "?$query" 200
done

echo "== Requests Node.js rejects before Cairn sees them"
LONG=$(head -c 20000 /dev/zero | tr '\0' a)
request GET /taxii2/ "${ACCEPT[@]}" -H "Authorization: Bearer $LONG"
expect "20000-octet Authorization header" 431 "Node.js sends it without a TAXII Content-Type"
request GET "$COLLECTION/objects/?match[type]=$LONG" "${AUTH[@]}" "${ACCEPT[@]}"
expect "20000-octet query string" 431 "Node.js sends it without a TAXII Content-Type"

echo
echo "$passed passed, $failed failed, $known failed on known bugs"
[ "$failed" -eq 0 ]
