#!/usr/bin/env bash
# The main job: installs missing packages, builds, and runs it. Until the node (consentd) lands,
# the main job is an offline demonstration of consentctl in ./.consent-dev/demo: a brand key and
# a customer key, the customer's subject key for that brand, a signed grant printed as JSON, and
# its verification. Keys are made once and kept; each run signs a fresh grant.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release consentctl >/dev/null
ctl=build/release/tools/consentctl
demo=.consent-dev/demo
mkdir -p "$demo"
chmod 700 .consent-dev "$demo"
[ -f "$demo/brand.key" ] || $ctl keygen brand --out "$demo/brand.key" >/dev/null
[ -f "$demo/customer.key" ] || $ctl keygen customer --out "$demo/customer.key" >/dev/null
brand=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["public_key"])' "$demo/brand.key")
echo "brand public key:            $brand"
echo "customer's key for the brand: $($ctl id --key "$demo/customer.key" --controller "$brand")"
echo
echo "signed grant (marketing.email, 90 days, EU-GDPR):"
rm -f "$demo/grant.json"
$ctl grant --key "$demo/customer.key" --controller "$brand" --purpose marketing.email \
  --jurisdiction EU-GDPR --expires 90d --out "$demo/grant.json" 2>/dev/null
cat "$demo/grant.json"
echo
$ctl inspect "$demo/grant.json"
