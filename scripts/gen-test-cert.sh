#!/usr/bin/env bash
# Makes the TLS test certificates in testdata/tls: a private CA and a
# certificate for localhost / 127.0.0.1 / ::1 signed by it (rustls refuses a
# CA certificate used as a server certificate, so a self-signed leaf will
# not do). Valid for 100 years: tests must not start failing on a date.
# Also the recipe for a certificate of your own: see README "TLS".
set -euo pipefail
out="${1:-$(dirname "$0")/../testdata/tls}"
mkdir -p "$out"
cd "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout ca.key -out ca.pem -days 36500 -subj "/CN=rtbench test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 36500 \
  -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n') 2>/dev/null
rm -f server.csr ca.srl ca.key
echo "wrote $out/{ca.pem,server.pem,server.key}"
