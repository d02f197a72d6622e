#!/usr/bin/env bash
# Builds the edge Worker into edge/build (make edge; docs/edge.md):
#   build/worker.mjs, runtime.mjs, wasm_exec.js  syumai/workers' JS glue
#   build/app.wasm                               relay/cmd/kefu-edge
#   build/static/                                Workers static assets: the
#     widget's classifier (kefu.wasm, wasm_exec.js) and files (panel.js,
#     extra.js, shared/, …) at the content-hashed URLs the relay uses,
#     served beside the Worker, not inside it
# then prints the bundle's sizes and checks them against Workers' size limit.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
# EDGE_OUT builds elsewhere (a second build to compare, say).
out=${EDGE_OUT:-edge/build}

# The glue first: workers-assets-gen empties the directory.
$GO run github.com/syumai/workers/cmd/workers-assets-gen -mode=go -o "$out"
# Kefu's own entry replaces the generated one: it can keep Go instances
# across requests (KEFU_EDGE_INSTANCES; edge/glue/worker.mjs).
cp edge/glue/worker.mjs "$out/worker.mjs"

# hash12 is web.Assets' hash: the first 12 hex digits of SHA-256.
hash12() { sha256sum "$1" | cut -c1-12; }
ldflags='-s -w'
if [ -f public/wasm/kefu.wasm ] && [ -f public/wasm/wasm_exec.js ]; then
  wh=$(hash12 public/wasm/kefu.wasm)
  xh=$(hash12 public/wasm/wasm_exec.js)
  mkdir -p "$out/static/assets/$wh/wasm" "$out/static/assets/$xh/wasm"
  cp public/wasm/kefu.wasm "$out/static/assets/$wh/wasm/kefu.wasm"
  cp public/wasm/wasm_exec.js "$out/static/assets/$xh/wasm/wasm_exec.js"
  ldflags+=" -X main.wasmURL=/assets/$wh/wasm/kefu.wasm -X main.wasmHash=$wh -X main.wasmExecURL=/assets/$xh/wasm/wasm_exec.js"
else
  echo "edge: public/wasm/kefu.wasm not built (make wasm): widgets will classify through the edge" >&2
  mkdir -p "$out/static"
fi
# The widget's files: their content hashes (web's contentHash, with each
# file's size) are worked out here, not by the Worker on every request.
# Each goes into the static assets at its hashed URL, where it is served
# before the Worker runs; the Worker embeds only the loader (served at
# /widget.js) and the catalogues, which its code reads (widget/fs_js.go),
# and redirects a request for an older hash to the current URL.
hashes=
for f in widget/*.js widget/shared/*.js widget/i18n/*.json; do
  name=${f#widget/}
  h=$(hash12 "$f")
  hashes+="${hashes:+,}$name=$h:$(wc -c < "$f")"
  mkdir -p "$out/static/assets/$h/$(dirname "$name")"
  cp "$f" "$out/static/assets/$h/$name"
done
ldflags+=" -X main.assetHashes=$hashes"
# The default intents' model, fitted here (natively) rather than by the
# Worker's first request on an empty database.
ldflags+=" -X main.defaultModel=$($GO run ./relay/cmd/kefu-edge-intents --default-model)"
# Static assets are served before the Worker runs; these headers make
# them behave like the relay's /assets/ (immutable, readable cross-site).
cat > "$out/static/_headers" <<'HEADERS'
/assets/*
  Cache-Control: public, max-age=31536000, immutable
  Access-Control-Allow-Origin: *
  Cross-Origin-Resource-Policy: cross-origin
  X-Content-Type-Options: nosniff
HEADERS

# EDGE_TEST_HOOKS=1 (make test-edge) adds the edge test's routes
# (relay/cmd/kefu-edge/hooks_on.go: which instance answered, a panic).
tags=
if [ "${EDGE_TEST_HOOKS:-0}" = 1 ]; then tags=kefuedgetest; fi
GOOS=js GOARCH=wasm $GO build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out/app.wasm" ./relay/cmd/kefu-edge

# Workers limit a Worker's size UNCOMPRESSED: 64 MiB on every plan, app.wasm
# and the JS glue together (checked 2026-12-06: the compressed limits, 3 MB
# free / 10 MB paid, were removed in September 2026, cloudflare-docs PR
# #33241, workers-sdk PR #14001). Static assets (the classifier) do not
# count. gzip and brotli are printed to compare with wrangler's own report
# (it prints gzip too); no limit applies to them any more.
limit=$((64 * 1024 * 1024))
warn=$((limit * 3 / 4))
raw=$(cat "$out"/app.wasm "$out"/*.mjs "$out"/wasm_exec.js | wc -c)
gz=$(cat "$out"/app.wasm "$out"/*.mjs "$out"/wasm_exec.js | gzip -9 | wc -c)
br=n/a
# brotli -q 11 of a 19 MB bundle is most of a minute of one core: make
# test-edge skips the figure (EDGE_BROTLI=0); make edge prints it.
if command -v brotli >/dev/null && [ "${EDGE_BROTLI:-1}" != 0 ]; then br=$(cat "$out"/app.wasm "$out"/*.mjs "$out"/wasm_exec.js | brotli -q 11 -c | wc -c); fi
mb() { awk -v b="$1" 'BEGIN { if (b == "n/a") print b; else printf "%.2f MB", b / 1e6 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
echo "edge: Worker bundle (app.wasm + JS glue): raw $(mb "$raw") ($(mib "$raw") of the 64 MiB limit, $((raw * 100 / limit)) %), gzip $(mb "$gz"), brotli $(mb "$br")"
echo "edge: Workers limit the uncompressed size to 64 MiB on every plan (checked 2026-12-06); static assets (classifier) not counted"
echo "edge: CPU is the limit that decides the plan: 10 ms per request on Workers Free, 30 s by default on Workers Paid (docs/edge.md, Limits)"
if [ "$raw" -gt "$limit" ]; then echo "edge: over the 64 MiB limit: this will not deploy" >&2; exit 1; fi
if [ "$raw" -gt "$warn" ]; then echo "edge: over 3/4 of the 64 MiB limit" >&2; fi
