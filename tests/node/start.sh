#!/usr/bin/env bash
# Starts a real Kubernetes node (containerd 1.6 + kubelet v1.34) against a test kube-apiserver, as background
# processes whose state lives under WORKDIR, and waits until the Node is Ready.
#
# Usage: start.sh APISERVER_URL ADMIN_KUBECONFIG WORKDIR [NODE_NAME]
#   NODE_NAME defaults to 127.0.0.1. The node name doubles as the kubelet's address: kubelet refuses a loopback
#   --node-ip, but takes an IP given as --hostname-override as the node's InternalIP without that check, so the
#   apiserver reaches the kubelet (exec/attach/logs) on loopback with no extra apiserver flag. Use 127.0.0.2 etc.
#   for a second node.
# Prints "containerd=PID kubelet=PID" on stdout, logs to WORKDIR/{containerd,kubelet}.log.
# Stop with stop.sh WORKDIR. Pods have no scheduler: set spec.nodeName to NODE_NAME.
#
# Needs root, and: apt-get install containerd runc containernetworking-plugins busybox-static iptables
# env: K8S_BIN (kubelet + kubectl), IMAGES (tarball from make-image.sh; built when missing),
#      POD_SUBNET (default 10.88.0.0/24), BRIDGE (default tg-cni0), CNI_BIN (default /usr/lib/cni)
#      PARENT_PID: if set, a watcher runs stop.sh when that process exits.
set -euo pipefail
url=${1:?usage: start.sh APISERVER_URL ADMIN_KUBECONFIG WORKDIR [NODE_NAME]}
admin=${2:?admin kubeconfig}
w=${3:?work dir}
node=${4:-127.0.0.1}
here=$(cd "$(dirname "$0")" && pwd)
bin=${K8S_BIN:-/root/.cache/tollgate/k8s-v1.34.4/bin}
subnet=${POD_SUBNET:-10.88.0.0/24}
bridge=${BRIDGE:-tg-cni0}
cni_bin=${CNI_BIN:-/usr/lib/cni}
start=$(date +%s.%N)

mkdir -p "$w"
w=$(cd "$w" && pwd)
mkdir -p "$w"/{containerd/root,containerd/state,containerd/opt,cni/net.d,cni/ipam,kubelet}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Kernel settings kubelet changes on start (kernel.panic=10, panic_on_oops=1, vm.overcommit_memory=1):
# remembered so stop.sh can put them back.
sysctl -n vm.overcommit_memory kernel.panic kernel.panic_on_oops >"$w/sysctl.saved"
# Bridged pod traffic and forwarding (a no-op when already set).
sysctl -qw net.ipv4.ip_forward=1 || true

sock=$w/containerd/containerd.sock
cat >"$w/containerd/config.toml" <<EOF
version = 2
root = "$w/containerd/root"
state = "$w/containerd/state"
plugin_dir = ""
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$w/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:test"
  disable_apparmor = true
  # No CAP_SYS_RESOURCE here: runc cannot lower oom_score_adj (kubelet asks -998 for sandboxes).
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$w/containerd/runc"
        BinaryName = "${RUNC:-runc}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$cni_bin"
    conf_dir = "$w/cni/net.d"
    max_conf_num = 1
EOF
cat >"$w/cni/net.d/10-tollgate.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "tollgate",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$subnet"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$w/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

setsid containerd --config "$w/containerd/config.toml" >"$w/containerd.log" 2>&1 </dev/null &
echo $! >"$w/containerd.pid"
for _ in $(seq 300); do
  ctr --address "$sock" version >/dev/null 2>&1 && break
  kill -0 "$(cat "$w/containerd.pid")" 2>/dev/null || { echo "containerd exited:" >&2; tail -20 "$w/containerd.log" >&2; exit 1; }
  sleep 0.1
done

images=${IMAGES:-$w/images.tar}
[ -f "$images" ] || "$here/make-image.sh" "$images" >/dev/null
ctr --address "$sock" -n k8s.io images import --no-unpack "$images" >/dev/null

kport=$(free_port)
hport=$(free_port)
"$bin/kubectl" --kubeconfig "$admin" config view --raw --minify --flatten >"$w/kubelet.kubeconfig"
"$bin/kubectl" --kubeconfig "$w/kubelet.kubeconfig" config set-cluster "$("$bin/kubectl" --kubeconfig "$w/kubelet.kubeconfig" config view -o jsonpath='{.clusters[0].name}')" --server "$url" >/dev/null

cat >"$w/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node
port: $kport
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $hport
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://$sock
imageServiceEndpoint: unix://$sock
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
evictionHard:
  memory.available: "1%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
resolvConf: /etc/resolv.conf
podLogsDir: $w/pod-logs
EOF

setsid "$bin/kubelet" --config "$w/kubelet.yaml" --kubeconfig "$w/kubelet.kubeconfig" --root-dir "$w/kubelet" \
  --cert-dir "$w/kubelet/pki" --hostname-override "$node" --v=2 >"$w/kubelet.log" 2>&1 </dev/null &
echo $! >"$w/kubelet.pid"
echo "$node" >"$w/node-name"
echo "$bridge" >"$w/bridge-name"
echo "containerd=$(cat "$w/containerd.pid") kubelet=$(cat "$w/kubelet.pid")"

if [ -n "${PARENT_PID:-}" ]; then
  # Gone, or a zombie nobody reaps (this machine's PID 1 does not reap orphans).
  setsid bash -c 'while [ -e "/proc/$1" ] && ! grep -q "^[0-9]* (.*) Z" "/proc/$1/stat" 2>/dev/null; do sleep 1; done; exec "$2" "$3"' watcher "$PARENT_PID" "$here/stop.sh" "$w" \
    >"$w/watcher.log" 2>&1 </dev/null &
  echo $! >"$w/watcher.pid"
fi

for _ in $(seq 1200); do
  ready=$("$bin/kubectl" --kubeconfig "$admin" get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [ "$ready" = True ] && break
  kill -0 "$(cat "$w/kubelet.pid")" 2>/dev/null || { echo "kubelet exited:" >&2; tail -30 "$w/kubelet.log" >&2; exit 1; }
  sleep 0.1
done
[ "$ready" = True ] || { echo "node $node not Ready in 120 s" >&2; tail -30 "$w/kubelet.log" >&2; exit 1; }
# No node-lifecycle controller runs in the test control plane, so the not-ready taint set at registration stays.
"$bin/kubectl" --kubeconfig "$admin" taint node "$node" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
echo "node $node Ready after $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s" >&2
