#!/usr/bin/env bash
# Builds two local container images from Debian's busybox-static (/bin/busybox), with no registry:
#   localhost/busybox:test  - busybox rootfs, plus OpenSSH's sftp-server (and the C library it links) so that
#                             sftp and scp reach a session; Cmd ["sh"]
#   localhost/pause:test    - same layer, Entrypoint ["/bin/sleep","infinity"] (containerd's sandbox_image)
# as one docker-archive tarball (the `docker save` format, which `ctr images import` reads).
#
# Usage: make-image.sh OUT.tar
#   then: ctr --address SOCK -n k8s.io images import OUT.tar
# Needs: /bin/busybox (apt-get install busybox-static), /usr/lib/openssh/sftp-server (openssh-sftp-server), tar,
# sha256sum, ldd.
set -euo pipefail
out=${1:?usage: make-image.sh OUT.tar}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "make-image.sh: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/rootfs
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,var/run}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
# sftp-server with the shared objects ldd names, at the same paths.
sftp=/usr/lib/openssh/sftp-server
[ -x "$sftp" ] || { echo "make-image.sh: $sftp missing (apt-get install openssh-sftp-server)" >&2; exit 1; }
for file in "$sftp" $(ldd "$sftp" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$file")"
  cp -L "$file" "$root$file"
done
# uid 1000 has a name: sftp-server looks its user up.
printf 'root:x:0:0:root:/root:/bin/sh\nsession:x:1000:1000:session:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nsession:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"

# Reproducible layer: fixed owner and mtime, sorted names.
mkdir -p "$tmp/img"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$tmp/layer.tar" .
layer=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
mkdir -p "$tmp/img/$layer"
mv "$tmp/layer.tar" "$tmp/img/$layer/layer.tar"

config() { # $1 = the "config" object
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$1" "$layer"
}
env='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
config "{$env,\"Cmd\":[\"sh\"]}" >"$tmp/busybox.json"
config "{$env,\"Entrypoint\":[\"/bin/sleep\",\"infinity\"]}" >"$tmp/pause.json"
bb=$(sha256sum "$tmp/busybox.json" | cut -d' ' -f1)
pa=$(sha256sum "$tmp/pause.json" | cut -d' ' -f1)
mv "$tmp/busybox.json" "$tmp/img/$bb.json"
mv "$tmp/pause.json" "$tmp/img/$pa.json"
printf '[{"Config":"%s.json","RepoTags":["localhost/busybox:test"],"Layers":["%s/layer.tar"]},{"Config":"%s.json","RepoTags":["localhost/pause:test"],"Layers":["%s/layer.tar"]}]\n' \
  "$bb" "$layer" "$pa" "$layer" >"$tmp/img/manifest.json"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$tmp/img" -cf "$out" .
echo "$out"
