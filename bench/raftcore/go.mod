module github.com/flotilladb/flotilla/bench/raftcore

go 1.26.8

replace github.com/flotilladb/flotilla => ../..

require (
	github.com/flotilladb/flotilla v0.0.0-00010101000000-000000000000
	go.etcd.io/raft/v3 v3.7.0
)

require google.golang.org/protobuf v1.36.12 // indirect
