// Package etcd36 runs the raftcore benchmark against go.etcd.io/raft/v3
// v3.6.0, the last release before etcd raft moved its messages to
// protobuf structs of pointers (v3.7). It is a module of its own because
// one build holds one version of a module; a replace directive pins v3.6.0
// over the v3.7 the parent module requires.
//
//	cd bench/raftcore/etcd36 && go test -run '^$' -bench . -benchmem
package etcd36
