// Command etcd is etcd's own main (etcd's root main.go does exactly this), so that the tests can build the
// etcd server at the version Kubernetes pins from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
