module github.com/flotilladb/flotilla/bench/raftcore/etcd36

go 1.26.8

replace (
	github.com/flotilladb/flotilla => ../../..
	// The parent module compares against the newest etcd raft (v3.7, whose
	// messages are protobuf structs of pointers); this one pins the last
	// v3.6 release, whose messages are plain values, for reference.
	go.etcd.io/raft/v3 => go.etcd.io/raft/v3 v3.6.0
)

require (
	github.com/flotilladb/flotilla v0.0.0-00010101000000-000000000000
	go.etcd.io/raft/v3 v3.7.0
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
