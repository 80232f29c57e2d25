#!/usr/bin/env bash
# Creates the test bed's certificates, keys and kubeconfigs under $TESTBED_DIR (pki/, conf/, kubeconfig),
# once. Idempotent: existing material is kept as long as the settings it was made for (node name and IP,
# service IP) are unchanged; otherwise the leaf certificates are reissued from the same CA.
#
# One CA (ECDSA P-256, 10 years) signs everything: serving certs for etcd, kube-apiserver and kubelet,
# client certs for the admin, controllers, kubelet and the apiserver's calls to etcd and kubelets.
# The service-account signing key is RSA 2048. A random key encrypts Secrets at rest in etcd.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

conf=$TESTBED_DIR/conf
mkdir -p "$PKI" "$conf"
chmod 700 "$TESTBED_DIR" "$PKI" "$conf"
umask 077

settings="node=$NODE_NAME ip=$NODE_IP svc=$KUBERNETES_SERVICE_IP port=$APISERVER_PORT etcd=$ETCD_PORT v=2"
if [ -f "$PKI/.settings" ] && [ "$(cat "$PKI/.settings")" = "$settings" ] && [ -s "$KUBECONFIG_ADMIN" ]; then
  exit 0
fi
log "issuing certificates for $settings"

if [ ! -s "$PKI/ca.key" ] || [ ! -s "$PKI/ca.crt" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 3650 -subj "/CN=task-api-testbed-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/ca.crt" 2>/dev/null
fi

# issue NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
issue() {
  local name=$1 subj=$2 eku=$3 san=${4:-} ext
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$ext"
  [ -s "$PKI/$name.key" ] || openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -sha256 -days 3650 \
      -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext"
}

svc_names="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
svc_names+=",DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
issue apiserver "/CN=kube-apiserver" serverAuth \
  "IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,$svc_names"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue apiserver-etcd-client "/CN=kube-apiserver-etcd-client" clientAuth
issue etcd-server "/CN=etcd" serverAuth,clientAuth "IP:127.0.0.1,DNS:localhost"
issue admin "/O=system:masters/CN=task-api-admin" clientAuth
issue kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
issue kube-scheduler "/CN=system:kube-scheduler" clientAuth
issue kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
issue kubelet-server "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"

if [ ! -s "$PKI/sa.key" ]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi

if [ ! -s "$conf/encryption-config.yaml" ]; then
  key=$(head -c 32 /dev/urandom | base64 -w0)
  cat >"$conf/encryption-config.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - name: key1
              secret: $key
      - identity: {}
EOF
fi

# kubeconfig FILE USER CERT_NAME — certificates embedded, so the file can be copied anywhere on this machine.
kubeconfig() {
  local file=$1 user=$2 cert=$3
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: task-api-testbed
    cluster:
      server: $APISERVER_URL
      certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
  - name: $user
    user:
      client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
      client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
  - name: task-api-testbed
    context: {cluster: task-api-testbed, user: $user}
current-context: task-api-testbed
EOF
  mv "$file.tmp" "$file"
}
kubeconfig "$conf/kube-controller-manager.kubeconfig" kube-controller-manager kube-controller-manager
kubeconfig "$conf/kube-scheduler.kubeconfig" kube-scheduler kube-scheduler
kubeconfig "$conf/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet-client
kubeconfig "$KUBECONFIG_ADMIN" task-api-admin admin
echo "$settings" >"$PKI/.settings"
